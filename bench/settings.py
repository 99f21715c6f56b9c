"""Django settings of the dgs side of the benchmark: the Chinook app on SQLite, indexed by dgs.

The parent process (``index_and_query.py``) passes paths and backends through the environment:
``DGS_BENCH_DIR`` (the SQLite file and the stores live there), ``DGS_BENCH_STORE`` and
``DGS_BENCH_EMBEDDER`` (plugin names; ``memory`` / ``hashing`` run without any plugin installed).
"""

import os
import tempfile
from pathlib import Path

from bench.common import model_path

WORK_DIR = Path(os.environ.get("DGS_BENCH_DIR") or tempfile.mkdtemp(prefix="dgs-bench-"))
STORE = os.environ.get("DGS_BENCH_STORE", "faiss")
EMBEDDER = os.environ.get("DGS_BENCH_EMBEDDER", "sentence-transformers")

SECRET_KEY = "dgs-bench"
DEBUG = False  # SQL is counted with an execute_wrapper; DEBUG's query log would only add overhead
USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "dgs_core", "chinook"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": WORK_DIR / "db.sqlite3"}
}
# example/chinook ships no migrations yet: create its tables with ``migrate --run-syncdb``.
MIGRATION_MODULES = {"chinook": None}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "bench.urls"

if EMBEDDER == "sentence-transformers":
    EMBEDDING = {"BACKEND": EMBEDDER, "MODEL_NAME": model_path()}
else:
    EMBEDDING = {"BACKEND": EMBEDDER}

GRAPH_SEARCH = {
    "MODELS": [
        {
            "model": "chinook.Track",
            "fields": ["name", "composer", "album__title", "album__artist__name", "genre__name", "playlist__name"],
            "weight_fields": {"name": 2.0},
        },
        {"model": "chinook.Album", "fields": ["title", "artist__name", "track__name"]},
        {"model": "chinook.Artist", "fields": ["name", "album__title"]},
    ],
    # The in-process memory store keeps nothing on disk, and its declared options have no PATH.
    "VECTOR_STORE": {"BACKEND": STORE, "OPTIONS": {} if STORE == "memory" else {"PATH": str(WORK_DIR / "dgs-store")}},
    "EMBEDDINGS": {"default": EMBEDDING},
    "AUTO_INDEX": False,
    "DELTA_INDEXING": False,
}
