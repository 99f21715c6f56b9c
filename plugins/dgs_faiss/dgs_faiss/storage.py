"""The files behind the faiss store: SQLite for the documents, an append-only float32 file for the vectors.

Layout of one collection's directory (``PATH`` itself for the default collection, ``PATH/collections/<name>``
for the others)::

    documents.sqlite3       one row per document (id, model, pk, text, content hash, metadata as JSON) with
                            the slot of its vector, the keyword index of the texts (FTS5, BM25), the store
                            state (generation, epoch, dimension) and the embedder record
    vectors-<epoch>.f32     raw little-endian float32 rows; row n holds the vector of slot n
    lock                    flock()ed by the one process writing at a time

A write appends its vectors and fsyncs them *before* the SQLite transaction that references them commits,
so a crash leaves at worst unreferenced bytes at the end of the vectors file, which the next write
truncates. Replacing or deleting a document only marks its slot dead; compaction copies the live rows to
``vectors-<epoch+1>.f32`` and switches to it in one SQLite commit. Nothing is ever pickled.

The keyword index is an FTS5 table whose rows are keyed by slot and whose content is the ``text`` column of
``documents`` (an external-content table: the text is stored once). Every :class:`Transaction` method that
changes documents changes the index in the same SQLite transaction, so the two never disagree, crash or not.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from dgs_core.base import StoredDocument
from dgs_core.exceptions import CollectionDamaged, EmbedderMismatchError
from dgs_core.lexical import TOKENIZER
from dgs_faiss.filtering import decode

try:
    import fcntl
except ImportError:  # Windows: SQLite's own writer lock (BEGIN IMMEDIATE) still serialises writers.
    fcntl = None

DATABASE = "documents.sqlite3"
VECTORS = re.compile(r"^vectors-(\d+)\.f32$")
#: Ids per ``IN (...)`` query, well under SQLite's bound-parameter limit.
CHUNK = 500
#: Rows per read of the vectors file when loading or compacting (16 MB at 384 dimensions).
BLOCK = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    slot INTEGER NOT NULL,
    model TEXT NOT NULL,
    pk TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_slot ON documents (slot);
CREATE INDEX IF NOT EXISTS documents_model ON documents (model);
CREATE TABLE IF NOT EXISTS dead_slots (slot INTEGER NOT NULL, generation INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS dead_slots_generation ON dead_slots (generation);
CREATE TABLE IF NOT EXISTS state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
    generation INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    slots INTEGER NOT NULL,
    dead INTEGER NOT NULL,
    dimension INTEGER
);
INSERT OR IGNORE INTO state VALUES (0, 0, 0, 0, 0, NULL);
CREATE TABLE IF NOT EXISTS embedder (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
    embedder TEXT NOT NULL,
    dimension INTEGER NOT NULL
);
"""

#: The keyword index. FTS5 reads the text of slot n from ``documents`` when it needs it; the writes below
#: tell it what was indexed ('delete' with the old text, 'delete-all', 'rebuild'), since it cannot see
#: changes to ``documents`` by itself.
KEYWORDS = f"""
CREATE VIRTUAL TABLE keywords USING fts5(
    text, content = 'documents', content_rowid = 'slot', tokenize = '{TOKENIZER}'
)
"""

UPSERT = """
INSERT INTO documents (id, slot, model, pk, text, content_hash, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET slot = excluded.slot, model = excluded.model, pk = excluded.pk,
    text = excluded.text, content_hash = excluded.content_hash, metadata = excluded.metadata
"""


@dataclass(frozen=True)
class State:
    """The committed state: ``generation`` counts commits, ``epoch`` names the vectors file, ``slots``
    is how many of its rows commits reference (live or dead)."""

    generation: int
    epoch: int
    slots: int
    dead: int
    dimension: Optional[int]

    @property
    def live(self) -> int:
        return self.slots - self.dead


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


