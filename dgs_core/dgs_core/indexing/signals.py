"""Automatic indexing (``AUTO_INDEX``): model signals -> outbox rows -> transport.

Receivers are connected per model, only for models on a configured path (see
:mod:`dgs_core.indexing.dependents`), so every other model keeps Django's fast paths (fast deletes). They are
reconnected when ``GRAPH_SEARCH`` changes and disconnected when ``AUTO_INDEX`` is off.

What each signal records (in the transaction of the change, see :mod:`dgs_core.indexing.outbox`):

* ``pre_save``: the documents the row's changed fields reach, through the row's old and new links.
  The old values of the watched fields are read once (one query) unless ``update_fields`` tells what
  changed; a save that changed no watched field records nothing. Recording before the write means a
  change made outside a transaction cannot be committed without its outbox row (except a new row
  with a database-assigned key, whose own document is recorded by ``post_save``).
* ``pre_delete``: the other documents that include the row; ``post_delete``: its own document's removal.
* ``m2m_changed`` (both sides, ``add``, ``remove``, ``clear``): the documents of the near side.

``queryset.update()``, ``bulk_create()`` and raw SQL send no signals: follow them with
:func:`dgs_core.reindex_queryset`.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from django.apps import apps
from django.core.signals import setting_changed
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import Signal, receiver

from dgs_core.base import document_id
from dgs_core.conf import get_config
from dgs_core.exceptions import GraphSearchError
from dgs_core.indexing import outbox
from dgs_core.indexing.dependents import DependencyGraph

log = logging.getLogger("dgs_core.indexing.signals")

_graph: Optional[DependencyGraph] = None
_connected: list[tuple[Signal, Any, type[models.Model]]] = []
#: Set on an instance whose own document can only be recorded once the database has assigned its key.
AFTER_SAVE_FLAG = "_dgs_index_after_save"


def connect() -> None:
    """Connect the receivers the current ``GRAPH_SEARCH`` needs (none when ``AUTO_INDEX`` is off)."""
    global _graph
    disconnect()
    try:
        config = get_config()
        if not config.auto_index or not config.models:
            return
        graph = DependencyGraph.build(config)
    except (GraphSearchError, ValueError, LookupError) as exc:
        log.error("AUTO_INDEX is on but GRAPH_SEARCH cannot be used (%s); automatic indexing is off until it is "
                  "fixed. Run `manage.py check`.", exc)
        return
    _graph = graph
    sources = set(graph.routes)
    for model in apps.get_models(include_auto_created=True):
        if model._meta.concrete_model in sources:  # proxies send signals with their own class
            for signal, handler in ((pre_save, _before_save), (post_save, _after_save),
                                    (pre_delete, _before_delete), (post_delete, _after_delete)):
                _connect(signal, handler, model)
    for through in graph.m2m_routes:
        _connect(m2m_changed, _m2m_changed, through)


def disconnect() -> None:
    global _graph
    for signal, handler, sender in _connected:
        signal.disconnect(handler, sender=sender)
    _connected.clear()
    _graph = None


def _connect(signal: Signal, handler, sender: type[models.Model]) -> None:
    signal.connect(handler, sender=sender, weak=False)
    _connected.append((signal, handler, sender))


@receiver(setting_changed)
def _on_setting_changed(setting: str, **kwargs: Any) -> None:
    if setting == "GRAPH_SEARCH":
        connect()


# -------------------------------------------------------------------------------------------------
# Receivers
# -------------------------------------------------------------------------------------------------


def _before_save(sender, instance, raw=False, using=None, update_fields=None, **kwargs) -> None:
    graph = _graph
    if graph is None:
        return
    model = sender._meta.concrete_model
    label = graph.indexed.get(model)
    if raw:  # loaddata: relations may not exist yet; the row's own document reads them after commit
        if label and instance.pk is not None:
            outbox.record({document_id(label, instance.pk): "index"})
        return
    created = instance._state.adding
    changed, old = (None, {}) if created else _changed_fields(graph, model, instance, using, update_fields)
    if changed is not None and not changed:
        return
    outbox.record(graph.changes_for_save(instance, changed, old, created=created))
    if label and instance.pk is None:
        instance.__dict__[AFTER_SAVE_FLAG] = True


def _changed_fields(graph: DependencyGraph, model, instance, using, update_fields):
    """``(changed attnames or None if unknown, {route key: old value})`` for a save of an existing row."""
    keys = {route.key for route in graph.routes.get(model, ()) if route.key}
    if update_fields is not None:
        changed = {model._meta.get_field(name).attname for name in update_fields}
        wanted = keys & changed
        if not wanted:
            return changed, {}
        row = model._base_manager.using(using).filter(pk=instance.pk).values(*wanted).first()
        return changed, row or {}
    watched = graph.watched_fields(model)
    if watched is None:
        watched = frozenset(f.attname for f in model._meta.concrete_fields)
    if not watched:
        return set(), {}
    row = model._base_manager.using(using).filter(pk=instance.pk).values(*watched).first()
    if row is None:  # not in the database after all: a new row
        return None, {}
    changed = {name for name in watched if row[name] != getattr(instance, name)}
    return changed, {key: row[key] for key in keys & changed}


def _after_save(sender, instance, raw=False, **kwargs) -> None:
    graph = _graph
    if graph is not None and instance.__dict__.pop(AFTER_SAVE_FLAG, False):
        label = graph.indexed[sender._meta.concrete_model]
        outbox.record({document_id(label, instance.pk): "index"})
    outbox.flush()


def _before_delete(sender, instance, **kwargs) -> None:
    graph = _graph
    if graph is not None:
        outbox.record(graph.changes_for_delete(instance))


def _after_delete(sender, instance, **kwargs) -> None:
    graph = _graph
    if graph is None:
        return
    label = graph.indexed.get(sender._meta.concrete_model)
    if label:
        outbox.record({document_id(label, instance.pk): "delete"})
    outbox.flush()


def _m2m_changed(sender, instance, action, reverse, pk_set=None, **kwargs) -> None:
    graph = _graph
    if graph is None:
        return
    if action in ("pre_add", "pre_remove", "pre_clear"):
        outbox.record(graph.changes_for_m2m(sender, instance, reverse, None if action == "pre_clear" else pk_set))
    elif action.startswith("post_"):
        outbox.flush()
