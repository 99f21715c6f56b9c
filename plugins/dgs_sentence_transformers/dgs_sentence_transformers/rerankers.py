"""Rerankers for the langgraph pipeline's ``LANGGRAPH["RERANKER"]``: ``bi-encoder`` and ``cross-encoder``.

* ``bi-encoder`` rescores candidates with a sentence-embedding model (by default the one of the default
  embedding profile, already loaded, whose stored document vectors it reuses): a document's score is the
  mean of its whole-text similarity and the similarity of its best passage (its lines and sentences, at
  most ``MAX_PASSAGES`` of at most 200 characters). A document that
  names what was asked for in one of its parts rises above one that is only vaguely alike as a whole
  (long album texts dilute the artist's name among dozens of track names).
* ``cross-encoder`` scores each (query, document) pair jointly with a cross-encoder model
  (``sentence_transformers.CrossEncoder``, e.g. ``cross-encoder/ms-marco-MiniLM-L-6-v2``); more accurate,
  slower. ``MODEL_NAME`` is required: a hub id (downloaded on first use) or a local directory.

::

    "RERANKER": {"BACKEND": "cross-encoder", "MODEL_NAME": "/srv/models/ms-marco-MiniLM-L-6-v2",
                 "OPTIONS": {"DEVICE": "cpu", "BATCH_SIZE": 32}}

Models load on the first rerank, once per process.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from dgs_core.base import Reranker, VectorHit
from dgs_core.exceptions import BackendUnavailable, ConfigurationError, PluginError
from dgs_core.options import option
from dgs_sentence_transformers.embedder import SentenceTransformerEmbedder

SETTING = "GRAPH_SEARCH['LANGGRAPH']['RERANKER']"
PASSAGE_BREAK = re.compile(r"\n|(?<=[.!?])\s+")
#: Characters of a passage that are embedded: passages are short parts; a long one (a list of 30 track names)
#: would cost as much as the whole text.
PASSAGE_CHARS = 200


def _rescored(hit: VectorHit, score: float) -> VectorHit:
    return VectorHit(hit.id, hit.model, hit.pk, min(1.0, max(0.0, float(score))), hit.text, dict(hit.metadata))


def passages(text: str, limit: int) -> list[str]:
    """The distinct lines and sentences of ``text`` (each cut to :data:`PASSAGE_CHARS`), at most ``limit``."""
    pieces = (" ".join(p.split()).rstrip(".")[:PASSAGE_CHARS] for p in PASSAGE_BREAK.split(text))
    return list(dict.fromkeys(p for p in pieces if p))[:limit]


class BiEncoderReranker(Reranker):
    """Whole-text plus best-passage similarity with a sentence-embedding model; see the module docstring.

    ``model_name`` None: the default embedding profile's model (it must use the sentence-transformers
    embedder), whose vectors ``store`` (default: the configured store) already holds; options: those of the
    sentence-transformers embedder, plus ``max_passages`` (default 8).
    """

    options_setting = f"{SETTING}['OPTIONS']"

    @dataclass(frozen=True)
    class Options(SentenceTransformerEmbedder.Options):
        model_name: Optional[str] = option(None, listed=False, help="default: the default profile's model")
        max_passages: int = option(8, positive=True, help="passages of a text compared with the query")

    def __init__(self, model_name: Optional[str] = None, config: Any = None, store: Any = None,
                 **options: Any) -> None:
        super().__init__(model_name, **options)
        embedder_options = {key: value for key, value in options.items() if key != "max_passages"}
        # The configured embedder's vectors are in the store already: no need to embed whole texts again.
        self.reuse_stored_vectors = model_name is None
        if model_name is None:
            from dgs_core.conf import get_config

            profile = (config or get_config()).embedding
            if profile.backend != "sentence-transformers":
                raise ConfigurationError(
                    f"{SETTING}['MODEL_NAME'] is not set and the default embedding profile uses "
                    f"{profile.backend!r}, not sentence-transformers; set MODEL_NAME to a sentence-embedding "
                    "model for the bi-encoder reranker."
                )
            model_name, embedder_options = profile.model_name, {**profile.options, **embedder_options}
        self.embedder = SentenceTransformerEmbedder(model_name, **embedder_options)
        self.max_passages = self.options.max_passages
        self.store = store

    def _stored_vectors(self, hits: list[VectorHit]) -> Optional[np.ndarray]:
        """The hits' stored vectors (unit length), when the store holds them all and they are this model's."""
        from django.conf import settings

        store = self.store
        if store is None and self.reuse_stored_vectors and settings.configured:
            from dgs_core import engine

            store = engine.get_vector_store()
        if store is None or not self.reuse_stored_vectors:
            return None
        recorded = (store.embedder_info() or {}).get("embedder")
        if recorded != self.embedder.id and not (recorded and self.embedder.adopt_recorded_id(recorded)):
            return None
        stored = store.get_vectors([hit.id for hit in hits])
        if len(stored) != len(hits):
            return None
        vectors = np.stack([np.asarray(stored[hit.id], dtype=np.float32) for hit in hits])
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def rerank(self, query: str, hits: Sequence[VectorHit], top_k: int) -> list[VectorHit]:
        hits = list(hits)
        if not hits:
            return []
        pieces = [passages(hit.text, self.max_passages) or [hit.text] for hit in hits]
        query_vector = self.embedder.embed_query(query)
        rest = self.embedder.embed_documents([p for group in pieces for p in group]) @ query_vector
        stored = self._stored_vectors(hits)
        whole = (stored if stored is not None else self.embedder.embed_documents([hit.text for hit in hits])
                 ) @ query_vector
        scored, start = [], 0
        for index, (hit, group) in enumerate(zip(hits, pieces, strict=True)):
            best = float(rest[start: start + len(group)].max())
            start += len(group)
            scored.append(((float(whole[index]) + best) / 2, -index, hit))
        scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [_rescored(hit, score) for score, _index, hit in scored[:top_k]]


_cross_encoders: dict[tuple[str, str], Any] = {}
_cross_encoders_lock = threading.Lock()


def _declared_architectures(model_name: str) -> Optional[list[str]]:
    """The ``architectures`` of a local model directory's config.json (None for hub ids and unknown layouts)."""
    path = os.path.join(os.path.expanduser(model_name), "config.json")
    try:
        with open(path, encoding="utf-8") as file:
            return list(json.load(file).get("architectures") or [])
    except (OSError, ValueError):
        return None


