"""The embedding cache: a text already embedded by an embedder is never embedded by it again.

Keys are document content hashes (:meth:`dgs_core.documents.Document.content_hash`: the embedder id
and the text), values float32 vectors. Which documents need work at all is decided by the hashes
stored *with the vectors* in the vector store, so the store can never disagree with this cache; the
cache only makes that work cheap: re-indexing after a relation change, after ``clear_search_index``
or into a new collection costs only the texts that really changed.

``CACHE["BACKEND"]``:

* ``file`` (default): an SQLite file in ``OPTIONS["PATH"]`` (default ``var/dgs/cache``), each entry
  with its ``expires_at``; expired entries are dropped when read and by ``purge_search_cache``.
* ``redis``: a Django cache alias (``OPTIONS["ALIAS"]``, default ``"default"``), e.g.
  ``django.core.cache.backends.redis.RedisCache``; the cache server expires entries itself.
* ``db``: the :class:`~dgs_core.models.EmbeddingCacheEntry` table in database ``OPTIONS["ALIAS"]``.

``TTL`` is in seconds (0: never expires). ``DELTA_INDEXING: False`` turns the cache off. A cache that
fails (a Redis outage) is logged and bypassed: indexing goes on, embedding everything.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Optional

import numpy as np

from dgs_core import engine
from dgs_core.conf import get_config
from dgs_core.documents import text_key
from dgs_core.exceptions import ConfigurationError

log = logging.getLogger("dgs_core.indexing.cache")

#: Keys per ``IN (...)`` query.
CHUNK = 500


def _encode(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def _decode(data: Any) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<f4").astype(np.float32)


class EmbeddingCache(ABC):
    """Vectors by content hash. ``get_many``/``set_many`` never raise: a broken cache is bypassed."""

    #: The backend expires entries by itself (``purge`` has nothing to do).
    expires_itself = False

    def __init__(self, key_prefix: str = "dgs", ttl: int = 86400, **options: Any) -> None:
        self.key_prefix = key_prefix
        self.ttl = ttl
        self.options = options

    def key(self, content_hash: str) -> str:
        return f"{self.key_prefix}:emb:{content_hash}"

    def get_many(self, content_hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """``{content_hash: vector}`` for the hashes cached and not expired."""
        try:
            found = self._get_many({self.key(h): h for h in content_hashes})
        except Exception as exc:
            log.warning("The embedding cache (%s) cannot be read, embedding without it: %s", type(self).__name__, exc)
            return {}
        return found

    def set_many(self, vectors: dict[str, np.ndarray]) -> None:
        """Cache ``{content_hash: vector}`` for ``TTL`` seconds."""
        try:
            self._set_many({self.key(h): _encode(v) for h, v in vectors.items()})
        except Exception as exc:
            log.warning("The embedding cache (%s) cannot be written: %s", type(self).__name__, exc)

    @abstractmethod
    def _get_many(self, keys: dict[str, str]) -> dict[str, np.ndarray]:
        """``keys`` maps cache keys to content hashes; return ``{content_hash: vector}``."""

    @abstractmethod
    def _set_many(self, entries: dict[str, bytes]) -> None:
        """Store encoded vectors by cache key."""

    def purge(self, dry_run: bool = False) -> int:
        """Delete expired entries (only count them with ``dry_run``); returns how many."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class FileEmbeddingCache(EmbeddingCache):
    """An SQLite file (safe for several processes) in the ``PATH`` directory."""

    FILE = "embedding-cache.sqlite3"

    def __init__(self, path: str = "var/dgs/cache", **options: Any) -> None:
        super().__init__(**options)
        self.path = os.path.join(path, self.FILE)
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None
        self._pid = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # a connection inherited through fork() is the parent's
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, vector BLOB NOT NULL, expires_at REAL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS entries_expires_at ON entries (expires_at)")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _get_many(self, keys: dict[str, str]) -> dict[str, np.ndarray]:
        found, expired, now = {}, [], time.time()
        names = list(keys)
        with self._lock:
            conn = self._connection()
            for start in range(0, len(names), CHUNK):
                part = names[start : start + CHUNK]
                sql = f"SELECT key, vector, expires_at FROM entries WHERE key IN ({','.join('?' * len(part))})"
                for key, vector, expires_at in conn.execute(sql, part):
                    if expires_at is not None and expires_at <= now:
                        expired.append(key)
                    else:
                        found[keys[key]] = _decode(vector)
            if expired:  # lazy purge
                conn.executemany("DELETE FROM entries WHERE key = ? AND expires_at <= ?", [(k, now) for k in expired])
        return found

    def _set_many(self, entries: dict[str, bytes]) -> None:
        expires_at = time.time() + self.ttl if self.ttl else None
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)",
                                 [(k, v, expires_at) for k, v in entries.items()])
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def purge(self, dry_run: bool = False) -> int:
        now = time.time()
        with self._lock:
            conn = self._connection()
            if dry_run:
                return conn.execute("SELECT COUNT(*) FROM entries WHERE expires_at <= ?", (now,)).fetchone()[0]
            return conn.execute("DELETE FROM entries WHERE expires_at <= ?", (now,)).rowcount

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class DjangoCacheEmbeddingCache(EmbeddingCache):
    """A Django cache alias (``CACHES[ALIAS]``), typically Redis."""

    expires_itself = True

    def __init__(self, alias: str = "default", **options: Any) -> None:
        super().__init__(**options)
        from django.core.cache import caches

        self.cache = caches[alias]

    def _get_many(self, keys: dict[str, str]) -> dict[str, np.ndarray]:
        return {keys[k]: _decode(v) for k, v in self.cache.get_many(list(keys)).items()}

    def _set_many(self, entries: dict[str, bytes]) -> None:
        self.cache.set_many(entries, timeout=self.ttl or None)


