"""Documents and vectors the contract suites build: seeded, never from a model, so failures reproduce."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from dgs_core.base import StoredDocument, document_id

PRODUCT = "shop.product"
REVIEW = "shop.review"
POST = "blog.post"
#: Scores may differ from numpy's float64 cosine by float32 rounding or a store's own distance maths.
SCORE_TOLERANCE = 0.01


def make_doc(
    model: str,
    pk: Any,
    vector: np.ndarray,
    text: Optional[str] = None,
    content_hash: Optional[str] = None,
    metadata: Optional[dict[str, Any]] = None,
) -> StoredDocument:
    """A document with a copy of ``vector`` (stores may normalise the array they are given in place)."""
    return StoredDocument(
        id=document_id(model, pk),
        model=model,
        pk=str(pk),
        text=f"{model} number {pk}" if text is None else text,
        vector=np.array(vector, dtype=np.float32, copy=True),
        content_hash=f"hash-{pk}" if content_hash is None else content_hash,
        metadata={} if metadata is None else metadata,
    )


def random_vectors(count: int, dimension: int, seed: int) -> np.ndarray:
    """``count`` float32 vectors of random direction and length (0.1 to 50), reproducible by ``seed``."""
    rng = np.random.RandomState(seed)
    lengths = rng.uniform(0.1, 50.0, size=(count, 1))
    return (rng.normal(size=(count, dimension)) * lengths).astype(np.float32)


def at_cosines(query: np.ndarray, cosines: Sequence[float], seed: int) -> np.ndarray:
    """One vector per entry of ``cosines`` whose cosine similarity to ``query`` is exactly that value.

    Each vector leans away from ``query`` towards its own random orthogonal direction and gets a random
    length, so the expected ranking is known without ties.
    """
    rng = np.random.RandomState(seed)
    unit = np.asarray(query, dtype=np.float64) / np.linalg.norm(query)
    rows = []
    for cosine in cosines:
        side = rng.normal(size=unit.shape)
        side -= side.dot(unit) * unit
        side /= np.linalg.norm(side)
        rows.append((cosine * unit + np.sqrt(1.0 - cosine**2) * side) * rng.uniform(0.5, 20.0))
    return np.asarray(rows, dtype=np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a.dot(b) / (np.linalg.norm(a) * np.linalg.norm(b)))