def load_cross_encoder(model_name: str, device: str) -> Any:
    """The process-wide ``CrossEncoder`` for ``model_name``; :class:`BackendUnavailable` saying why it cannot load."""
    key = (model_name, device)
    with _cross_encoders_lock:
        if key in _cross_encoders:
            return _cross_encoders[key]
        architectures = _declared_architectures(model_name)
        if architectures is not None and not any(a.endswith("ForSequenceClassification") for a in architectures):
            raise BackendUnavailable(
                f"{SETTING}['MODEL_NAME'] {model_name!r} is not a cross-encoder: its config.json declares "
                f"{', '.join(architectures) or 'no architecture'}, an embedding model without a scoring head. Use a "
                "cross-encoder (e.g. a local copy of cross-encoder/ms-marco-MiniLM-L-6-v2), or the 'bi-encoder' "
                "reranker, which reranks with an embedding model."
            )
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise PluginError(f"The cross-encoder reranker cannot import sentence-transformers ({exc}). "
                              'Run: pip install "dgs-core[sentence-transformers]"') from exc
        try:
            model = CrossEncoder(os.path.expanduser(model_name), device=None if device == "auto" else device)
        except Exception as exc:
            raise BackendUnavailable(
                f"{SETTING}['MODEL_NAME'] {model_name!r} could not be loaded as a cross-encoder "
                f"({type(exc).__name__}: {exc}). A Hugging Face hub id is downloaded on first use: give this process "
                "network access to huggingface.co (and unset HF_HUB_OFFLINE), or set MODEL_NAME to a local "
                "directory holding the model (CrossEncoder(...).save(path) writes one)."
            ) from exc
        _cross_encoders[key] = model
        return model


class CrossEncoderReranker(Reranker):
    """Scores (query, text) pairs with a cross-encoder; options ``device`` (default "cpu") and ``batch_size``."""

    options_setting = f"{SETTING}['OPTIONS']"

    @dataclass(frozen=True)
    class Options(Reranker.Options):
        device: str = option("cpu", help="'cpu', 'cuda', 'cuda:1', 'mps', or 'auto'")
        batch_size: int = option(32, positive=True, help="pairs per forward pass")

        def __post_init__(self) -> None:
            if not self.model_name:
                raise ValueError(
                    f"{SETTING}['MODEL_NAME'] is required by the cross-encoder reranker: a hub id such as "
                    "'cross-encoder/ms-marco-MiniLM-L-6-v2' or a local model directory."
                )

    def __init__(self, model_name: Optional[str] = None, **options: Any) -> None:
        super().__init__(model_name, **options)
        self.device = self.options.device
        self.batch_size = self.options.batch_size

    def rerank(self, query: str, hits: Sequence[VectorHit], top_k: int) -> list[VectorHit]:
        hits = list(hits)
        if not hits:
            return []
        model = load_cross_encoder(self.model_name, self.device)
        raw = np.asarray(model.predict([(query, hit.text) for hit in hits], batch_size=self.batch_size,
                                       show_progress_bar=False), dtype=np.float64).reshape(len(hits), -1)[:, -1]
        # Relevance heads emit logits or probabilities depending on the model: map logits into [0, 1].
        scores = raw if ((raw >= 0) & (raw <= 1)).all() else np.array([1 / (1 + math.exp(-x)) for x in raw])
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))[:top_k]
        return [_rescored(hits[i], scores[i]) for i in order]
