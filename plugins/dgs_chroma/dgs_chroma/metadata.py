"""How a document is kept in Chroma's metadata, and how filter conditions become a Chroma ``where``.

Chroma metadata is flat: scalars, or (since chromadb 1.5) non-empty lists of one scalar type. Its range
operators compare numbers only, and a list only answers ``$contains``. So each document keeps its
metadata twice:

* exactly, as JSON under ``dgs:meta``, which is what a hit returns, and
* for every key ``p``, derived keys that a ``where`` can test with the semantics of
  :func:`dgs_core.filters.matches` (a list matches when any of its items does):

  =========================  ===============================================================================
  ``p:has``                  True when ``p`` holds a non-null value (absent otherwise; ``isnull``)
  ``p:eq``                   the items as canonical strings (``exact``, ``in``: ``$contains``)
  ``p:min`` / ``p:max``      smallest / largest number (some item is < v iff the smallest is, > v iff the largest)
  ``p:smin<i>``/``p:smax<i>``  smallest / largest string as integers that sort like the string (string ranges,
                             e.g. ISO dates)
  =========================  ===============================================================================

Canonical strings make ``1``, ``1.0`` and ``True`` equal, as they are in Python: numbers and booleans
become ``"n" + repr(float)``, strings ``"s" + text``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any, Optional

from dgs_core.filters import Condition

MODEL_KEY = "dgs:model"
PK_KEY = "dgs:pk"
HASH_KEY = "dgs:hash"
META_KEY = "dgs:meta"

#: A string sorts by its first STRING_PREFIX_BYTES UTF-8 bytes, padded with NUL, plus one byte that says
#: whether it was longer; the STRING_CHUNKS integers of CHUNK_BYTES bytes fit Chroma's int64 exactly.
CHUNK_BYTES = 7
STRING_CHUNKS = 5
STRING_PREFIX_BYTES = CHUNK_BYTES * STRING_CHUNKS - 1

#: A clause no document satisfies, and one every document satisfies (every document has a non-empty model
#: label): Chroma's delete() needs a ``where`` even to delete everything.
MATCHES_NOTHING = {MODEL_KEY: {"$eq": ""}}
MATCHES_EVERYTHING = {MODEL_KEY: {"$ne": ""}}


def chroma_metadata(model: str, pk: str, content_hash: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The Chroma metadata of one document: its identity, its exact metadata and the derived filter keys."""
    stored: dict[str, Any] = {
        MODEL_KEY: model,
        PK_KEY: pk,
        HASH_KEY: content_hash,
        META_KEY: json.dumps(metadata, ensure_ascii=False),
    }
    for key, value in metadata.items():
        stored.update(_filter_keys(key, value))
    return stored


def original_metadata(stored: dict[str, Any]) -> dict[str, Any]:
    """The metadata given at upsert, decoded from :func:`chroma_metadata`'s JSON copy."""
    return json.loads(stored[META_KEY])


def _filter_keys(key: str, value: Any) -> dict[str, Any]:
    items = value if isinstance(value, list) else [value]
    derived: dict[str, Any] = {}
    if any(item is not None for item in items):
        derived[f"{key}:has"] = True
    canonical = list(dict.fromkeys(c for c in map(_canonical, items) if c is not None))
    if canonical:
        derived[f"{key}:eq"] = canonical
    numbers = [_storable(float(item)) for item in items if _is_number(item) and not math.isnan(item)]
    if numbers:
        derived[f"{key}:min"], derived[f"{key}:max"] = min(numbers), max(numbers)
    strings = [item for item in items if isinstance(item, str)]
    if strings:
        for i, chunk in enumerate(_string_chunks(min(strings))[0]):
            derived[f"{key}:smin{i}"] = chunk
        for i, chunk in enumerate(_string_chunks(max(strings))[0]):
            derived[f"{key}:smax{i}"] = chunk
    return derived


def _is_number(value: Any) -> bool:
    return isinstance(value, (bool, int, float))


def _storable(number: float) -> float:
    """Infinities as the largest finite floats: Chroma (and JSON) cannot hold them, and they order the same."""
    return math.copysign(sys.float_info.max, number) if math.isinf(number) else number


