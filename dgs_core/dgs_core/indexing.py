"""Turning model instances into stored vectors: batched reads, change detection, embedding, upserts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from django.db import models

from dgs_core import components
from dgs_core.base import StoredDocument, VectorStore, document_id
from dgs_core.conf import GraphSearchConfig, ModelConfig, get_config
from dgs_core.documents import Document
from dgs_core.exceptions import EmbedderMismatchError, UnknownModelError
from dgs_core.plugins import get_registry
from dgs_core.traversal import TraversalPlan

log = logging.getLogger("dgs_core.indexing")


@dataclass
class IndexStats:
    """Counts of one indexing run."""

    indexed: int = 0
    skipped: int = 0  # unchanged since the last run: not embedded again
    failed: int = 0
    pruned: int = 0  # vectors whose rows no longer exist
    over_window: int = 0  # longer than the embedder reads (embedded from their beginning)
    failed_ids: list[str] = field(default_factory=list)

    def add(self, other: IndexStats) -> None:
        for name in ("indexed", "skipped", "failed", "pruned", "over_window"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed_ids.extend(other.failed_ids)


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
    return components.shared(("plan", model_config.model_label), lambda: TraversalPlan(model_config))


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
        self.embedder = components.get_embedder()
        self.store = store or components.get_vector_store()

    def index_documents(self, documents: Sequence[Document], force: bool = False) -> IndexStats:
        """Embed and store the documents whose text changed (all of them with ``force``)."""
        stats = IndexStats()
        if documents:
            components.check_embedder(self.store, self.embedder, writing=True)
        empty = [d.id for d in documents if not d.text.strip()]
        if empty:  # nothing to search for: make sure no old vector lingers either
            self.store.delete(empty)
            stats.skipped += len(empty)
        documents = [d for d in documents if d.text.strip()]
        hashes = {d.id: d.content_hash(self.embedder.id) for d in documents}
        if not force:
            stored = self.store.content_hashes([d.id for d in documents])
            unchanged = {i for i, h in stored.items() if hashes.get(i) == h}
            stats.skipped += len(unchanged)
            documents = [d for d in documents if d.id not in unchanged]
        if not documents:
            return stats
        window = self.embedder.max_input_tokens
        if window:
            for doc in documents:
                tokens = self.embedder.count_tokens(doc.text)
                if tokens and tokens > window:
                    stats.over_window += 1
                    log.info("%s has %d tokens; %s reads the first %d.", doc.id, tokens, self.embedder.id, window)
        try:
            self._embed_and_store(documents, hashes)
            stats.indexed = len(documents)
        except EmbedderMismatchError:
            raise  # a configuration problem, not a bad row: retrying documents one by one cannot help
        except Exception:
            if len(documents) == 1:
                log.exception("Indexing %s failed", documents[0].id)
                stats.failed, stats.failed_ids = 1, [documents[0].id]
                return stats
            # Isolate the failing documents so one bad row does not fail its whole batch.
            for doc in documents:
                stats.add(self.index_documents([doc], force=True))
        return stats

    def _embed_and_store(self, documents: Sequence[Document], hashes: dict[str, str]) -> None:
        vectors = self.embedder.embed_documents([d.text for d in documents])
        self.store.upsert([
            StoredDocument(d.id, d.model, d.pk, d.text, vectors[i], hashes[d.id], d.metadata)
            for i, d in enumerate(documents)
        ])

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
        model = model_config.model
        label = model_config.model_label
        stored = {i.split(":", 1)[1]: i for i in self.store.iter_ids([label])}
        if not stored:
            return 0
        existing = {str(pk) for pk in model._default_manager.values_list("pk", flat=True).iterator()}
        stale = [doc_id for pk, doc_id in stored.items() if pk not in existing]
        if stale:
            self.store.delete(stale)
        return len(stale)


def index(instance: models.Model) -> IndexStats:
    """(Re)index one instance now, with its related text."""
    model_config = model_config_for(instance)
    plan = get_plan(model_config)
    fresh = plan.queryset().filter(pk=instance.pk)
    return Indexer().index_documents(build_documents(plan, list(fresh)), force=False)


def delete(instance: models.Model) -> None:
    """Remove one instance from the index."""
    model_config = model_config_for(instance)
    components.get_vector_store().delete([document_id(model_config.model_label, instance.pk)])


def reindex_queryset(queryset: models.QuerySet, *, batch_size: Optional[int] = None) -> IndexStats:
    """Re-index the rows of ``queryset``: use it after ``queryset.update()`` or ``bulk_create``,
    which send no signals."""
    model_config = model_config_for(queryset.model)
    return Indexer().index_queryset(model_config, queryset, batch_size=batch_size)


def apply_changes(changes: Iterable[tuple[str, str, Any]]) -> None:
    """Apply ``("index" | "delete", "app_label.model", pk)`` changes, batched per model and action."""
    grouped: dict[tuple[str, str], list[Any]] = {}
    for action, label, pk in changes:
        grouped.setdefault((action, label.lower()), []).append(pk)
    indexer = Indexer()
    for (action, label), pks in grouped.items():
        model_config = model_config_for(label)
        if action == "delete":
            indexer.store.delete([document_id(label, pk) for pk in pks])
            continue
        model = model_config.model
        present = set(model._default_manager.filter(pk__in=pks).values_list("pk", flat=True))
        indexer.index_queryset(model_config, model._default_manager.filter(pk__in=present))
        gone = [document_id(label, pk) for pk in pks if pk not in present]
        if gone:
            indexer.store.delete(gone)
