"""The keyword (BM25) leg of the chroma store: an SQLite FTS5 sidecar next to the Chroma data.

Chroma ranks lexically only on Chroma Cloud and distributed Chroma (sparse vector indexes with BM25, the
``Collection.search()`` API). Embedded Chroma and ``chroma run`` refuse both ("Sparse vector indexing is not
enabled in local", "Search is not implemented for Local Chroma"), and their ``where_document``
(``$contains``, ``$regex``) filters without ranking. So the store keeps each document's text in a
:class:`dgs_core.lexical.FTS5Table` too: one pair of tables per Chroma collection, in the SQLite file
``dgs_keyword.sqlite3`` of ``KEYWORD_PATH`` (``PATH`` by default).

Each Chroma write runs inside a sidecar transaction (:meth:`KeywordSidecar.writing`) that commits only once
the Chroma write succeeded, so the sidecar is never ahead of Chroma.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Optional

from dgs_core.base import StoredDocument, VectorHit
from dgs_core.filters import Condition
from dgs_core.lexical import FTS5Table

FILE_NAME = "dgs_keyword.sqlite3"
#: How long a write waits for another process's write (which holds the lock while Chroma stores a batch).
BUSY_TIMEOUT_SECONDS = 120.0


def table_name(collection: str) -> str:
    """The SQL identifier of ``collection``'s tables: readable, made unique by a hash of the whole name
    (Chroma names may hold '.' and '-', which identifiers may not, and run to 512 characters)."""
    readable = re.sub(r"[^A-Za-z0-9]", "_", collection)[:32]
    return f"dgs_keyword_{readable}_{hashlib.sha256(collection.encode()).hexdigest()[:12]}"


class KeywordWrites:
    """The sidecar side of one Chroma write, applied in the transaction of :meth:`KeywordSidecar.writing`."""

    def __init__(self, conn: sqlite3.Connection, table: FTS5Table) -> None:
        self.conn, self.table = conn, table

    def upsert(self, documents: Sequence[StoredDocument]) -> None:
        self.table.upsert(self.conn, documents)

    def delete(self, ids: Sequence[str]) -> None:
        self.table.delete(self.conn, ids)

    def clear(self, models: Optional[Sequence[str]] = None) -> None:
        """Remove every document, or those of ``models`` (lower-case labels)."""
        if not models:
            self.table.clear(self.conn)
            return
        marks = ",".join("?" * len(models))
        rows = self.conn.execute(f"SELECT doc_id FROM {self.table.docs} WHERE model IN ({marks})", list(models))
        self.table.delete(self.conn, [doc_id for (doc_id,) in rows])

    def drop(self) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {self.table.name}")
        self.conn.execute(f"DROP TABLE IF EXISTS {self.table.docs}")


class KeywordSidecar:
    """The BM25 index of one Chroma collection, in ``<directory>/dgs_keyword.sqlite3``.

    Connections are opened per call, so one instance is safe to share between threads and every call sees
    what other processes committed.
    """

    def __init__(self, directory: str, collection: str) -> None:
        self.directory = directory
        self.file = os.path.join(directory, FILE_NAME)
        self.table = FTS5Table(table_name(collection))

    def _connect(self) -> sqlite3.Connection:
        os.makedirs(self.directory, exist_ok=True)
        # isolation_level=None: no implicit transactions; writing() begins its own.
        return sqlite3.connect(self.file, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)

    @contextmanager
    def writing(self) -> Iterator[KeywordWrites]:
        """A sidecar transaction around a Chroma write: committed when the block succeeds, rolled back when
        it raises (a failed Chroma write leaves the sidecar as it was).

        ``BEGIN IMMEDIATE`` takes SQLite's write lock before the block, so writers (threads and processes)
        apply their Chroma and sidecar writes in the same order. Readers are not blocked meanwhile: the
        block writes Chroma first and the sidecar last, and SQLite locks them out only while it commits.
        """
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self.table.create(conn)
                yield KeywordWrites(conn, self.table)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def search(self, query: str, k: int, *, models: Optional[Sequence[str]] = None,
               filters: Optional[Sequence[Condition]] = None) -> Optional[list[VectorHit]]:
        """The ``k`` best documents for ``query`` by BM25; ``None`` when nothing was ever written here."""
        with closing(self._connect()) as conn:
            conn.execute("BEGIN")  # one snapshot: a drop() by another process cannot land between the two reads
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (self.table.name,)).fetchone()
            hits = self.table.search(conn, query, k, models=models, filters=filters) if exists else None
            conn.execute("COMMIT")
            return hits

    def documents(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str, dict]]:
        """``(model, pk, text, metadata)`` of each of ``ids`` the keyword index holds, in one read.

        Vector search reads its hits' text and metadata here rather than from Chroma, which keeps metadata as
        one SQLite row per key (dozens per document with the derived filter keys of :mod:`dgs_chroma.metadata`)
        and takes 20 ms to return 50 documents' metadata on Chinook where the ids alone take 1 ms.
        """
        if not ids:
            return {}
        found: dict[str, tuple[str, str, str, dict]] = {}
        with closing(self._connect()) as conn:
            conn.execute("BEGIN")  # one snapshot for every chunk
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (self.table.docs,)).fetchone():
                conn.execute("COMMIT")
                return found
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT d.doc_id, d.model, d.pk, f.text, d.metadata FROM {self.table.docs} AS d "
                    f"JOIN {self.table.name} AS f ON f.rowid = d.rowid WHERE d.doc_id IN ({marks})",
                    chunk,
                )
                found.update((doc_id, (model, pk, text, json.loads(metadata)))
                             for doc_id, model, pk, text, metadata in rows)
            conn.execute("COMMIT")
        return found
