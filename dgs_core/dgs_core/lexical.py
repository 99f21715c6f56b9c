"""SQLite FTS5 as the keyword (BM25) leg of hybrid search for stores without a lexical engine of their own.

SQLite ships FTS5 (a full-text index ranked by BM25) in every Python build this project supports, so
stores that keep SQLite files (FAISS's metadata, a sidecar next to another engine's data) or none at all
(the memory store) get real keyword search without another dependency. Stores whose engine has one use it
instead (PostgreSQL full-text search, sparse vectors).

:class:`FTS5Table` owns two tables in a connection the caller manages (so writes share the caller's
transaction): ``<name>`` (FTS5 over the text, English Porter stemming, diacritics folded) and
``<name>_docs`` (document id, model and filter metadata, keyed by the FTS rowid) that makes deletes by
id cheap and lets :meth:`FTS5Table.search` apply ``models`` and ``filters``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from dgs_core.base import StoredDocument, VectorHit
from dgs_core.filters import Condition, matches

#: Porter stemming over Unicode words with diacritics folded ("Beyoncé" matches "beyonce").
TOKENIZER = "porter unicode61 remove_diacritics 2"
#: Longer queries keep their first terms; BM25 over hundreds of OR-ed terms helps nobody.
MAX_QUERY_TERMS = 64
_WORD = re.compile(r"\w+", re.UNICODE)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def query_terms(query: str) -> list[str]:
    """The distinct words of ``query``, lower-cased, in order: user text never reaches a query parser."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_QUERY_TERMS]


def stem(word: str) -> str:
    """A crude English stem, enough to match "songs" with "song" and "genres" with "genre"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def match_expression(query: str) -> Optional[str]:
    """An FTS5 MATCH expression for any of ``query``'s words (each quoted), or ``None`` if it has none."""
    terms = query_terms(query)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms) or None


def relevance_to_score(relevance: float) -> float:
    """Map an unbounded relevance (BM25, ``ts_rank``; >= 0) into [0, 1), keeping the order."""
    relevance = max(0.0, float(relevance))
    return relevance / (1.0 + relevance)


class FTS5Table:
    """A BM25 keyword index inside an SQLite database; every method takes the connection to use."""

    def __init__(self, name: str = "dgs_keyword") -> None:
        if not _NAME.match(name):
            raise ValueError(f"FTS5 table name {name!r} must be a plain SQL identifier.")
        self.name = name
        self.docs = f"{name}_docs"

    def create(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.name} USING fts5(text, tokenize='{TOKENIZER}')")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self.docs} (rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, "
            f"model TEXT NOT NULL, pk TEXT NOT NULL, metadata TEXT NOT NULL)"
        )

    def upsert(self, conn: sqlite3.Connection, documents: Sequence[StoredDocument]) -> None:
        """Index the text of ``documents``, replacing what their ids had."""
        self.delete(conn, [d.id for d in documents])
        for doc in documents:
            cursor = conn.execute(
                f"INSERT INTO {self.docs} (doc_id, model, pk, metadata) VALUES (?, ?, ?, ?)",
                (doc.id, doc.model, doc.pk, json.dumps(doc.metadata, default=str)),
            )
            conn.execute(f"INSERT INTO {self.name} (rowid, text) VALUES (?, ?)", (cursor.lastrowid, doc.text))

    def delete(self, conn: sqlite3.Connection, ids: Iterable[str]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = [r[0] for r in conn.execute(f"SELECT rowid FROM {self.docs} WHERE doc_id IN ({marks})", chunk)]
            if rows:
                conn.executemany(f"DELETE FROM {self.name} WHERE rowid = ?", [(r,) for r in rows])
                conn.executemany(f"DELETE FROM {self.docs} WHERE rowid = ?", [(r,) for r in rows])

    def clear(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"DELETE FROM {self.name}")
        conn.execute(f"DELETE FROM {self.docs}")

    def search(
        self,
        conn: sqlite3.Connection,
        query: str,
        k: int,
        *,
        models: Optional[Sequence[str]] = None,
        filters: Optional[Sequence[Condition]] = None,
    ) -> list[VectorHit]:
        """The ``k`` best matches by BM25 among ``models``, keeping those whose metadata pass ``filters``.

        ``text`` of a hit is the indexed text; rows are read best first and stop at ``k`` accepted ones,
        so a selective filter costs a longer read, never missing hits.
        """
        expression = match_expression(query)
        if expression is None or k <= 0:
            return []
        sql = (f"SELECT d.doc_id, d.model, d.pk, d.metadata, f.text, bm25({self.name}) AS rank "
               f"FROM {self.name} AS f JOIN {self.docs} AS d ON d.rowid = f.rowid WHERE {self.name} MATCH ?")
        params: list[Any] = [expression]
        if models:
            sql += f" AND d.model IN ({','.join('?' * len(models))})"
            params.extend(m.lower() for m in models)
        sql += " ORDER BY rank"
        if not filters:
            sql += " LIMIT ?"
            params.append(k)
        hits: list[VectorHit] = []
        for doc_id, model, pk, metadata, text, rank in conn.execute(sql, params):
            metadata = json.loads(metadata)
            if filters and not matches(metadata, filters):
                continue
            # FTS5's bm25() is negated so that ORDER BY ascending puts the best first.
            hits.append(VectorHit(doc_id, model, pk, relevance_to_score(-rank), text, metadata))
            if len(hits) >= k:
                break
        return hits