class DatabaseEmbeddingCache(EmbeddingCache):
    """The ``EmbeddingCacheEntry`` table in database ``ALIAS``."""

    def __init__(self, alias: str = "default", **options: Any) -> None:
        super().__init__(**options)
        self.alias = alias

    def _entries(self):
        from dgs_core.models import EmbeddingCacheEntry

        return EmbeddingCacheEntry.objects.using(self.alias)

    def _get_many(self, keys: dict[str, str]) -> dict[str, np.ndarray]:
        from django.utils import timezone

        now = timezone.now()
        found, expired = {}, []
        names = list(keys)
        for start in range(0, len(names), CHUNK):
            for key, vector, expires_at in self._entries().filter(key__in=names[start : start + CHUNK]).values_list(
                "key", "vector", "expires_at"
            ):
                if expires_at is not None and expires_at <= now:
                    expired.append(key)
                else:
                    found[keys[key]] = _decode(vector)
        if expired:  # lazy purge
            self._entries().filter(key__in=expired, expires_at__lte=now).delete()
        return found

    def _set_many(self, entries: dict[str, bytes]) -> None:
        from django.db import connections
        from django.utils import timezone

        from dgs_core.models import EmbeddingCacheEntry

        expires_at = timezone.now() + timedelta(seconds=self.ttl) if self.ttl else None
        rows = [EmbeddingCacheEntry(key=k, vector=v, expires_at=expires_at) for k, v in entries.items()]
        with_target = connections[self.alias].features.supports_update_conflicts_with_target
        self._entries().bulk_create(rows, batch_size=CHUNK, update_conflicts=True,
                                    unique_fields=["key"] if with_target else None,
                                    update_fields=["vector", "expires_at"])

    def purge(self, dry_run: bool = False) -> int:
        from django.utils import timezone

        expired = self._entries().filter(expires_at__lte=timezone.now())
        if dry_run:
            return expired.count()
        return expired.delete()[0]


BACKENDS: dict[str, type[EmbeddingCache]] = {
    "file": FileEmbeddingCache,
    "redis": DjangoCacheEmbeddingCache,
    "db": DatabaseEmbeddingCache,
}


def build_embedding_cache() -> EmbeddingCache:
    """A new cache from ``GRAPH_SEARCH["CACHE"]``."""
    cfg = get_config().cache
    if cfg.backend in BACKENDS:
        cls = BACKENDS[cfg.backend]
    else:
        from django.utils.module_loading import import_string

        try:
            cls = import_string(cfg.backend)
        except ImportError as exc:
            raise ConfigurationError(
                f"GRAPH_SEARCH['CACHE']['BACKEND'] is {cfg.backend!r}; use 'file', 'redis', 'db' or a dotted path "
                f"to an EmbeddingCache subclass ({exc})."
            ) from exc
    options = {str(k).lower(): v for k, v in cfg.options.items()}
    if "directory" in options:  # the older package's name for the file cache's folder
        options.setdefault("path", options.pop("directory"))
    return cls(key_prefix=cfg.key_prefix, ttl=cfg.ttl, **options)


def get_embedding_cache() -> Optional[EmbeddingCache]:
    """The shared embedding cache, or ``None`` when ``DELTA_INDEXING`` is off."""
    if not get_config().delta_indexing:
        return None
    return engine.shared("embedding_cache", build_embedding_cache)


def embed_with_cache(embedder: Any, texts: Sequence[str],
                     cache: Optional[EmbeddingCache]) -> tuple[dict[str, np.ndarray], int]:
    """``({text: vector}, how many texts were embedded)`` for the distinct ``texts``: vectors ``cache`` holds
    are reused, the rest embedded in one call and added to it (without a cache every text is embedded)."""
    keys = {text: text_key(embedder.id, text) for text in texts}
    vectors = cache.get_many(list(dict.fromkeys(keys.values()))) if cache else {}
    missing = [text for text, key in keys.items() if key not in vectors]
    if missing:
        fresh = embedder.embed_documents(missing)
        computed = {keys[text]: fresh[i] for i, text in enumerate(missing)}
        if cache:
            cache.set_many(computed)
        vectors.update(computed)
    return {text: vectors[key] for text, key in keys.items()}, len(missing)
