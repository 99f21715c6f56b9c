"""dgs filter conditions as Qdrant payload filters, and document metadata as the payload they run on.

The reference is :func:`dgs_core.filters.matches`: a list value matches when any of its items does, and
``isnull`` is true for ``None``, a missing key and a list of nothing but ``None``. Qdrant already checks a
condition against each item of an array, and its ``IsEmpty`` is true for a missing key, ``null`` and
``[]``, so the one difference is closed at write time: the filterable copy of the metadata
(:func:`filterable`) leaves ``None`` out of lists, where it can never match anything.

Qdrant compares numbers by value and booleans only with booleans, and it orders strings only as
datetimes. Ranges over ISO dates and datetimes (how dgs stores date fields) therefore become
``DatetimeRange`` conditions, which order them as the reference orders their text when the values share
one format and offset; ranges over other text raise a clear error instead of returning wrong hits.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from qdrant_client import models as qm

from dgs_core.exceptions import InvalidParameterError
from dgs_core.filters import Condition

#: Payload key of the filterable copy of a document's metadata.
FILTER_VALUES = "filter_values"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: What Python's ``isoformat()`` writes for dates and datetimes, all of which Qdrant parses as datetimes.
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$")


def filter_path(field: str) -> str:
    """The Qdrant payload path of metadata ``field`` (dgs filter paths are identifiers like ``genre__name``)."""
    return f"{FILTER_VALUES}.{field}" if _IDENTIFIER.match(field) else f'{FILTER_VALUES}."{field}"'


def filterable(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The copy of ``metadata`` that filters run on: lists without their ``None`` items. Keys starting
    with "_" are core's bookkeeping (a chunk's section spans), never filter fields."""
    return {
        key: [item for item in value if item is not None] if isinstance(value, list) else value
        for key, value in metadata.items() if not key.startswith("_")
    }


def parse_iso_datetime(value: Any) -> Optional[datetime.date]:
    """``value`` as a date or datetime when it is an ISO string as dgs stores date fields, else ``None``."""
    if not isinstance(value, str) or not _ISO_DATETIME.match(value):
        return None
    try:
        if len(value) == 10:
            return datetime.date.fromisoformat(value)
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))  # Python 3.10 rejects "Z"
    except ValueError:  # e.g. month 13
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal_to(key: str, value: Any) -> qm.FieldCondition:
    if isinstance(value, float):  # Qdrant matches floats by range only; a range also finds equal integers
        return qm.FieldCondition(key=key, range=qm.Range(gte=value, lte=value))
    return qm.FieldCondition(key=key, match=qm.MatchValue(value=value))


def _any_of(key: str, values: Iterable[Any]) -> Optional[qm.Condition]:
    """Matches when the stored value (or one of its items) equals one of ``values``; None if none can."""
    values = [v for v in values if v is not None]  # None is never equal to a stored value
    strings = [v for v in values if isinstance(v, str)]
    integers = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    others = [v for v in values if not isinstance(v, str) and not (isinstance(v, int) and not isinstance(v, bool))]
    alternatives: list[qm.Condition] = [
        qm.FieldCondition(key=key, match=qm.MatchAny(any=group) if len(group) > 1 else qm.MatchValue(value=group[0]))
        for group in (strings, integers)
        if group
    ]
    alternatives += [_equal_to(key, v) for v in others]
    if len(alternatives) > 1:
        return qm.Filter(should=alternatives)
    return alternatives[0] if alternatives else None


def _compared(key: str, condition: Condition) -> Optional[qm.FieldCondition]:
    bound = {condition.lookup: condition.value}
    if _is_number(condition.value):
        return qm.FieldCondition(key=key, range=qm.Range(**bound))
    moment = parse_iso_datetime(condition.value)
    if moment is not None:
        return qm.FieldCondition(key=key, range=qm.DatetimeRange(**{condition.lookup: moment}))
    if condition.value is None or isinstance(condition.value, bool):
        return None  # the reference never orders None, and Qdrant never orders booleans: nothing matches
    raise InvalidParameterError(
        "filters",
        f"Filter '{condition.field}__{condition.lookup}': the qdrant vector store compares numbers, dates and "
        f"datetimes with lt/lte/gt/gte, not text like {condition.value!r}. Use an exact or __in filter on this "
        "field, or filter on a numeric or date field.",
    )


def translate(conditions: Sequence[Condition]) -> Optional[list[qm.Condition]]:
    """Qdrant conditions that must all hold, or ``None`` when no document can match ``conditions``."""
    translated: list[qm.Condition] = []
    for condition in conditions:
        key = filter_path(condition.field)
        if condition.lookup == "isnull":
            empty = qm.IsEmptyCondition(is_empty=qm.PayloadField(key=key))
            translated.append(empty if condition.value else qm.Filter(must_not=[empty]))
            continue
        if condition.lookup == "exact":
            result = _any_of(key, [condition.value])
        elif condition.lookup == "in":
            result = _any_of(key, condition.value)
        elif condition.lookup in ("lt", "lte", "gt", "gte"):
            result = _compared(key, condition)
        else:
            raise ValueError(f"unknown lookup {condition.lookup!r}")
        if result is None:
            return None
        translated.append(result)
    return translated


def payload_schemas(metadata_rows: Iterable[Mapping[str, Any]]) -> dict[str, qm.PayloadSchemaType]:
    """The payload index worth creating for each filterable key, judged by the values in ``metadata_rows``.

    Keys whose values mix types the Qdrant index kinds cannot share (text with numbers, say) get no index:
    filters on them stay correct, the server checks the payload instead.
    """
    kinds: dict[str, set[str]] = {}
    for metadata in metadata_rows:
        for key, value in metadata.items():
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    kinds.setdefault(key, set()).add(_kind(item))
    schemas = {}
    for key, found in kinds.items():
        if found <= {"integer", "float"}:
            schema = qm.PayloadSchemaType.INTEGER if found == {"integer"} else qm.PayloadSchemaType.FLOAT
        elif len(found) == 1 and next(iter(found)) in _SCHEMAS:
            schema = _SCHEMAS[next(iter(found))]
        else:
            continue
        schemas[filter_path(key)] = schema
    return schemas


_SCHEMAS = {
    "bool": qm.PayloadSchemaType.BOOL,
    "datetime": qm.PayloadSchemaType.DATETIME,
    "keyword": qm.PayloadSchemaType.KEYWORD,
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "datetime" if parse_iso_datetime(value) is not None else "keyword"
    return "other"  # objects and nested lists: not indexable as one kind