def _canonical(value: Any) -> Optional[str]:
    if isinstance(value, str):
        return "s" + value
    if _is_number(value):
        return "n" + repr(float(value) + 0.0)  # + 0.0 turns -0.0 into 0.0, which Python calls equal
    return None


def _string_chunks(text: str) -> tuple[list[int], bool]:
    """Integers that compare like ``text`` (UTF-8 byte order is code point order), and whether it was cut."""
    encoded = text.encode("utf-8")
    cut = len(encoded) > STRING_PREFIX_BYTES
    padded = encoded[:STRING_PREFIX_BYTES].ljust(STRING_PREFIX_BYTES, b"\0") + (b"\1" if cut else b"\0")
    chunks = [int.from_bytes(padded[i : i + CHUNK_BYTES], "big") for i in range(0, len(padded), CHUNK_BYTES)]
    return chunks, cut


# -- where ------------------------------------------------------------------------------------------------


def where_clause(models: Optional[Sequence[str]], conditions: Sequence[Condition]) -> Optional[dict[str, Any]]:
    """The Chroma ``where`` restricting a search to ``models`` (lower-case labels) and ``conditions``.

    It accepts every document :func:`dgs_core.filters.matches` accepts, and in rare ties (string bounds
    longer than ``STRING_PREFIX_BYTES`` bytes, integers beyond 2**53, NaN) a few more, so the store
    re-checks each hit against ``matches``.
    """
    clauses = [{MODEL_KEY: {"$in": list(models)}}] if models else []
    clauses.extend(_condition_clause(condition) for condition in conditions)
    return _all_of(clauses)


def _condition_clause(condition: Condition) -> dict[str, Any]:
    field, lookup, value = condition.field, condition.lookup, condition.value
    if lookup == "isnull":
        return {f"{field}:has": {"$ne": True}} if value else {f"{field}:has": {"$eq": True}}
    if lookup == "exact":
        return _contains(field, value)
    if lookup == "in":
        return _any_of([_contains(field, item) for item in value])
    if lookup in ("lt", "lte", "gt", "gte"):
        return _range(field, lookup, value)
    raise ValueError(f"Unknown filter lookup {lookup!r} on {field!r}.")


def _contains(field: str, value: Any) -> dict[str, Any]:
    canonical = _canonical(value)
    return MATCHES_NOTHING if canonical is None else {f"{field}:eq": {"$contains": canonical}}


def _range(field: str, lookup: str, value: Any) -> dict[str, Any]:
    above = lookup.startswith("g")  # some item is above v iff the largest is; below iff the smallest is
    if _is_number(value):
        if math.isnan(value):
            return MATCHES_NOTHING  # nothing is below or above NaN
        # Beyond 2**53 distinct integers share a float, and infinities are stored as the largest floats:
        # accept the tie, the store re-checks hits.
        inclusive = lookup if lookup.endswith("e") else lookup + "e"
        operator = "$" + (inclusive if abs(value) > 2**53 else lookup)
        return {f"{field}:{'max' if above else 'min'}": {operator: _storable(float(value))}}
    if not isinstance(value, str):
        return MATCHES_NOTHING  # Python cannot order other values against numbers or strings
    chunks, cut = _string_chunks(value)
    keys = [f"{field}:{'smax' if above else 'smin'}{i}" for i in range(len(chunks))]
    # A cut bound ties with longer strings that share its prefix: accept the tie, the store re-checks.
    strict = lookup in ("lt", "gt") and not cut
    return _lexicographic(keys, chunks, "$gt" if above else "$lt", strict)


def _lexicographic(keys: list[str], chunks: list[int], operator: str, strict: bool) -> dict[str, Any]:
    """``tuple(stored keys) <operator> tuple(chunks)``, spelled as nested ``$or``/``$and``."""
    clause: dict[str, Any] = {keys[-1]: {operator if strict else operator + "e": chunks[-1]}}
    for key, chunk in zip(reversed(keys[:-1]), reversed(chunks[:-1]), strict=True):
        clause = {"$or": [{key: {operator: chunk}}, {"$and": [{key: {"$eq": chunk}}, clause]}]}
    return clause


def _all_of(clauses: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _any_of(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    if not clauses:
        return MATCHES_NOTHING
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}
