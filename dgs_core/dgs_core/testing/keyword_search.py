"""The keyword half of the vector store contract: stores declaring ``"keyword"`` pass these tests.

They run on the real engine of each store (BM25 in SQLite FTS5, PostgreSQL full-text search, Qdrant
sparse vectors), so they assert what every lexical engine guarantees (which documents match, that a
document matching more query words ranks first, stemming of English plurals) and never exact scores.
"""

from __future__ import annotations

import pytest

from dgs_core.base import VectorStore, document_id
from dgs_core.filters import Condition
from dgs_core.testing.base import ContractSuite, require
from dgs_core.testing.corpus import PRODUCT, REVIEW, make_doc, random_vectors

SONGS = {
    1: "Whole Lotta Love by Led Zeppelin, a heavy blues rock song",
    2: "Enter Sandman by Metallica, thrash metal",
    3: "Quiet acoustic guitars and soft vocals",
    4: "Symphony No. 5 in C minor for a classical orchestra",
    5: "Rock and roll guitar anthem",
}
#: Queries a lexical engine's parser would choke on if user text reached it unescaped.
HOSTILE_QUERIES = ['"unbalanced', "(zeppelin", "zeppelin*", "title:zeppelin", "'; DROP TABLE songs; --",
                   "-metallica", "NEAR(love song)", "zeppelin & | ! <->", "\\", "%_%", "{}[]^~"]


class KeywordSearchContract(ContractSuite):
    """``keyword_search``: lexical matching with the engine's analyser, models and filters applied."""

    def _songs(self, store: VectorStore, model: str = PRODUCT) -> None:
        vectors = random_vectors(len(SONGS), self.dimension, seed=71)
        store.upsert([make_doc(model, pk, vectors[pk - 1], text=text) for pk, text in SONGS.items()])

    @staticmethod
    def _ids(hits) -> list[str]:
        return [h.id for h in hits]

    def test_keyword_search_finds_only_documents_with_the_words(self, store: VectorStore) -> None:
        """A rare word finds exactly the documents containing it; any of several words matches.

        Troubleshooting: OR the query's terms (an AND of every word misses most documents); never
        return documents that share no term with the query.
        """
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        self._songs(store)
        assert self._ids(store.keyword_search("zeppelin", 10)) == [document_id(PRODUCT, 1)]
        both = store.keyword_search("Metallica symphony", 10)
        assert sorted(self._ids(both)) == sorted([document_id(PRODUCT, 2), document_id(PRODUCT, 4)])
        assert store.keyword_search("xylophone", 10) == []

    def test_keyword_search_stems_and_ignores_case(self, store: VectorStore) -> None:
        """``GUITARS`` matches "guitar" and "guitars" (the engine's English analyser stems both sides).

        Troubleshooting: analyse documents and queries with the same stemming analyser.
        """
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        self._songs(store)
        hits = store.keyword_search("GUITARS", 10)
        assert sorted(self._ids(hits)) == sorted([document_id(PRODUCT, 3), document_id(PRODUCT, 5)])

    def test_keyword_search_ranks_more_matching_words_first(self, store: VectorStore) -> None:
        """The one document holding both query words outranks those holding one; scores are in [0, 1],
        best first.

        Troubleshooting: order by the engine's relevance (BM25, ``ts_rank``) and map it monotonically.
        """
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        self._songs(store)
        hits = store.keyword_search("rock guitar", 10)
        assert hits and hits[0].id == document_id(PRODUCT, 5)
        assert {document_id(PRODUCT, 1), document_id(PRODUCT, 3)} <= set(self._ids(hits))
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert hits[0].text == SONGS[5] and hits[0].model == PRODUCT and hits[0].pk == "5"

    @pytest.mark.parametrize("query", HOSTILE_QUERIES)
    def test_keyword_query_syntax_is_never_an_error(self, store: VectorStore, query: str) -> None:
        """User text with the engine's operators or quoting never raises; its words still match.

        Troubleshooting: split the query into words yourself and pass them as literals (quoted terms,
        bound parameters), never as the engine's query syntax.
        """
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        self._songs(store)
        hits = store.keyword_search(query, 10)
        if "zeppelin" in query:
            assert document_id(PRODUCT, 1) in self._ids(hits)

    def test_keyword_search_of_no_words_is_empty(self, store: VectorStore) -> None:
        """Punctuation or an empty string finds nothing and does not fail."""
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        self._songs(store)
        assert store.keyword_search("!!! ...", 10) == []
        assert store.keyword_search("", 10) == []

    def test_keyword_search_applies_models_and_filters_inside_the_engine(self, store: VectorStore) -> None:
        """With 40 documents saying "rock" and the 5 passing the filter ranked last, k=5 finds those 5.

        Troubleshooting: restrict by model and metadata in the lexical query (WHERE, payload filter) or
        keep reading ranked matches until ``k`` pass; never filter only the unfiltered top k.
        """
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        require(store.capabilities, "filters", "metadata filters pushed into the engine")
        vectors = random_vectors(50, self.dimension, seed=72)
        loud = [make_doc(PRODUCT, i, vectors[i], text="rock rock rock rock", metadata={"genre__name": "Pop"})
                for i in range(35)]
        quiet = [make_doc(PRODUCT, 100 + i, vectors[35 + i], metadata={"genre__name": "Rare"},
                          text="a long story about many things, and at the very end some rock") for i in range(5)]
        other = [make_doc(REVIEW, 200 + i, vectors[40 + i], text="rock", metadata={"genre__name": "Rare"})
                 for i in range(5)]
        store.upsert(loud + quiet + other)
        hits = store.keyword_search("rock", 5, models=[PRODUCT], filters=[Condition("genre__name", "exact", "Rare")])
        assert sorted(self._ids(hits)) == sorted(d.id for d in quiet)
        reviews = store.keyword_search("rock", 10, models=[REVIEW])
        assert sorted(self._ids(reviews)) == sorted(d.id for d in other)

    def test_keyword_index_follows_upserts_deletes_and_clear(self, store: VectorStore, reopen) -> None:
        """Replacing a text replaces its words; deleted and cleared documents stop matching; a persistent
        store keeps its keyword index across reopening.

        Troubleshooting: write the lexical index in the same operation as the vector (same transaction,
        same point, same row) so the two never disagree.
        """
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        self._songs(store)
        vector = random_vectors(1, self.dimension, seed=73)[0]
        store.upsert([make_doc(PRODUCT, 1, vector, text="Stairway to Heaven")])
        assert store.keyword_search("zeppelin", 10) == []
        assert self._ids(store.keyword_search("stairway", 10)) == [document_id(PRODUCT, 1)]
        store.delete([document_id(PRODUCT, 2)])
        assert store.keyword_search("metallica", 10) == []
        if "persistence" in store.capabilities and reopen is not None:
            store.close()
            store = reopen()
            try:
                assert self._ids(store.keyword_search("stairway", 10)) == [document_id(PRODUCT, 1)]
                store.clear()
                assert store.keyword_search("symphony", 10) == []
            finally:
                store.close()
        else:
            store.clear()
            assert store.keyword_search("symphony", 10) == []