class Snapshot:
    """A consistent read of the store: one SQLite read transaction plus the vectors file it references."""

    def __init__(self, storage: Storage, conn: sqlite3.Connection) -> None:
        self.storage = storage
        self.conn = conn
        self.state = self._read_state()
        self.file = open(storage.vectors_path(self.state.epoch), "rb") if self.state.slots else None
        if self.file is not None:
            self._require_rows(os.fstat(self.file.fileno()).st_size)

    def _require_rows(self, size: int) -> None:
        """Refuse a vectors file shorter than the rows the committed state references: a write appends and
        fsyncs its rows before it commits, so only damage (truncation, a restored partial copy) makes it shorter."""
        needed = self.state.slots * self.state.dimension * 4
        if size < needed:
            raise CollectionDamaged(
                f"The faiss store's vectors file {self.file.name} holds {size} bytes, fewer than the "
                f"{self.state.slots} rows ({needed} bytes) its database references: it was truncated or damaged. "
                "Rebuild the index with `python manage.py build_search_index --rebuild`."
            )

    def _read_state(self) -> State:
        return State(*self.conn.execute("SELECT generation, epoch, slots, dead, dimension FROM state").fetchone())

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def vectors(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` of the vectors file as float32 ``(stop - start, dimension)``."""
        dimension = self.state.dimension
        if self.file is None:  # a write that created the file after this view opened
            self.file = open(self.storage.vectors_path(self.state.epoch), "rb")
        self.file.seek(start * dimension * 4)
        data = self.file.read((stop - start) * dimension * 4)
        if len(data) != (stop - start) * dimension * 4:
            self._require_rows(os.fstat(self.file.fileno()).st_size)
        return np.frombuffer(data, dtype="<f4").reshape(stop - start, dimension).astype(np.float32)

    def live_slots(self, since: int = 0) -> list[tuple[int, str]]:
        """``(slot, model)`` of every live document whose slot is ``>= since``."""
        return self.conn.execute("SELECT slot, model FROM documents WHERE slot >= ?", (since,)).fetchall()

    def dead_slots_since(self, generation: int) -> list[int]:
        """Slots that died in commits after ``generation``."""
        rows = self.conn.execute("SELECT slot FROM dead_slots WHERE generation > ?", (generation,))
        return [slot for (slot,) in rows]

    def documents_at(self, slots: Sequence[int]) -> dict[int, tuple[str, str, str, str, dict[str, Any]]]:
        """``{slot: (id, model, pk, text, metadata)}`` of the live documents at ``slots``."""
        found = {}
        for part in chunks(list(slots)):
            sql = f"SELECT slot, id, model, pk, text, metadata FROM documents WHERE slot IN ({marks(part)})"
            for slot, doc_id, model, pk, text, metadata in self.conn.execute(sql, part):
                found[slot] = (doc_id, model, pk, text, json.loads(metadata))
        return found

    def field_values(self, field: str, since: int = 0) -> list[tuple[int, Any]]:
        """``(slot, value)`` of metadata ``field`` for every live document whose slot is ``>= since``.

        SQLite extracts the one field, so no metadata JSON is parsed in Python except lists.
        """
        if '"' in field:
            raise ValueError(f"Metadata field {field!r} cannot be filtered on: it contains a double quote.")
        path = f'$."{field}"'
        rows = self.conn.execute(
            "SELECT slot, json_type(metadata, ?), json_extract(metadata, ?) FROM documents WHERE slot >= ?",
            (path, path, since),
        )
        return [(slot, decode(kind, value)) for slot, kind, value in rows]

    def keyword_ranking(self, expression: str, k: int, selected: np.ndarray) -> list[tuple[int, float]]:
        """``(slot, bm25)`` of the ``k`` best documents for the FTS5 MATCH ``expression`` among the ``selected``
        slots (a boolean mask), best first; ``bm25`` is positive, higher is better.

        FTS5 ranks every match; the ranked slots are then read until ``k`` are selected, so a selective mask
        costs a longer read, never a missing hit.
        """
        found = []
        sql = "SELECT rowid, -rank FROM keywords WHERE keywords MATCH ? ORDER BY rank"
        cursor = self.conn.execute(sql, (expression,))
        try:
            for slot, relevance in cursor:
                if selected[slot]:
                    found.append((slot, relevance))
                    if len(found) == k:
                        break
        finally:
            cursor.close()  # an unfinished statement would keep reading after the snapshot ends
        return found

    def embedder(self) -> Optional[tuple[str, int]]:
        """``(embedder id, dimension)`` saved by :meth:`Transaction.record_embedder`, or ``None``."""
        return self.conn.execute("SELECT embedder, dimension FROM embedder").fetchone()

    def slots_of(self, ids: Sequence[str]) -> dict[str, int]:
        return self._by_id("slot", ids)

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        return self._by_id("content_hash", ids)

    def _by_id(self, column: str, ids: Sequence[str]) -> dict[str, Any]:
        found = {}
        for part in chunks(list(dict.fromkeys(ids))):
            sql = f"SELECT id, {column} FROM documents WHERE id IN ({marks(part)})"
            found.update(self.conn.execute(sql, part).fetchall())
        return found

    def ids(self, models: Optional[Sequence[str]] = None) -> list[str]:
        if models is None:
            return [doc_id for (doc_id,) in self.conn.execute("SELECT id FROM documents")]
        sql = f"SELECT id FROM documents WHERE model IN ({marks(models)})"
        return [doc_id for (doc_id,) in self.conn.execute(sql, list(models))]

    def count(self, models: Optional[Sequence[str]] = None) -> int:
        if models is None:
            return self.state.live
        return self.conn.execute(
            f"SELECT COUNT(*) FROM documents WHERE model IN ({marks(models)})", list(models)
        ).fetchone()[0]


class Transaction(Snapshot):
    """A write: holds the writer lock and an IMMEDIATE SQLite transaction; every method keeps ``state`` current."""

    def upsert(self, documents: Sequence[StoredDocument], vectors: np.ndarray) -> None:
        """Append ``vectors`` (unit rows, one per document, ids unique) and point the documents at them."""
        state, dimension = self.state, vectors.shape[1]
        recorded = self.embedder()
        expected = state.dimension if state.dimension is not None else recorded and recorded[1]
        if expected and dimension != expected:
            raise EmbedderMismatchError(self.storage.mismatch_message(expected, dimension))
        replaced = self.slots_of([doc.id for doc in documents])
        self._append(state.slots, vectors)
        generation = state.generation + 1
        self.conn.executemany(
            "INSERT INTO dead_slots (slot, generation) VALUES (?, ?)", [(s, generation) for s in replaced.values()]
        )
        self._unindex(list(replaced))
        self.conn.executemany(
            UPSERT,
            [
                (
                    doc.id,
                    state.slots + n,
                    doc.model,
                    str(doc.pk),
                    doc.text,
                    doc.content_hash,
                    json.dumps(doc.metadata, ensure_ascii=False, default=str),
                )
                for n, doc in enumerate(documents)
            ],
        )
        # The new slots are the ones from state.slots on: the documents just written, and only they.
        self.conn.execute("INSERT INTO keywords (rowid, text) SELECT slot, text FROM documents WHERE slot >= ?",
                          (state.slots,))
        self.conn.execute(
            "UPDATE state SET generation = ?, slots = ?, dead = dead + ?, dimension = ?",
            (generation, state.slots + len(documents), len(replaced), dimension),
        )
        self.state = self._read_state()

    def record_embedder(self, embedder_id: str, dimension: int) -> None:
        self.conn.execute(
            "INSERT INTO embedder VALUES (0, ?, ?) ON CONFLICT (singleton) DO UPDATE "
            "SET embedder = excluded.embedder, dimension = excluded.dimension",
            (embedder_id, int(dimension)),
        )

    def _append(self, first_slot: int, vectors: np.ndarray) -> None:
        path = self.storage.vectors_path(self.state.epoch)
        created = not os.path.exists(path)
        with open(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+b") as out:
            offset = first_slot * vectors.shape[1] * 4
            out.truncate(offset)  # drops rows a crashed write appended but never committed
            out.seek(offset)
            out.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
            self.storage.sync(out, new_file=created)

    def delete(self, ids: Sequence[str]) -> None:
        self._forget(self.slots_of(ids))

    def delete_models(self, models: Sequence[str]) -> None:
        sql = f"SELECT id, slot FROM documents WHERE model IN ({marks(models)})"
        self._forget(dict(self.conn.execute(sql, list(models)).fetchall()))

    def _forget(self, slots_by_id: dict[str, int]) -> None:
        if not slots_by_id:
            return
        if len(slots_by_id) == self.state.live:
            self.reset()  # emptied: start a fresh file, and accept vectors of any dimension again
            return
        generation = self.state.generation + 1
        self._unindex(list(slots_by_id))
        for part in chunks(list(slots_by_id)):
            self.conn.execute(f"DELETE FROM documents WHERE id IN ({marks(part)})", part)
        self.conn.executemany(
            "INSERT INTO dead_slots (slot, generation) VALUES (?, ?)", [(s, generation) for s in slots_by_id.values()]
        )
        self.conn.execute("UPDATE state SET generation = ?, dead = dead + ?", (generation, len(slots_by_id)))
        self.state = self._read_state()

    def _unindex(self, ids: Sequence[str]) -> None:
        """Remove stored documents from the keyword index; call it before their rows change or go."""
        for part in chunks(ids):
            self.conn.execute(
                "INSERT INTO keywords (keywords, rowid, text) "
                f"SELECT 'delete', slot, text FROM documents WHERE id IN ({marks(part)})",
                part,
            )

    def reset(self) -> None:
        """Forget every document, the dimension of the stored vectors and the vectors file.

        The embedder record stays: it belongs to the collection, which only :meth:`Storage.drop` removes.
        """
        self.conn.execute("INSERT INTO keywords (keywords) VALUES ('delete-all')")
        self.conn.execute("DELETE FROM documents")
        self.conn.execute("DELETE FROM dead_slots")
        self.conn.execute(
            "UPDATE state SET generation = generation + 1, epoch = epoch + 1, slots = 0, dead = 0, dimension = NULL"
        )
        self.state = self._read_state()

    def compact(self) -> None:
        """Copy the live rows, in slot order, to the next epoch's file and renumber the slots to match."""
        state = self.state
        if not state.dead:
            return
        live = np.array([slot for (slot,) in self.conn.execute("SELECT slot FROM documents ORDER BY slot")], np.int64)
        epoch = state.epoch + 1
        with open(self.storage.vectors_path(epoch), "wb") as out:
            for start in range(0, state.slots, BLOCK):
                stop = min(start + BLOCK, state.slots)
                keep = live[np.searchsorted(live, start) : np.searchsorted(live, stop)]
                out.write(self.vectors(start, stop)[keep - start].astype("<f4").tobytes())
            self.storage.sync(out, new_file=True)
        # Ascending order never collides: each new slot is below every old slot still to be renumbered.
        self.conn.executemany("UPDATE documents SET slot = ? WHERE slot = ?", enumerate(live.tolist()))
        # Keyword rows are keyed by slot too: index the texts again under their new slots.
        self.conn.execute("INSERT INTO keywords (keywords) VALUES ('rebuild')")
        self.conn.execute("DELETE FROM dead_slots")
        self.conn.execute(
            "UPDATE state SET generation = generation + 1, epoch = ?, slots = ?, dead = 0", (epoch, len(live))
        )
        self.state = self._read_state()


def add_keyword_index(conn: sqlite3.Connection) -> None:
    """Create the keyword index if the database has none, filled from the stored texts in one transaction.

    A new database gets it empty; one written before keyword search existed is indexed once, by the
    first process that opens it (the others wait for that commit, then find the table).
    """
    exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keywords'"
    if conn.execute(exists).fetchone():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not conn.execute(exists).fetchone():
            conn.execute(KEYWORDS)
            conn.execute("INSERT INTO keywords (keywords) VALUES ('rebuild')")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Storage:
    """Owns the directory, the SQLite connection (shared by threads, guarded by a lock) and the writer lock.

    Without a directory the data lives in a private temporary directory removed on :meth:`close`.
    """

    def __init__(self, directory: Optional[str]) -> None:
        self.directory = directory
        self.durable = directory is not None
        self.lock = threading.RLock()
        self._conn: Optional[sqlite3.Connection] = None
        self._lock_fd: Optional[int] = None
        self._pid: Optional[int] = None
        self._temporary: Optional[weakref.finalize] = None
        self._root: Optional[str] = directory
        #: Counts the connections opened: a store's slot state read over an earlier one (files since deleted and
        #: created again) is read again whole.
        self.connections = 0

    def mismatch_message(self, stored: int, given: int) -> str:
        where = f"at {self.directory}" if self.directory else "(in memory)"
        return (
            f"The faiss vector store {where} holds {stored}-dimensional vectors but received {given}-dimensional "
            f"ones: the embedder changed. Rebuild the index with `python manage.py build_search_index --rebuild` "
            f"(it fills a new collection with the new embedder, then drops this one)."
        )

    def exists(self) -> bool:
        """Whether the collection's database file exists (a durable store's files were written); creates nothing."""
        return self.directory is None or os.path.exists(os.path.join(self._root, DATABASE))

    @contextlib.contextmanager
    def _damage_reported(self) -> Iterator[None]:
        """SQLite's "file is not a database" or "malformed", and a vectors file its database references but that is
        gone, raised as :class:`CollectionDamaged`; a busy or locked database is no damage and is raised as it is."""
        try:
            yield
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise CollectionDamaged(
                f"The faiss store's database {os.path.join(self._root, DATABASE)} is damaged ({exc}). Rebuild the "
                "index with `python manage.py build_search_index --rebuild`."
            ) from exc
        except FileNotFoundError as exc:
            raise CollectionDamaged(
                f"The faiss store at {self._root} lacks {exc.filename}, which its database references. Rebuild the "
                "index with `python manage.py build_search_index --rebuild`."
            ) from exc

    def vectors_path(self, epoch: int) -> str:
        return os.path.join(self._root, f"vectors-{epoch}.f32")

    def _connect(self) -> sqlite3.Connection:
        # A connection or lock inherited through fork() belongs to the parent: the child opens its own.
        if self._conn is not None and self._pid == os.getpid():
            if self.exists():
                return self._conn
            # The files were deleted under the open connection, which would go on reading the unlinked ones.
            self._conn.close()
            os.close(self._lock_fd)
            self._conn = self._lock_fd = self._pid = None
        if self.directory is None and self._temporary is None:
            self._root = tempfile.mkdtemp(prefix="dgs-faiss-")
            self._temporary = weakref.finalize(self, shutil.rmtree, self._root, True)
        os.makedirs(self._root, exist_ok=True)
        self._lock_fd = os.open(os.path.join(self._root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        conn = sqlite3.connect(
            os.path.join(self._root, DATABASE), timeout=60, isolation_level=None, check_same_thread=False
        )
        # SQLite answers "database is locked" at once, without waiting out the timeout, when a second process
        # switches a fresh database to WAL while the first is still creating it: set-up takes the writers' lock.
        if fcntl is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'OFF'}")
            conn.executescript(SCHEMA)
            add_keyword_index(conn)
        except BaseException:  # e.g. a damaged database: the next call opens both again
            conn.close()
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None
            raise
        finally:
            if fcntl is not None and self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        self._conn, self._pid = conn, os.getpid()
        self.connections += 1
        return conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """A consistent snapshot of the committed state, held for the duration of the block."""
        with self.lock, self._damage_reported():
            conn = self._connect()
            snapshot = self._begin(conn, "BEGIN", Snapshot)
            try:
                yield snapshot
            finally:
                snapshot.close()
                conn.execute("COMMIT")

    @contextlib.contextmanager
    def writing(self) -> Iterator[Transaction]:
        """The only way to change the store: one writer at a time across threads and processes."""
        with self.lock, self._damage_reported():
            conn = self._connect()
            if fcntl is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                transaction = self._begin(conn, "BEGIN IMMEDIATE", Transaction)
                epoch = transaction.state.epoch
                try:
                    yield transaction
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                finally:
                    transaction.close()
                conn.execute("COMMIT")
                if transaction.state.epoch != epoch:
                    self._remove_files_except(transaction.state.epoch)
            finally:
                if fcntl is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _begin(self, conn: sqlite3.Connection, begin: str, view: type[Snapshot]) -> Snapshot:
        # A reader may see the state of an epoch whose file a compaction has just removed: read again.
        retries = 2
        while True:
            conn.execute(begin)
            try:
                return view(self, conn)
            except FileNotFoundError:
                conn.execute("ROLLBACK")
                if not retries:
                    raise
                retries -= 1
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _remove_files_except(self, epoch: int) -> None:
        """Delete vectors files of other epochs: replaced by a compaction, or left by one that crashed."""
        for name in os.listdir(self._root):
            match = VECTORS.match(name)
            if match and int(match.group(1)) != epoch:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self._root, name))

    def sync(self, file, new_file: bool) -> None:
        """Make written bytes (and a new file's directory entry) durable before SQLite references them."""
        file.flush()
        if not self.durable:
            return
        os.fsync(file.fileno())
        if new_file and hasattr(os, "O_DIRECTORY"):
            fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def drop(self, remove_directory: bool) -> None:
        """Delete this collection's files (its whole directory with ``remove_directory``); a later use starts empty.

        Holds the writer lock while deleting, so no write of this process or another is half-applied.
        """
        with self.lock:
            if self.directory is None:
                self.close()  # removes the private temporary directory
                return
            if not os.path.isdir(self._root):
                return
            self.close()
            # The lock file only, not the database: a damaged one must be droppable too (a rebuild replaces it).
            self._lock_fd = os.open(os.path.join(self._root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                if remove_directory:
                    shutil.rmtree(self._root, ignore_errors=True)
                else:
                    for name in os.listdir(self._root):
                        if VECTORS.match(name) or name in (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", "lock"):
                            with contextlib.suppress(FileNotFoundError):
                                os.remove(os.path.join(self._root, name))
            finally:
                os.close(self._lock_fd)  # releases the flock
                self._conn = self._lock_fd = self._pid = None

    def close(self) -> None:
        with self.lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
                os.close(self._lock_fd)
            self._conn = self._lock_fd = self._pid = None
            if self._temporary is not None:
                self._temporary()
                self._temporary = None
