"""How long ``save()`` takes with automatic indexing off, with the sync transport and with the thread transport.

    OMP_NUM_THREADS=1 python bench/save_latency.py [--saves 40]

Each save renames one Chinook track in autocommit mode (its own transaction). With ``sync`` the save also
re-indexes the track and its album (whose text lists the album's tracks) before returning; with ``thread`` it
only records the change and wakes a background thread. Uses the faiss store and the local all-MiniLM-L6-v2 when
their plugins are installed (else core's memory store and hashing embedder; the header says which). Prints a
table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_paths, summarize, timed


def available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=40, help="timed saves per mode (default 40)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dgs-bench-save-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.settings", DGS_BENCH_DIR=str(work), DGS_BENCH_DB=str(work / "db.sqlite3"),
        DGS_BENCH_STORE="faiss" if available("dgs_faiss") else "memory",
        DGS_BENCH_EMBEDDER="sentence-transformers" if available("dgs_sentence_transformers") else "hashing",
    )
    setup_paths()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    from chinook.fixture import chinook_fixture_path
    from chinook.models import Track
    from dgs_core import engine
    from dgs_core.management.commands._util import format_table
    from dgs_core.models import IndexChange

    call_command("migrate", run_syncdb=True, verbosity=0)
    call_command("loaddata", str(chinook_fixture_path()), verbosity=0)
    tracks = list(Track.objects.order_by("pk")[: args.saves])
    modes = {
        "AUTO_INDEX off": {"AUTO_INDEX": False},
        "sync": {"AUTO_INDEX": True, "AUTO_INDEX_NON_BLOCKING": False},
        "thread": {"AUTO_INDEX": True, "AUTO_INDEX_NON_BLOCKING": True},
    }
    rows = []
    for mode, overrides in modes.items():
        with override_settings(GRAPH_SEARCH={**settings.GRAPH_SEARCH, **overrides}):
            engine.get_embedder().embed_documents(["warm up"])  # model loading is not save time
            samples = []
            for n, track in enumerate(tracks):
                track.name = f"{track.name.split(' [')[0]} [{mode} {n}]"
                seconds, _ = timed(track.save)
                samples.append(seconds)
            start = time.perf_counter()
            while IndexChange.objects.exists():  # the thread transport finishes after the last save
                time.sleep(0.05)
            behind = time.perf_counter() - start
            stats = summarize(samples)
            rows.append([mode, f"{stats['p50_ms']:.1f}", f"{stats['p95_ms']:.1f}", f"{stats['mean_ms']:.1f}",
                         stats["n"], f"{behind:.1f}"])
            engine.reset()  # closes (drains, joins) the thread transport

    print(f"save() latency, Chinook tracks: store {os.environ['DGS_BENCH_STORE']}, "
          f"embedder {os.environ['DGS_BENCH_EMBEDDER']}")
    headers = ["mode", "save p50 ms", "p95 ms", "mean ms", "saves", "index done s after last save"]
    print(format_table(headers, rows))


if __name__ == "__main__":
    main()
