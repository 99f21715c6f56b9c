"""Zero-downtime rebuilds: versioned collections and the router every process searches through.

``build_search_index --rebuild`` fills a new collection (``g<N>``) while searches keep answering from
the live one; writes made meanwhile (signals, ``index()``) go to both, so nothing is lost; when the
build completes, the :class:`~dgs_core.models.IndexGeneration` row switches ``live`` in one
transaction and the old collection is dropped. An interrupted rebuild is continued with ``--resume``:
documents already in the new collection are skipped by their content hash, not embedded again.

The same row records that the live collection was *built* (first written, or switched to by a rebuild). A
persistent store's live collection that was built but is gone from the engine (a deleted directory, a dropped
table or collection) has vanished: reads raise :class:`~dgs_core.exceptions.CollectionMissing` (REST 503)
instead of answering as an empty index, ``manage.py check`` warns (``dgs.W008``), and writes are refused until
``build_search_index --rebuild`` fills a new collection. Before the first write, a missing collection is a
fresh install's, and searches answer empty.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import numpy as np
from django.db import DatabaseError, transaction
from django.utils import timezone

from dgs_core.base import StoredDocument, VectorHit, VectorStore
from dgs_core.conf import BackendConfig
from dgs_core.documents import TEXT_FORMAT

log = logging.getLogger("dgs_core.engine.generations")

#: How long a process trusts its cached pointer; a rebuild waits this long after each switch.
STATE_TTL_SECONDS = 2.0


def store_key(cfg: BackendConfig) -> str:
    """Identifies one configured store, so that different stores never share a pointer."""
    options = json.dumps(cfg.options, sort_keys=True, default=str)
    return f"{cfg.backend}:{hashlib.sha256(options.encode()).hexdigest()[:16]}"


class GenerationRouter(VectorStore):
    """A :class:`VectorStore` over the live collection that mirrors writes into a pending rebuild."""

    def __init__(self, cfg: BackendConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.key = store_key(cfg)
        self._collections: dict[str, VectorStore] = {}
        self._state: Optional[tuple[float, str, str, dict[str, Any], bool]] = None
        self._writer: Optional[str] = None  # id of the embedder this process writes with
        self._lock = threading.RLock()

    # -- the pointer ------------------------------------------------------------------------------

    def state(self, fresh: bool = False) -> tuple[str, str]:
        """``(live, pending)`` collection names, re-read from the database at most every few seconds."""
        return self._read(fresh)[1:3]

    def live_embedder_config(self) -> dict[str, Any]:
        """The embedding profile that filled the live collection (recorded when a rebuild switched to it)."""
        return self._read()[3]

    def text_format(self) -> Optional[int]:
        """The text format (:data:`dgs_core.documents.TEXT_FORMAT`) the live collection was built with; ``None``
        when it is empty. A collection filled before formats were recorded was built with format 1."""
        if self.live.embedder_info() is None:
            return None
        return int(self.live_embedder_config().get("text_format", 1))

    def _record_text_format(self) -> None:
        """Note the current text format for the live collection (called when its first write starts)."""
        from dgs_core.models import IndexGeneration

        try:
            with transaction.atomic():
                row, _ = IndexGeneration.objects.select_for_update().get_or_create(store_key=self.key)
                row.live_embedder = {**(row.live_embedder or {}), "text_format": TEXT_FORMAT}
                row.save(update_fields=["live_embedder", "updated_at"])
        except DatabaseError:
            log.debug("dgs_core's tables are missing (before `migrate`): the text format is not recorded.")
        self.state(fresh=True)

    def built(self) -> bool:
        """Whether the database records that the live collection was built (see the module's docstring)."""
        return self._read()[4]

    def _read(self, fresh: bool = False) -> tuple[float, str, str, dict[str, Any], bool]:
        from dgs_core.models import IndexGeneration

        with self._lock:
            if fresh or self._state is None or time.monotonic() - self._state[0] > STATE_TTL_SECONDS:
                try:
                    row = IndexGeneration.objects.filter(store_key=self.key).values_list(
                        "live", "pending", "live_embedder", "built").first()
                except DatabaseError:
                    # Before `migrate` there is no pointer table: only the default collection exists.
                    log.debug("dgs_core's tables are missing (before `migrate`): using the default collection.")
                    row = None
                live, pending, embedder, built = row or ("", "", {}, False)
                self._state = (time.monotonic(), live, pending, embedder or {}, built)
            return self._state

    def collection(self, name: str) -> VectorStore:
        """The store instance of collection ``name`` (``""`` is the store's default collection)."""
        from dgs_core.engine.backends import build_vector_store

        with self._lock:
            if name not in self._collections:
                options = {**self.cfg.options, "collection": name} if name else self.cfg.options
                self._collections[name] = build_vector_store(BackendConfig(self.cfg.backend, options))
            return self._collections[name]

    @property
    def live(self) -> VectorStore:
        """The live collection's store, told whether it must exist (built, on a persistent store)."""
        _, live, _, _, built = self._read()
        store = self.collection(live)
        store.must_exist = built and "persistence" in store.capabilities
        return store

    def health(self) -> None:
        """Raise :class:`~dgs_core.exceptions.CollectionMissing` when the live collection was built but is gone, or
        :class:`~dgs_core.exceptions.CollectionDamaged` when the store finds its data damaged; creates nothing.
        A fresh install's collection, never written, is healthy. ``manage.py check`` and the admin's index status
        page call it; engine errors (an unreachable server) propagate as they are."""
        store = self.live
        if not store.exists():
            if store.must_exist:
                raise store.vanished()
            return
        store.verify()

    def _targets(self) -> list[VectorStore]:
        """The live collection and a pending rebuild's. A live collection that vanished takes no writes (which
        would create it again, nearly empty, and serve that): left out while a rebuild replaces it, refused
        otherwise."""
        store, pending = self.live, self.state()[1]
        targets = [self.collection(pending)] if pending else []
        if not store.must_exist or store.exists():
            return [store, *targets]
        if not targets:
            raise store.vanished()
        return targets

    def _write_targets(self) -> list[VectorStore]:
        """Collections this process may write to: those filled (or to be filled) by its own embedder.

        While a rebuild switches embedders, the old live collection only answers searches (with its
        recorded embedder) and the new one receives every change.
        """
        targets = []
        for store in self._targets():
            info = store.embedder_info()
            if self._writer is None or info is None or info.get("embedder") == self._writer:
                targets.append(store)
        return targets

    def prepare_writes(self, embedder_id: str, dimension: int) -> bool:
        """Record the writing embedder in empty collections; False if no collection accepts its vectors."""
        self._writer = embedder_id
        live = self.live
        for store in self._targets():
            if store.embedder_info() is None:
                store.record_embedder(embedder_id, dimension)
                if store is live:
                    self._record_text_format()
        return bool(self._write_targets())

    def _record_built(self) -> None:
        """Record that documents were written to the live collection (see :meth:`built`)."""
        from dgs_core.models import IndexGeneration

        try:
            with transaction.atomic():
                IndexGeneration.objects.update_or_create(store_key=self.key, defaults={"built": True})
        except DatabaseError:
            log.debug("dgs_core's tables are missing (before `migrate`): the build is not recorded.")
            return
        self.state(fresh=True)

    # -- rebuild operations (used by build_search_index) ------------------------------------------

    def start_rebuild(self) -> VectorStore:
        """Create the next collection and mark it pending; returns it. Fails if one is pending already."""
        from dgs_core.models import IndexGeneration

        with transaction.atomic():
            row, _ = IndexGeneration.objects.select_for_update().get_or_create(store_key=self.key)
            if row.pending:
                raise RuntimeError(
                    f"A rebuild into collection {row.pending!r} started at {row.started_at:%Y-%m-%d %H:%M} is "
                    "unfinished. Continue it with `build_search_index --resume`."
                )
            number = max([int(n[1:]) for n in (row.live,) if n.startswith("g")] + [0]) + 1
            row.pending, row.started_at = f"g{number}", timezone.now()
            row.save()
        self.state(fresh=True)
        # Let every process notice the pending collection before the build reads the database, so a
        # write that lands after the build passed its row still reaches the new collection.
        time.sleep(STATE_TTL_SECONDS)
        return self.collection(row.pending)

    def pending_store(self) -> Optional[VectorStore]:
        pending = self.state(fresh=True)[1]
        return self.collection(pending) if pending else None

    def finish_rebuild(self, embedder_config: dict[str, Any]) -> str:
        """Make the pending collection live, then drop the old one; returns the new live name."""
        from dgs_core.models import IndexGeneration

        with transaction.atomic():
            row = IndexGeneration.objects.select_for_update().get(store_key=self.key)
            old, row.live, row.pending = row.live, row.pending, ""
            row.live_embedder, row.built = {**embedder_config, "text_format": TEXT_FORMAT}, True
            row.save()
        self.state(fresh=True)
        self.collection(row.live).publish()
        time.sleep(STATE_TTL_SECONDS)  # searches in other processes may still read the old collection
        dropped = self.collection(old)
        dropped.must_exist = False  # dropping it on purpose: gone already (it vanished) is fine
        dropped.drop()
        with self._lock:
            self._collections.pop(old, None)
        return row.live

    # -- VectorStore, delegated -------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[str]:  # type: ignore[override]
        return self.live.capabilities

    def upsert(self, documents: Sequence[StoredDocument]) -> None:
        targets = self._write_targets()
        for store in targets:
            store.upsert(documents)
        if documents and not self.built() and self.live in targets:  # documents are in it now: it exists
            self._record_built()

    def delete(self, ids: Sequence[str]) -> None:
        for store in self._targets():
            store.delete(ids)

    def clear(self, models: Optional[Sequence[str]] = None) -> None:
        for store in self._targets():
            store.clear(models)

    def search(self, vector: np.ndarray, k: int, **kwargs: Any) -> list[VectorHit]:
        return self.live.search(vector, k, **kwargs)

    def keyword_search(self, query: str, k: int, **kwargs: Any) -> list[VectorHit]:
        return self.live.keyword_search(query, k, **kwargs)

    def count(self, models: Optional[Sequence[str]] = None) -> int:
        return self.live.count(models)

    def iter_ids(self, models: Optional[Sequence[str]] = None) -> Iterator[str]:
        return self.live.iter_ids(models)

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        return self.live.content_hashes(ids)

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self.live.get_vectors(ids)

    def embedder_info(self) -> Optional[dict[str, Any]]:
        return self.live.embedder_info()

    def record_embedder(self, embedder_id: str, dimension: int) -> None:
        self.prepare_writes(embedder_id, dimension)

    def drop(self) -> None:
        for store in self._targets():
            store.drop()

    def close(self) -> None:
        with self._lock:
            for store in self._collections.values():
                store.close()
            self._collections.clear()
