"""The keyword half of the vector store contract: stores declaring ``"keyword"`` pass these tests.

They run on the real engine of each store (BM25 in SQLite FTS5, PostgreSQL full-text search, Qdrant
sparse vectors), so they assert what every lexical engine guarantees (which documents match, that a
document matching more query words ranks first, stemming of English plurals) and never exact scores.
"""

from __future__ import annotations

import dataclasses

import pytest

from dgs_core.base import VectorStore, document_id
from dgs_core.conf import GraphSearchConfig
from dgs_core.documents import Section
from dgs_core.filters import Condition
from dgs_core.indexing.chunking import SHOWN_FROM_KEY, SPANS_KEY, encode_spans, section_spans
from dgs_core.indexing.text import classic_text, weight_prefix
from dgs_core.searching.fusion import reciprocal_rank_fusion
from dgs_core.searching.pipeline import SearchRequest, retrieve
from dgs_core.testing.base import ContractSuite, require
from dgs_core.testing.corpus import PRODUCT, REVIEW, at_cosines, make_doc, random_vectors

SONGS = {
    1: "Whole Lotta Love by Led Zeppelin, a heavy blues rock song",
    2: "Enter Sandman by Metallica, thrash metal",
    3: "Quiet acoustic guitars and soft vocals",
    4: "Symphony No. 5 in C minor for a classical orchestra",
    5: "Rock and roll guitar anthem",
}
#: Tracks as the indexer stores them: (name, album, genre). The query "bossa nova" names the genre of 11-13
#: whole; 1 and 2 only share a word with it, and the vector leg of the test ranks them first.
TRACKS = {
    1: ("Bossa", "Os Cães Ladram Mas A Caravana Não Pára", "Hip Hop/Rap"),
    2: ("Dona (Roupa Nova)", "Vozes do MPB", "Latin"),
    3: ("Concerto for Violin in E major, RV 269: I. Allegro", "The Four Seasons", "Classical"),
    4: ("Concerto No. 2 in F major, BWV 1047: I. Allegro", "Brandenburg Concertos", "Classical"),
    5: ("Let There Be Rock", "Let There Be Rock", "Rock"),
    6: ("Rock N Roll Train", "Black Ice", "Rock"),
    11: ("Formosa", "Vinícius De Moraes - Sem Limite", "Bossa Nova"),
    12: ("Berimbau", "Vinícius De Moraes - Sem Limite", "Bossa Nova"),
    13: ("Deixa", "Vinícius De Moraes - Sem Limite", "Bossa Nova"),
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


class FieldMatchContract(ContractSuite):
    """The keyword and hybrid modes over the store's keyword leg rank first the rows holding a field value the
    query names whole (:mod:`dgs_core.searching.phrases`), reading each hit's text and section spans back."""

    def _tracks(self, store: VectorStore, query_vector) -> None:
        """The tracks with the text and spans the indexer writes; 1-6 nearer to ``query_vector`` than 11-13."""
        near = at_cosines(query_vector, [0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.2, 0.15, 0.1], seed=74)
        docs = []
        for vector, (pk, (name, album, genre)) in zip(near, TRACKS.items(), strict=True):
            sections = [Section("name", "Name", [name], 2.0), Section("album__title", "Album", [album]),
                        Section("genre__name", "Genre", [genre])]
            text, prefix = classic_text(sections), weight_prefix(sections)  # as the indexer stores a document
            spans = encode_spans(section_spans(text, sections), 0, len(text))
            metadata = {SPANS_KEY: spans, SHOWN_FROM_KEY: len(prefix)}
            docs.append(make_doc(PRODUCT, pk, vector, text=prefix + text, metadata=metadata))
        store.upsert(docs)

    def _search(self, store: VectorStore, query: str, mode: str, query_vector, **hybrid) -> list[int]:
        config = GraphSearchConfig()
        if hybrid:
            config = dataclasses.replace(config, hybrid=dataclasses.replace(config.hybrid, **hybrid))
        request = SearchRequest(query=query, k=5, models=[PRODUCT], min_score=None, config=config, embedder=None,
                                store=store, mode=mode)
        hits = retrieve(request, 5, vector=None if mode == "keyword" else query_vector, announce=False)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
        return [int(h.pk) for h in hits]

    @pytest.mark.parametrize("mode", ["keyword", "hybrid"])
    def test_rows_linked_to_a_named_value_rank_above_rows_sharing_a_word(self, store: VectorStore, mode) -> None:
        """"bossa nova" finds the three Bossa Nova tracks first, not the track titled "Bossa" nor "Dona (Roupa
        Nova)" that the vector leg puts first; the album named whole ranks its tracks above other rock.

        Troubleshooting: keyword hits must carry the stored text and metadata (the ``_spans`` key) unchanged.
        """
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        query_vector = random_vectors(1, self.dimension, seed=75)[0]
        self._tracks(store, query_vector)
        assert sorted(self._search(store, "bossa nova", mode, query_vector)[:3]) == [11, 12, 13]
        assert self._search(store, "tracks on the album Let There Be Rock", mode, query_vector)[0] == 5

    def test_an_exact_code_keeps_its_keyword_rank_in_hybrid_search(self, store: VectorStore) -> None:
        """"RV 269" inside a longer title is first in hybrid search as in keyword search, though the vector leg
        ranks two other tracks above it."""
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        query_vector = random_vectors(1, self.dimension, seed=75)[0]
        self._tracks(store, query_vector)
        assert self._search(store, "RV 269", "keyword", query_vector)[0] == 3
        assert self._search(store, "RV 269", "hybrid", query_vector)[0] == 3

    def test_without_field_matching_hybrid_is_plain_rank_fusion(self, store: VectorStore) -> None:
        """``FIELD_MATCH: False`` gives reciprocal rank fusion of the two legs, unchanged."""
        require(store.capabilities, "keyword", "lexical search for the keyword leg of hybrid search")
        query_vector = random_vectors(1, self.dimension, seed=75)[0]
        self._tracks(store, query_vector)
        vector_leg = store.search(query_vector, 50, models=[PRODUCT])
        keyword_leg = store.keyword_search("bossa nova", 50, models=[PRODUCT])
        fused = [int(h.pk) for h in reciprocal_rank_fusion([vector_leg, keyword_leg], 5)]
        assert self._search(store, "bossa nova", "hybrid", query_vector, field_match=False) == fused
