"""Document and chunk ids as one value type, so they are built and read in one place.

A document's id is ``"<app_label.model>:<pk>"`` with the label lower-cased; the n-th chunk (n >= 1) of a
long document is stored as its own entry, ``"<document id>#<n>"`` (:mod:`dgs_core.indexing.chunking`).
Stores, the outbox and judgment files keep these strings, so their format never changes.

A model label never contains ``":"``, so an id splits at the first one and a primary key may contain
anything, ``":"`` and ``"#"`` included. Only an id read back from a store can be a chunk's; there, a
primary key that itself ends in ``#<n>`` reads like chunk n of a shorter one, and only the chunk count
recorded with the document tells them apart (:func:`dgs_core.indexing.chunking.stored_documents`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

#: Ends the model label of an id (the first occurrence; a primary key may contain more).
MODEL_SEPARATOR = ":"
#: What a chunk's entry id adds to its document's id; chunk numbers are written without leading zeros.
_CHUNK_SUFFIX = re.compile(r"#([1-9][0-9]*)\Z")


@dataclass(frozen=True)
class DocumentRef:
    """One indexed object (``chunk`` 0) or one chunk of its text; ``str()`` is its id.

    ``DocumentRef("shop.Product", 7)`` is ``"shop.product:7"``; with ``chunk=2``, ``"shop.product:7#2"``.
    The model label is kept lower-cased and the primary key as text, so equal ids are equal refs.
    """

    model: str
    pk: Any  # any primary key value; kept as its str()
    chunk: int = 0

    def __post_init__(self) -> None:
        model, pk = str(self.model).lower(), str(self.pk)
        if not model or MODEL_SEPARATOR in model:
            raise ValueError(f"{self.model!r} is not a model label: expected 'app_label.model'")
        if self.chunk < 0:
            raise ValueError(f"chunk must be 0 or more, not {self.chunk}")
        # Frozen: normalised past the dataclass guard, once.
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "pk", pk)

    def __str__(self) -> str:
        document = f"{self.model}{MODEL_SEPARATOR}{self.pk}"
        return f"{document}#{self.chunk}" if self.chunk else document

    @classmethod
    def parse(cls, document_id: str) -> DocumentRef:
        """The ref of a document id (never a chunk's): everything after the first ``":"`` is the pk."""
        model, separator, pk = str(document_id).partition(MODEL_SEPARATOR)
        if not separator:
            raise ValueError(f"{document_id!r} is not a document id: expected '<app_label.model>:<pk>'")
        return cls(model, pk)

    @classmethod
    def parse_entry(cls, entry_id: str) -> DocumentRef:
        """The ref of an id a store holds: a trailing ``#<n>`` (n >= 1) is read as chunk n.

        ``str()`` of the result is ``entry_id`` again either way; whether a pk ending in ``#<n>`` was
        meant takes the document's chunk count (:func:`dgs_core.indexing.chunking.stored_documents`).
        """
        ref = cls.parse(entry_id)
        suffix = _CHUNK_SUFFIX.search(ref.pk)
        if suffix is None or suffix.start() == 0:
            return ref
        return cls(ref.model, ref.pk[: suffix.start()], int(suffix[1]))

    @property
    def document(self) -> DocumentRef:
        """The object this ref belongs to (itself when it is not a chunk)."""
        return replace(self, chunk=0) if self.chunk else self

    def with_chunk(self, number: int) -> DocumentRef:
        """The ref of chunk ``number`` (0-based; chunk 0 is the document's own entry) of this object."""
        return replace(self, chunk=number)
