"""Long documents as chunks: split by the embedder's tokens, stored as entries, collapsed back into objects.

A document whose text is longer than the embedder's window (``CHUNKING["MAX_TOKENS"]``, default the
embedder's ``max_input_tokens`` minus the tokens it adds itself) is split into windows of that many
tokens overlapping by ``OVERLAP_TOKENS``; each chunk is embedded and stored as its own entry. The first
entry keeps the document id, the n-th is ``"<document id>#<n>"`` (:class:`dgs_core.ids.DocumentRef`), and
every entry carries the object's model, pk and metadata, so filters apply to every chunk. The first
entry's content hash records the number of chunks (:class:`StoredHash`), so a re-index knows which entries
to remove when the document shrinks.

Each entry's metadata also records where each configured path's values lie in the chunk's text
(``_spans``), which is how a hit explains what matched (:mod:`dgs_core.searching.explain`) without reading the
database.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Optional

from dgs_core.base import Embedder, VectorHit, VectorStore
from dgs_core.documents import Section
from dgs_core.ids import DocumentRef

#: Metadata key of an entry's section spans; keys starting with "_" are core's, never filter fields.
SPANS_KEY = "_spans"
#: Metadata key of a first entry whose stored text starts with the weight prefix
#: (:func:`dgs_core.indexing.text.weight_prefix`): where the text users see starts.
SHOWN_FROM_KEY = "_shown_from"
_WORD = re.compile(r"\S+")
#: At most this many places a single value is located in a text (weighted sections repeat values).
_MAX_OCCURRENCES = 5


class StoredHash(NamedTuple):
    """The content hash a document's first entry keeps: the version of its vectors (``digest``, which its
    other entries keep alone) and how many entries it has, written ``"<digest>/<chunks>"``.

    The count travels in the hash because ``content_hashes(ids)`` is the one read by id every store
    offers. Entries written before chunking existed hold the bare digest: one chunk.
    """

    digest: str
    chunks: int = 1

    def __str__(self) -> str:
        return f"{self.digest}/{self.chunks}"

    @classmethod
    def parse(cls, value: str) -> StoredHash:
        digest, separator, chunks = value.rpartition("/")
        return cls(digest, int(chunks)) if separator and chunks.isdigit() else cls(value)


def entry_ids(document_id: str, chunks: int) -> list[str]:
    """The store ids of the first ``chunks`` entries of a document (at least its own)."""
    ref = DocumentRef.parse(document_id)
    return [str(ref.with_chunk(n)) for n in range(max(1, chunks))]


def stored_documents(store: VectorStore, entry_ids: Iterable[str]) -> list[DocumentRef]:
    """The objects that the stored entries ``entry_ids`` belong to, each once, in order.

    An id ending in ``#<n>`` is chunk n of the document before the ``#`` only when that document's first
    entry records more than n chunks; otherwise it is the id of a document whose primary key ends in
    ``#<n>``. Ids without such an ending cost no read.
    """
    refs = [DocumentRef.parse_entry(i) for i in entry_ids]
    owners = sorted({str(ref.document) for ref in refs if ref.chunk})
    chunks = {i: StoredHash.parse(h).chunks for i, h in store.content_hashes(owners).items()} if owners else {}

    def document(ref: DocumentRef) -> DocumentRef:
        if ref.chunk and ref.chunk < chunks.get(str(ref.document), 0):
            return ref.document
        return DocumentRef.parse(str(ref))  # the whole id is a document's

    return list(dict.fromkeys(map(document, refs)))


@dataclass(frozen=True)
class Chunker:
    """Splits texts into token windows for one embedder; ``max_tokens`` None means never split."""

    embedder: Embedder
    max_tokens: Optional[int]
    overlap: int
    max_chunks: int

    @classmethod
    def for_embedder(cls, embedder: Embedder, settings) -> Chunker:
        """From ``CHUNKING`` settings: MAX_TOKENS (0: the embedder's window), OVERLAP_TOKENS, MAX_CHUNKS."""
        if not settings.enabled:
            return cls(embedder, None, 0, 1)
        window = settings.max_tokens or embedder.max_input_tokens
        if window and not settings.max_tokens:
            window -= embedder.count_tokens("") or 0  # the model's own tokens (prompt, [CLS], [SEP])
        window = max(window, 8) if window else None
        return cls(embedder, window, min(settings.overlap_tokens, (window or 2) // 2), settings.max_chunks)

    @property
    def signature(self) -> str:
        """Part of every content hash, so changing how documents are chunked re-indexes them."""
        return f"chunks:{self.max_tokens}/{self.overlap}/{self.max_chunks}" if self.max_tokens else ""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the embedder's tokens; without a tokenizer, words scaled by its token count."""
        spans = self.embedder.token_offsets(text)
        if spans is not None:
            return spans
        words = [m.span() for m in _WORD.finditer(text)]
        tokens = self.embedder.count_tokens(text)
        if not tokens or tokens <= len(words) or not words:
            return words
        # Several tokens per word: split each word's span evenly so windows still hold max_tokens tokens.
        per_word = tokens / len(words)
        spans, carried = [], 0.0
        for start, end in words:
            carried += per_word
            pieces = max(1, int(carried))
            carried -= pieces
            step = max(1, (end - start) // pieces)
            spans.extend((min(start + i * step, end - 1), end if i == pieces - 1 else start + (i + 1) * step)
                         for i in range(pieces))
        return spans

    def split(self, text: str) -> tuple[list[tuple[int, int]], bool]:
        """``([(start, end), ...], truncated)``: character ranges of the chunks of ``text``, in order."""
        if not self.max_tokens or len(text) <= self.max_tokens:  # a token covers at least one character
            return [(0, len(text))], False
        spans = self.token_spans(text)
        if len(spans) <= self.max_tokens:
            return [(0, len(text))], False
        step = max(1, self.max_tokens - self.overlap)
        chunks: list[tuple[int, int]] = []
        for first in range(0, len(spans), step):
            last = min(first + self.max_tokens, len(spans)) - 1
            end = len(text) if last == len(spans) - 1 else spans[last][1]
            chunks.append((0 if first == 0 else spans[first][0], end))
            if last == len(spans) - 1:
                return chunks, False
            if len(chunks) == self.max_chunks:
                return chunks, True
        return chunks, False


def shown_text(text: str, metadata: dict) -> str:
    """The part of a stored entry's text that users see: without the weight prefix, which only the embedder
    and the keyword leg read."""
    start = metadata.get(SHOWN_FROM_KEY)
    return text[int(start):] if isinstance(start, (int, float)) and 0 < start <= len(text) else text


def section_spans(text: str, sections: Sequence[Section]) -> list[tuple[int, int, str]]:
    """Where each section's values occur in ``text``: ``(start, end, path)``, by position.

    Found by searching the values, so it works for any text builder (a plugin's too); a value the
    builder changed beyond recognition is simply not located.
    """
    found: set[tuple[int, int, str]] = set()
    for section in sections:
        for value in dict.fromkeys(v for v in section.values if v and v.strip()):
            start = 0
            for _ in range(_MAX_OCCURRENCES):
                at = text.find(value, start)
                if at < 0:
                    break
                found.add((at, at + len(value), section.path))
                start = at + len(value)
    return sorted(found)


def encode_spans(spans: Sequence[tuple[int, int, str]], start: int, end: int) -> str:
    """The spans overlapping ``text[start:end]``, relative to it, as ``"s,e,path;..."`` (a string, which
    every engine's metadata can hold)."""
    parts = [f"{max(s, start) - start},{min(e, end) - start},{path}" for s, e, path in spans if s < end and e > start]
    return ";".join(dict.fromkeys(parts))


def decode_spans(value: object) -> list[tuple[int, int, str]]:
    """The spans written by :func:`encode_spans`; anything unreadable gives none."""
    spans = []
    for part in str(value or "").split(";"):
        pieces = part.split(",", 2)
        if len(pieces) == 3 and pieces[0].isdigit() and pieces[1].isdigit():
            spans.append((int(pieces[0]), int(pieces[1]), pieces[2]))
    return spans


def collapse(hits: Sequence[VectorHit]) -> list[VectorHit]:
    """One hit per object, its best entry (the first, as ``hits`` are best first), under the document id."""
    seen: set[tuple[str, str]] = set()
    out = []
    for hit in hits:
        key = (hit.model, hit.pk)
        if key in seen:
            continue
        seen.add(key)
        own_id = str(DocumentRef(hit.model, hit.pk))
        out.append(hit if hit.id == own_id else dataclasses.replace(hit, id=own_id))
    return out
