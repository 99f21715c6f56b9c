"""Request filters parsed into :class:`~dgs_core.filters.Condition` s, validated against the searched models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models.constants import LOOKUP_SEP

from dgs_core.conf import ModelConfig
from dgs_core.exceptions import InvalidParameterError
from dgs_core.filters import LOOKUPS, Condition, normalize_value
from dgs_core.indexing.traversal import resolve_path
from dgs_core.searching.text_input import clean_text, refuse_malformed


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


def _without_nul(raw: Any) -> Any:
    if isinstance(raw, str):
        return clean_text("filters", raw)
    if isinstance(raw, (list, tuple)):
        return type(raw)(_without_nul(item) for item in raw)
    return raw


def parse_filters(
    filters: Mapping[str, Any], model_configs: Sequence[ModelConfig]
) -> tuple[list[Condition], list[ModelConfig]]:
    """Validate ``filters`` against the models being searched.

    :returns: the conditions, and the models that declare every filtered field (the only ones that
        can match). Raises :class:`InvalidParameterError` naming the filter and the fix. Text values lose their
        NUL characters; a lone surrogate is refused (:mod:`~dgs_core.searching.text_input`).
    """
    if not isinstance(filters, Mapping):
        raise InvalidParameterError("filters", "'filters' must be a mapping of field lookups to values.")
    conditions = []
    fields_used = set()
    refuse_malformed(filters)
    for key, raw in filters.items():
        raw = _without_nul(raw)
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
