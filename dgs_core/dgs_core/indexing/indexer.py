"""Turning model instances into stored vectors: batched reads, change detection, embedding, upserts."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional

from django.db import models

from dgs_core import engine
from dgs_core.base import StoredDocument, VectorStore, document_id
from dgs_core.conf import GraphSearchConfig, ModelConfig, get_config
from dgs_core.documents import TEXT_FORMAT, Document, text_key
from dgs_core.exceptions import BackendUnavailable, ConfigurationError, EmbedderMismatchError, UnknownModelError
from dgs_core.indexing.cache import embed_with_cache, get_embedding_cache
from dgs_core.indexing.chunking import (
    SHOWN_FROM_KEY,
    SPANS_KEY,
    Chunker,
    StoredHash,
    encode_spans,
    entry_ids,
    section_spans,
    stored_documents,
)
from dgs_core.indexing.text import weight_prefix
from dgs_core.indexing.traversal import TraversalPlan
from dgs_core.plugins import get_registry

log = logging.getLogger("dgs_core.indexing.indexer")


@dataclass
class IndexStats:
    """Counts of one indexing run."""

    indexed: int = 0
    skipped: int = 0  # unchanged since the last run: not embedded again
    failed: int = 0
    pruned: int = 0  # vectors whose rows no longer exist
    chunked: int = 0  # extra entries stored for documents longer than the embedder's window
    embedded: int = 0  # texts (documents or chunks) the embedder computed
    cached: int = 0  # texts whose vectors came from the embedding cache (dgs_core.indexing.cache)
    failed_ids: list[str] = field(default_factory=list)
    last_error: str = ""

    def add(self, other: IndexStats) -> None:
        for name in ("indexed", "skipped", "failed", "pruned", "chunked", "embedded", "cached"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed_ids.extend(other.failed_ids)
        self.last_error = other.last_error or self.last_error


def model_config_for(model_or_label: Any, config: Optional[GraphSearchConfig] = None) -> ModelConfig:
    """The configuration entry of a model class, instance or label; :class:`UnknownModelError` if none."""
    config = config or get_config()
    if isinstance(model_or_label, str):
        label = model_or_label
    else:
        label = model_or_label._meta.label
    found = config.model_config(label)
    if found is None:
        configured = ", ".join(m.label for m in config.models) or "none"
        raise UnknownModelError(
            f"{label!r} is not configured for search. Add it to GRAPH_SEARCH['MODELS'] "
            f"(configured: {configured})."
        )
    return found


def get_plan(model_config: ModelConfig) -> TraversalPlan:
    return engine.shared(("plan", model_config.model_label), lambda: TraversalPlan(model_config))


def build_documents(
    plan: TraversalPlan, instances: Sequence[models.Model], config: Optional[GraphSearchConfig] = None
) -> list[Document]:
    """Documents for ``instances``, which must come from ``plan.queryset()`` to avoid extra queries."""
    config = config or get_config()
    hook = get_registry().hook
    documents = []
    for instance in instances:
        sections = plan.sections(instance)
        text = hook.dgs_build_text(instance=instance, sections=sections, model_config=plan.model_config, config=config)
        label = plan.model_config.model_label
        documents.append(
            Document(document_id(label, instance.pk), label, str(instance.pk), text or "", sections,
                     {**plan.filter_values(instance), "model": label, "pk": str(instance.pk)})
        )
    return documents


class Indexer:
    """Indexes querysets of one configuration with the shared embedder and store."""

    def __init__(self, config: Optional[GraphSearchConfig] = None, store: Optional[VectorStore] = None) -> None:
        self.config = config or get_config()
        self.embedder = engine.get_embedder()
        self.store = store or engine.get_vector_store()

    @cached_property
    def chunker(self) -> Chunker:
        return Chunker.for_embedder(self.embedder, self.config.chunking)

    def document_hash(self, document: Document) -> str:
        """The version of ``document``'s vectors: its text, the embedder, the text format and how it is chunked."""
        signature = "|".join(filter(None, [self.embedder.id, f"text:{TEXT_FORMAT}", self.chunker.signature]))
        prefix = weight_prefix(document.sections)
        return text_key(signature, f"{prefix}\0{document.text}") if prefix else document.content_hash(signature)

    def delete_documents(self, ids: Sequence[str]) -> None:
        """Remove documents by id, with every chunk of theirs."""
        if not ids:
            return
        chunks = {i: StoredHash.parse(h).chunks for i, h in self.store.content_hashes(list(ids)).items()}
        self.store.delete([entry for i in ids for entry in entry_ids(i, chunks.get(i, 1))])

    def index_documents(self, documents: Sequence[Document], force: bool = False) -> IndexStats:
        """Embed and store the documents whose text changed (all of them with ``force``)."""
        stats = IndexStats()
        if documents:
            engine.check_embedder(self.store, self.embedder, writing=True)
        empty = [d.id for d in documents if not d.text.strip()]
        if empty:  # nothing to search for: make sure no old vector lingers either
            self.delete_documents(empty)
            stats.skipped += len(empty)
        documents = [d for d in documents if d.text.strip()]
        if not documents:
            return stats
        hashes = {d.id: self.document_hash(d) for d in documents}
        stored = {i: StoredHash.parse(h) for i, h in self.store.content_hashes(list(hashes)).items()}
        if not force:
            unchanged = {i for i, version in stored.items() if hashes[i] == version.digest}
            stats.skipped += len(unchanged)
            documents = [d for d in documents if d.id not in unchanged]
        if not documents:
            return stats
        try:
            stats.embedded, entries = self._embed_and_store(documents, hashes,
                                                            {i: version.chunks for i, version in stored.items()},
                                                            use_cache=not force)
            stats.indexed = len(documents)
            stats.cached = entries - stats.embedded
            stats.chunked = entries - len(documents)
        except (EmbedderMismatchError, BackendUnavailable, ConfigurationError):
            # The embedder or store is down or misconfigured, not a bad row: retrying the documents one
            # by one would send one failing request per document.
            raise
        except Exception as exc:
            if len(documents) == 1:
                log.exception("Indexing %s failed", documents[0].id)
                stats.failed, stats.failed_ids = 1, [documents[0].id]
                stats.last_error = f"{type(exc).__name__}: {exc}"
                return stats
            # Isolate the failing documents so one bad row does not fail its whole batch.
            for doc in documents:
                stats.add(self.index_documents([doc], force=True))
        return stats

    def _entries(self, document: Document, content_hash: str) -> list[StoredDocument]:
        """The store entries of one document: one per chunk, each with the spans of its sections (relative to
        the text users see). The first entry's text starts with the weight prefix, so the embedder and the
        keyword leg read weighted sections again; ``SHOWN_FROM_KEY`` says where the shown text starts."""
        prefix, chunker = weight_prefix(document.sections), self.chunker
        if prefix and chunker.max_tokens and len(prefix) + len(document.text) > chunker.max_tokens:
            # The first chunk and the prefix share the embedder's window (every chunk gets the smaller
            # window: a simpler split, a few more chunks at most).
            reserved = (self.embedder.count_tokens(prefix) or 0) - (self.embedder.count_tokens("") or 0)
            window = max(8, chunker.max_tokens - reserved)
            chunker = dataclasses.replace(chunker, max_tokens=window, overlap=min(chunker.overlap, window // 2))
        ranges, truncated = chunker.split(document.text)
        if truncated:
            log.warning("%s is longer than %d chunks of %d tokens; the rest is not indexed (CHUNKING['MAX_CHUNKS']).",
                        document.id, chunker.max_chunks, chunker.max_tokens)
        spans = section_spans(document.text, document.sections)
        entries = []
        for n, (start, end) in enumerate(ranges):
            metadata = {**document.metadata, SPANS_KEY: encode_spans(spans, start, end)}
            text = document.text[start:end]
            if n == 0 and prefix:
                text, metadata[SHOWN_FROM_KEY] = prefix + text, len(prefix)
            entries.append(StoredDocument(str(document.ref.with_chunk(n)), document.model, document.pk, text, None,
                                          str(StoredHash(content_hash, len(ranges))) if n == 0 else content_hash,
                                          metadata))
        return entries

    def _embed_and_store(self, documents: Sequence[Document], hashes: dict[str, str], chunks_before: dict[str, int],
                         use_cache: bool) -> tuple[int, int]:
        """Store every chunk of the documents, embedding only texts the embedding cache lacks, and remove
        chunks a document no longer has; returns ``(texts embedded, entries stored)``."""
        per_document = {d.id: self._entries(d, hashes[d.id]) for d in documents}
        entries = [e for chunks in per_document.values() for e in chunks]
        vectors, embedded = embed_with_cache(self.embedder, [e.text for e in entries],
                                             get_embedding_cache() if use_cache else None)
        for entry in entries:
            entry.vector = vectors[entry.text]
        self.store.upsert(entries)
        leftovers = [entry for i, before in chunks_before.items() if i in per_document
                     for entry in entry_ids(i, before)[len(per_document[i]):]]
        if leftovers:
            self.store.delete(leftovers)
        return embedded, len(entries)

    def index_queryset(
        self,
        model_config: ModelConfig,
        queryset: Optional[models.QuerySet] = None,
        *,
        batch_size: Optional[int] = None,
        force: bool = False,
        on_batch: Optional[Callable[[int, IndexStats], None]] = None,
    ) -> IndexStats:
        """Index every row of ``queryset`` (default: the whole table), batch by batch."""
        plan = get_plan(model_config)
        stats = IndexStats()
        for batch in plan.iter_batches(queryset, batch_size or self.config.index_batch_size):
            batch_stats = self.index_documents(build_documents(plan, batch, self.config), force=force)
            stats.add(batch_stats)
            if on_batch:
                on_batch(len(batch), batch_stats)
        return stats

    def prune(self, model_config: ModelConfig) -> int:
        """Delete vectors of rows that no longer exist; returns how many."""
        stored, rows = stored_and_existing(model_config, self.store)
        stale = [doc_id for pk, doc_id in stored.items() if pk not in rows]
        self.delete_documents(stale)
        return len(stale)


def stored_and_existing(model_config: ModelConfig, store: VectorStore) -> tuple[dict[str, str], set[str]]:
    """``({pk: document id} of the stored vectors, {pk} of the database rows)`` for one model."""
    stored = {ref.pk: str(ref) for ref in stored_documents(store, store.iter_ids([model_config.model_label]))}
    rows = {str(pk) for pk in model_config.model._default_manager.values_list("pk", flat=True).iterator()}
    return stored, rows


def coverage(model_config: ModelConfig, store: VectorStore) -> dict[str, int]:
    """Rows in the database, vectors in the store, rows without a vector and vectors without a row."""
    stored, rows = stored_and_existing(model_config, store)
    return {"rows": len(rows), "vectors": len(stored), "missing": len(rows - stored.keys()),
            "stale": len(stored.keys() - rows)}


def index(instance: models.Model) -> IndexStats:
    """(Re)index one instance now, with its related text."""
    model_config = model_config_for(instance)
    plan = get_plan(model_config)
    fresh = plan.queryset().filter(pk=instance.pk)
    return Indexer().index_documents(build_documents(plan, list(fresh)), force=False)


def delete(instance: models.Model) -> None:
    """Remove one instance from the index."""
    model_config = model_config_for(instance)
    Indexer().delete_documents([document_id(model_config.model_label, instance.pk)])


def reindex_queryset(queryset: models.QuerySet, *, batch_size: Optional[int] = None) -> IndexStats:
    """Re-index the rows of ``queryset`` now: use it after ``queryset.update()``, ``bulk_create()`` or
    raw SQL, which send no signals. After changing *related* rows that way, pass the indexed rows whose
    documents include them, e.g. ``reindex_queryset(Track.objects.filter(genre__in=genres))``."""
    model_config = model_config_for(queryset.model)
    return Indexer().index_queryset(model_config, queryset, batch_size=batch_size)

