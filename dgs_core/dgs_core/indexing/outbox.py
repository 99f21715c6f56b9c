"""The outbox: durable, coalesced records of index changes, and the drain that applies them.

* :func:`record` is called by the signal receivers (:mod:`dgs_core.indexing.signals`) while the change is being
  made. It writes one :class:`~dgs_core.models.IndexChange` row per affected document *in the same
  transaction*, so a committed change always has its row and a rolled-back one never has. Saving one
  object 1,000 times updates its one row (the first write per transaction is the only query).
* When the transaction commits, the ids recorded in it are handed to the transport once
  (:func:`dispatch`). The transport runs :func:`drain` where the work should happen.
* :func:`drain` takes ("leases") due rows, reads the current database state of their objects, indexes
  or deletes them, and deletes the rows it applied. A failed row keeps ``attempts`` and ``last_error``
  and becomes due again after an exponential backoff; after ``ASYNC_INDEXING["MAX_RETRIES"]`` failed
  attempts it waits for ``build_search_index --retry-failed``. A row that changes while a worker holds
  it is marked dirty and is not deleted by that worker, so no later change is lost to an earlier one.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

from django.db import connections, router, transaction
from django.db.models import Count, Min, Q, Value
from django.db.models.functions import Left, StrIndex
from django.utils import timezone

from dgs_core import engine
from dgs_core.base import document_id
from dgs_core.conf import AsyncIndexingConfig, get_config
from dgs_core.ids import MODEL_SEPARATOR
from dgs_core.models import IndexChange

log = logging.getLogger("dgs_core.indexing.outbox")

#: Characters of an error kept in ``IndexChange.last_error``.
ERROR_LENGTH = 2000


def outbox_alias() -> str:
    """The database the outbox lives in (the router's choice for writes; usually ``default``)."""
    return router.db_for_write(IndexChange)


# -------------------------------------------------------------------------------------------------
# Recording changes (inside the caller's transaction)
# -------------------------------------------------------------------------------------------------


class _TransactionChanges:
    """What one transaction of one connection recorded; dispatched once, when it commits."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        # document id -> (action, savepoints active when its row was written): a row written inside a
        # savepoint that was rolled back since is gone and must be written again.
        self.written: dict[str, tuple[str, frozenset]] = {}
        self.callback = self.dispatch  # kept: its identity tells whether the on_commit hook is still queued
        self.dispatched = False

    def dispatch(self) -> None:
        self.dispatched = True
        dispatch(sorted(self.ids))


def _changes_of_transaction(connection, alias: str) -> _TransactionChanges:
    current = getattr(connection, "_dgs_transaction_changes", None)
    # After a commit, or a rollback that discarded the queued hook (and the rows), start afresh.
    if (current is None or current.dispatched
            or not any(entry[1] is current.callback for entry in connection.run_on_commit)):
        current = _TransactionChanges()
        connection._dgs_transaction_changes = current
        transaction.on_commit(current.callback, using=alias, robust=True)
    return current


def _write(alias: str, changes: Mapping[str, str]) -> None:
    now = timezone.now()
    rows = [
        IndexChange(document_id=doc_id, action=action, attempts=0, next_attempt_at=now, last_error="",
                    dirty=True, changed_at=now)
        for doc_id, action in changes.items()
    ]
    with_target = connections[alias].features.supports_update_conflicts_with_target
    IndexChange.objects.using(alias).bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["document_id"] if with_target else None,
        update_fields=["action", "attempts", "next_attempt_at", "last_error", "dirty", "changed_at"],
    )


def record(changes: Mapping[str, str]) -> None:
    """Record ``{document_id: "index" | "delete"}`` in the outbox, in the current transaction.

    Inside a transaction the ids are dispatched when it commits; in autocommit mode call
    :func:`flush` once the change itself is written.
    """
    if not changes:
        return
    alias = outbox_alias()
    connection = connections[alias]
    if not connection.in_atomic_block:
        _write(alias, changes)
        pending = connection.__dict__.setdefault("_dgs_autocommit_ids", set())
        pending.update(changes)
        return
    current = _changes_of_transaction(connection, alias)
    savepoints = frozenset(connection.savepoint_ids)
    fresh = {}
    for doc_id, action in changes.items():
        written = current.written.get(doc_id)
        if written is None or written[0] != action or not written[1] <= savepoints:
            fresh[doc_id] = action
    if fresh:
        _write(alias, fresh)
        current.written.update({doc_id: (action, savepoints) for doc_id, action in fresh.items()})
    current.ids.update(changes)


def flush() -> None:
    """Dispatch what was recorded in autocommit mode; inside a transaction, commit does it."""
    connection = connections[outbox_alias()]
    if connection.in_atomic_block:
        return
    pending = connection.__dict__.pop("_dgs_autocommit_ids", None)
    if pending:
        dispatch(sorted(pending))


def dispatch(document_ids: Sequence[str]) -> None:
    """Hand recorded changes to the transport. A failure here loses nothing: the rows stay due."""
    if not document_ids:
        return
    try:
        engine.get_transport().submit(list(document_ids))
    except Exception:
        log.exception(
            "Handing %d index changes to the transport failed. They stay in the outbox: the next drain applies "
            "them, or run `manage.py build_search_index --retry-failed`.", len(document_ids),
        )


# -------------------------------------------------------------------------------------------------
# Draining (wherever the transport runs the work)
# -------------------------------------------------------------------------------------------------


@dataclass
class DrainResult:
    """What one :func:`drain` did."""

    applied: int = 0
    failed: int = 0
    #: Seconds until a change left in the drained scope may be tried (a backoff or another worker's
    #: lease ends); ``None`` when nothing is left that will be retried automatically.
    retry_in: Optional[float] = None
    #: The drain stopped at ``max_batches`` with a full last batch: more work is probably due.
    more: bool = False


def backoff_seconds(attempts: int, settings: AsyncIndexingConfig) -> float:
    """Wait before attempt ``attempts + 1``: ``RETRY_BACKOFF`` doubled per failure, capped, at least 1 s."""
    delay = settings.retry_backoff * 2 ** max(0, attempts - 1)
    return float(max(1, min(delay, settings.retry_backoff_max)))


def _scope(alias: str, document_ids: Optional[Sequence[str]], models: Optional[Sequence[str]]):
    queryset = IndexChange.objects.using(alias)
    if document_ids is not None:
        queryset = queryset.filter(document_id__in=list(document_ids))
    if models:
        match = Q()
        for label in models:
            match |= Q(document_id__startswith=f"{label.lower()}:")
        queryset = queryset.filter(match)
    return queryset


def _claim(alias: str, scope, limit: int, settings: AsyncIndexingConfig, ignore_max_retries: bool) -> tuple[str, list]:
    now = timezone.now()
    due = scope.filter(next_attempt_at__lte=now).filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
    if not ignore_max_retries:
        due = due.filter(attempts__lt=settings.max_retries)
    candidates = list(due.order_by("next_attempt_at").values_list("document_id", flat=True)[:limit])
    if not candidates:
        return "", []
    lease = uuid.uuid4().hex
    # One UPDATE that re-checks the due conditions: two workers never take the same row.
    due.filter(document_id__in=candidates).update(
        lease=lease, leased_until=now + timedelta(seconds=settings.lease_seconds), dirty=False
    )
    return lease, list(IndexChange.objects.using(alias).filter(lease=lease))


def drain(
    document_ids: Optional[Iterable[str]] = None,
    *,
    models: Optional[Sequence[str]] = None,
    max_batches: Optional[int] = None,
    retry_failed: bool = False,
) -> DrainResult:
    """Apply due outbox rows: those of ``document_ids`` (default: all), optionally only of ``models``.

    Takes at most ``INDEX_BATCH_SIZE`` rows per batch and continues until nothing due is left (or
    ``max_batches``). With ``retry_failed`` rows that failed are tried now, past their backoff and
    ``MAX_RETRIES``. Safe to run in many processes at once.
    """
    config = get_config()
    settings = config.async_indexing
    alias = outbox_alias()
    ids = None if document_ids is None else list(dict.fromkeys(document_ids))
    scope = _scope(alias, ids, models)
    if retry_failed:
        scope.filter(attempts__gt=0).update(next_attempt_at=timezone.now())
    result = DrainResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        lease, rows = _claim(alias, scope, config.index_batch_size, settings, retry_failed)
        if not rows:
            break
        batches += 1
        _settle(alias, lease, rows, _apply(rows), settings, result)
        result.more = len(rows) == config.index_batch_size
    if not result.more:
        result.retry_in = _retry_in(scope, settings)
    return result


def _apply(rows: Sequence[IndexChange]) -> dict[str, str]:
    """Bring the index in line with the database for ``rows``; returns ``{document_id: error}`` of failures."""
    from dgs_core.indexing.indexer import Indexer

    config = get_config()
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        groups[row.model_label][row.action].append(row.object_pk)
    failures: dict[str, str] = {}
    for label, by_action in groups.items():
        ids = [document_id(label, pk) for pks in by_action.values() for pk in pks]
        try:
            indexer = Indexer(config)
            model_config = config.model_config(label)
            gone = [document_id(label, pk) for pk in by_action["delete"]]
            if model_config is None:  # no longer configured: its vectors must not linger
                indexer.delete_documents(ids)
                continue
            wanted = by_action["index"]
            if wanted:
                manager = model_config.model._default_manager
                present = {str(pk) for pk in manager.filter(pk__in=wanted).values_list("pk", flat=True)}
                stats = indexer.index_queryset(model_config, manager.filter(pk__in=present))
                error = stats.last_error or "indexing failed; see the dgs_core.indexing.indexer log"
                failures.update({doc_id: error for doc_id in stats.failed_ids})
                gone += [document_id(label, pk) for pk in wanted if pk not in present]
            indexer.delete_documents(gone)
        except Exception as exc:
            log.warning("Applying %d index changes of %s failed: %s", len(ids), label, exc, exc_info=True)
            failures.update({doc_id: f"{type(exc).__name__}: {exc}" for doc_id in ids})
    return failures


def _settle(alias, lease: str, rows, failures: dict[str, str], settings: AsyncIndexingConfig,
            result: DrainResult) -> None:
    """Delete applied rows, schedule failed ones, release the rest (rows changed while leased)."""
    held = IndexChange.objects.using(alias).filter(lease=lease, dirty=False)
    applied = [row.document_id for row in rows if row.document_id not in failures]
    held.filter(document_id__in=applied).delete()
    by_attempts: dict[tuple[int, str], list[str]] = defaultdict(list)
    for row in rows:
        if row.document_id in failures:
            by_attempts[(row.attempts + 1, failures[row.document_id][:ERROR_LENGTH])].append(row.document_id)
    now = timezone.now()
    for (attempts, error), ids in by_attempts.items():
        held.filter(document_id__in=ids).update(
            attempts=attempts, last_error=error, lease="", leased_until=None,
            next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts, settings)),
        )
    IndexChange.objects.using(alias).filter(lease=lease).update(lease="", leased_until=None)
    result.applied += len(applied)
    result.failed += len(rows) - len(applied)


def _retry_in(scope, settings: AsyncIndexingConfig) -> Optional[float]:
    now = timezone.now()
    retried = scope.filter(attempts__lt=settings.max_retries)
    free = retried.filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now)).aggregate(t=Min("next_attempt_at"))
    held = retried.filter(leased_until__gte=now).aggregate(t=Min("leased_until"))
    times = [t for t in (free["t"], held["t"]) if t is not None]
    if not times:
        return None
    return max(0.0, (min(times) - now).total_seconds())


# -------------------------------------------------------------------------------------------------
# Reporting
# -------------------------------------------------------------------------------------------------


def counts_by_model() -> dict[str, dict[str, int]]:
    """``{model_label: {"pending": n, "failed": m}}``: rows never tried yet, and rows whose last attempt failed."""
    label = Left("document_id", StrIndex("document_id", Value(MODEL_SEPARATOR)) - 1)  # as DocumentRef.parse reads it
    rows = (
        IndexChange.objects.using(outbox_alias())
        .annotate(label=label)
        .values("label")
        .annotate(pending=Count("pk", filter=Q(attempts=0)), failed=Count("pk", filter=Q(attempts__gt=0)))
    )
    return {row["label"]: {"pending": row["pending"], "failed": row["failed"]} for row in rows}


def recent_failures(models: Optional[Sequence[str]] = None, limit: int = 5) -> list[IndexChange]:
    """The most recently failed changes (with ``attempts`` and ``last_error``)."""
    scope = _scope(outbox_alias(), None, models)
    return list(scope.filter(attempts__gt=0).order_by("-next_attempt_at")[:limit])


def drift(models: Optional[Sequence[str]] = None) -> dict[str, list[str]]:
    """Where the index disagrees with the database now, for the configured ``models`` (default: all).

    ``outdated``: rows whose vector is missing or was made from another text; ``stale``: vectors of
    rows that no longer exist. Builds every document (no embedding): for tests and audits.
    """
    from dgs_core.indexing.chunking import StoredHash, stored_documents
    from dgs_core.indexing.indexer import Indexer, build_documents, get_plan

    config = get_config()
    indexer = Indexer(config)
    outdated, stale = [], []
    for model_config in config.models:
        if models and model_config.model_label not in {m.lower() for m in models}:
            continue
        plan = get_plan(model_config)
        expected = {
            doc.id: indexer.document_hash(doc)
            for batch in plan.iter_batches(None, config.index_batch_size)
            for doc in build_documents(plan, batch, config)
            if doc.text.strip()
        }
        stored = {i: StoredHash.parse(h).digest for i, h in indexer.store.content_hashes(list(expected)).items()}
        outdated += sorted(doc_id for doc_id, digest in expected.items() if stored.get(doc_id) != digest)
        entries = indexer.store.iter_ids([model_config.model_label])
        stale += sorted({str(ref) for ref in stored_documents(indexer.store, entries)} - set(expected))
    return {"outdated": outdated, "stale": stale}
