"""The document model: the sections read from an instance and the text built from them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from dgs_core.ids import DocumentRef

#: Version of how core turns sections into the text it stores and the input it embeds (the built-in
#: builders of :mod:`dgs_core.indexing.text` and :func:`dgs_core.indexing.text.embedding_input`). Part of every
#: content hash, so a build re-embeds documents written in another format, and recorded with the index
#: (:meth:`dgs_core.engine.generations.GenerationRouter.text_format`), so ``manage.py check`` and searches say
#: when the live index was built in another one and needs ``build_search_index --rebuild``.
#: 1: sections weighted 2 or more repeated in the text ("Bossa. Bossa. ..."); 2: each section once
#: (chosen by measurement: docs/search_quality.md, "Text for the embedder").
TEXT_FORMAT = 2


@dataclass
class Section:
    """The text one configured path contributed to a document."""

    path: str  # e.g. "album__artist__name"
    label: str  # e.g. "Artist"
    values: list[str]
    weight: float = 1.0

    @property
    def text(self) -> str:
        return ", ".join(self.values)


@dataclass
class Document:
    """An instance ready to embed: its stable id, text and metadata."""

    id: str
    model: str  # lower-case app_label.model
    pk: str
    text: str
    sections: list[Section] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> DocumentRef:
        return DocumentRef(self.model, self.pk)

    def content_hash(self, embedder_id: str) -> str:
        """Changes when the text or the embedder changes, so unchanged documents are not re-embedded."""
        return text_key(embedder_id, self.text)


def text_key(embedder_id: str, text: str) -> str:
    """The key of ``text``'s vector by ``embedder_id`` in the embedding cache (and a document's version)."""
    digest = hashlib.sha256(embedder_id.encode())
    digest.update(b"\0")
    digest.update(text.encode())
    return digest.hexdigest()[:32]
