"""Metadata filters for the faiss store: per-field columns over FAISS slots, turned into slot masks.

A :class:`FieldColumn` holds one metadata field for every loaded slot as two sorted arrays of
``(value, slot)`` pairs, numbers (bools and ints as float64) and strings, plus which slots hold any
non-null value. Every lookup is then a binary search: ``exact`` and ``in`` take the slots between the
left and right insertion points of each value, ``lt``/``lte``/``gt``/``gte`` a prefix or a suffix, and
``isnull`` the complement of the non-null slots. The result is a boolean mask over slots, which the store
ANDs with the live and model masks and hands to FAISS as an ``IDSelectorBitmap``.

This reproduces :func:`dgs_core.filters.matches`: Python compares bools, ints and floats with each
other (``True == 1``) but never with strings, and a list matches when any item does. Integers beyond
±2**53 compare as float64.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dgs_core.filters import Condition

#: What SQLite's json_type() reports, decoded to what json.loads would have produced.
_CONSTANTS = {"null": None, "true": True, "false": False}


def decode(kind: str | None, value: Any) -> Any:
    """A value read with SQLite ``json_type``/``json_extract``, as it was stored (``None`` when missing)."""
    if kind is None or kind in _CONSTANTS:
        return _CONSTANTS.get(kind)
    if kind in ("array", "object"):
        return json.loads(value)
    return value


#: Python compares these with each other (``True == 1 == 1.0``), never with strings.
_NUMBERS = (bool, int, float)


def _bucket(value: Any) -> str | None:
    """Which sorted array a scalar belongs to; ``None`` for values no lookup can match (None, NaN, objects)."""
    kind = type(value)
    if kind is str:
        return "texts"
    if kind in _NUMBERS and value == value:  # NaN equals nothing, itself included
        return "numbers"
    return None


_COMPARE = {"exact": operator.eq, "lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


class SortedPairs:
    """``(value, slot)`` pairs sorted by value, plus the few most recently added pairs unsorted.

    Inserting into the sorted arrays copies them, so single writes go to the small ``recent`` list,
    which lookups scan, and are folded into the sorted arrays once it outgrows 1/32 of them.
    """

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype
        self.values = np.zeros(0, dtype=dtype)
        self.slots = np.zeros(0, dtype=np.int64)
        self.recent_values: list[Any] = []
        self.recent_slots: list[int] = []

    def merge(self, values: list[Any], slots: list[int]) -> None:
        self.recent_values += values
        self.recent_slots += slots
        if len(self.recent_values) > max(1024, len(self.values) // 32):
            self._fold()

    def _fold(self) -> None:
        values, slots = self.recent_values, self.recent_slots
        order = sorted(range(len(values)), key=values.__getitem__)  # Timsort: much faster than numpy on objects
        new_values = np.array([values[i] for i in order], dtype=self.dtype)
        new_slots = np.array(slots, dtype=np.int64)[order]
        self.recent_values, self.recent_slots = [], []
        if not len(self.values):
            self.values, self.slots = new_values, new_slots
            return
        at = np.searchsorted(self.values, new_values)
        self.values = np.insert(self.values, at, new_values)
        self.slots = np.insert(self.slots, at, new_slots)

    def between(self, value: Any, lookup: str) -> np.ndarray:
        """Slots whose value satisfies ``stored <lookup> value``."""
        value = np.array(value, dtype=self.dtype)
        if lookup == "exact":
            low, high = np.searchsorted(self.values, value, "left"), np.searchsorted(self.values, value, "right")
        elif lookup in ("lt", "lte"):
            low, high = 0, np.searchsorted(self.values, value, "left" if lookup == "lt" else "right")
        elif lookup in ("gt", "gte"):
            low, high = np.searchsorted(self.values, value, "right" if lookup == "gt" else "left"), len(self.values)
        else:
            raise ValueError(f"unknown lookup {lookup!r}")
        found = self.slots[low:high]
        if self.recent_values:
            recent = _COMPARE[lookup](np.array(self.recent_values, dtype=self.dtype), value)
            found = np.concatenate([found, np.array(self.recent_slots, dtype=np.int64)[recent.astype(bool)]])
        return found


class FieldColumn:
    """One metadata field over the loaded slots; extended as slots are appended, never rebuilt in place."""

    def __init__(self) -> None:
        self.filled = np.zeros(0, dtype=bool)  # slot holds at least one non-null value
        self.pairs = {"numbers": SortedPairs(np.float64), "texts": SortedPairs(object)}

    def add(self, rows: Iterable[tuple[int, Any]]) -> None:
        """Index ``(slot, value)`` for newly loaded slots; ``value`` is a scalar, a list or ``None``."""
        numbers, number_slots, texts, text_slots, filled = [], [], [], [], []
        for slot, value in rows:  # the hot loop of a column's first load: _bucket() inlined
            for item in value if type(value) is list else (value,):
                kind = type(item)
                if kind is str:
                    texts.append(item)
                    text_slots.append(slot)
                elif kind in _NUMBERS and item == item:
                    numbers.append(item)
                    number_slots.append(slot)
                elif item is None:
                    continue
                filled.append(slot)
        self.pairs["numbers"].merge(numbers, number_slots)
        self.pairs["texts"].merge(texts, text_slots)
        if filled:
            self.filled = self._sized(self.filled, max(filled) + 1)
            self.filled[filled] = True

    @staticmethod
    def _sized(mask: np.ndarray, size: int) -> np.ndarray:
        if len(mask) >= size:
            return mask[:size]
        return np.concatenate([mask, np.zeros(size - len(mask), dtype=bool)])

    def mask(self, condition: Condition, size: int) -> np.ndarray:
        """Slots ``[0, size)`` whose stored value satisfies ``condition``."""
        if condition.lookup == "isnull":
            filled = self._sized(self.filled, size)
            return ~filled if condition.value else filled.copy()
        values: Sequence[Any] = condition.value if condition.lookup == "in" else [condition.value]
        lookup = "exact" if condition.lookup == "in" else condition.lookup
        selected = np.zeros(size, dtype=bool)
        for value in values:
            bucket = _bucket(value)
            if bucket:
                selected[self.pairs[bucket].between(value, lookup)] = True
        return selected
