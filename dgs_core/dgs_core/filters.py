"""Metadata filter conditions, part of the store contract: ``Condition`` and its reference semantics.

Filters are given as ``search(..., filters={"genre__name": "Rock", "milliseconds__gte": 200000})`` and parsed
into conditions by :func:`dgs_core.searching.filters.parse_filters`. A model declares the paths it can be
filtered on in ``filter_fields``; their values are stored as document metadata at index time (multi-valued
paths as lists) and each store pushes the conditions into its engine. :func:`matches` is the reference
semantics every store must agree with: a list value matches when any of its items does, and ``isnull`` is
true for ``None`` and empty lists.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
