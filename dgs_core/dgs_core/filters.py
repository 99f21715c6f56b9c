"""Metadata filters: ``search(..., filters={"genre__name": "Rock", "milliseconds__gte": 200000})``.

A model declares the paths it can be filtered on in ``filter_fields``; their values are stored as
document metadata at index time (multi-valued paths as lists) and each store pushes the conditions
into its engine. :func:`matches` is the reference semantics every store must agree with: a list
value matches when any of its items does, and ``isnull`` is true for ``None`` and empty lists.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.constants import LOOKUP_SEP

from dgs_core.conf import ModelConfig
from dgs_core.exceptions import InvalidParameterError

LOOKUPS = ("exact", "in", "lt", "lte", "gt", "gte", "isnull")


@dataclass(frozen=True)
class Condition:
    """One parsed filter: ``field`` is a declared filter path, ``value`` is normalised like stored metadata."""

    field: str
    lookup: str
    value: Any


def normalize_value(value: Any) -> Any:
    """The form a filter value takes in metadata: JSON scalars, dates as ISO strings."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _split(key: str) -> tuple[str, str]:
    head, _, tail = key.rpartition(LOOKUP_SEP)
    if head and tail in LOOKUPS:
        return head, tail
    return key, "exact"


def _coerce(field: Any, raw: Any, key: str) -> Any:
    if field is None:  # a path ending on a relation: compared as its string form
        return normalize_value(raw)
    if isinstance(raw, str) and field.get_internal_type() == "BooleanField" and raw.lower() in ("true", "false"):
        raw = raw.lower() == "true"  # query strings spell booleans in lower case
    try:
        return normalize_value(field.to_python(raw))
    except (ValidationError, TypeError, ValueError):
        raise InvalidParameterError(
            "filters", f"Filter {key!r}: {raw!r} is not a valid value for {field.model._meta.label}.{field.name}."
        ) from None


def parse_filters(
    filters: Mapping[str, Any], model_configs: Sequence[ModelConfig]
) -> tuple[list[Condition], list[ModelConfig]]:
    """Validate ``filters`` against the models being searched.

    :returns: the conditions, and the models that declare every filtered field (the only ones that
        can match). Raises :class:`InvalidParameterError` naming the filter and the fix.
    """
    from dgs_core.traversal import resolve_path

    if not isinstance(filters, Mapping):
        raise InvalidParameterError("filters", "'filters' must be a mapping of field lookups to values.")
    conditions = []
    fields_used = set()
    for key, raw in filters.items():
        field_path, lookup = _split(str(key))
        declaring = [m for m in model_configs if field_path in m.filter_fields]
        if not declaring:
            declared = sorted({f for m in model_configs for f in m.filter_fields})
            raise InvalidParameterError(
                "filters",
                f"Unknown filter {key!r}: no searched model declares {field_path!r} in 'filter_fields' "
                f"(declared: {', '.join(declared) or 'none'}; lookups: {', '.join(LOOKUPS)}).",
            )
        field = resolve_path(declaring[0].model, field_path).field
        if lookup == "isnull":
            if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0"):
                raw = raw.lower() in ("true", "1")
            if not isinstance(raw, bool):
                raise InvalidParameterError("filters", f"Filter {key!r} must be true or false.")
            value: Any = raw
        elif lookup == "in":
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, (list, tuple, set)) or not items:
                raise InvalidParameterError("filters", f"Filter {key!r} needs a non-empty list of values.")
            value = tuple(_coerce(field, item, key) for item in items)
        else:
            value = _coerce(field, raw, key)
            if value is None:
                raise InvalidParameterError(
                    "filters", f"Filter {key!r}: use {field_path}__isnull to match empty values."
                )
        conditions.append(Condition(field_path, lookup, value))
        fields_used.add(field_path)
    searchable = [m for m in model_configs if fields_used <= set(m.filter_fields)]
    return conditions, searchable


def _one(stored: Any, lookup: str, value: Any) -> bool:
    if stored is None:
        return False
    try:
        if lookup == "exact":
            return stored == value
        if lookup == "in":
            return stored in value
        if lookup == "lt":
            return stored < value
        if lookup == "lte":
            return stored <= value
        if lookup == "gt":
            return stored > value
        if lookup == "gte":
            return stored >= value
    except TypeError:  # e.g. comparing a string with a number: no match
        return False
    raise ValueError(f"unknown lookup {lookup!r}")


def matches(metadata: Mapping[str, Any], conditions: Sequence[Condition]) -> bool:
    """Whether stored ``metadata`` satisfies every condition (the reference semantics)."""
    for condition in conditions:
        stored = metadata.get(condition.field)
        values = stored if isinstance(stored, list) else [stored]
        if condition.lookup == "isnull":
            empty = all(v is None for v in values) or values == []
            if empty != condition.value:
                return False
        elif not any(_one(v, condition.lookup, condition.value) for v in values):
            return False
    return True
