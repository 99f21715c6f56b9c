"""Django settings of ``bench/stores.py``: Chinook on SQLite, plus a scratch PostgreSQL database for pgvector.

``stores.py`` sets the environment before ``django.setup()``: ``DGS_BENCH_DIR`` (a temporary directory for
the SQLite file) and ``DGS_BENCH_PG_NAME`` (the scratch database it creates and drops). The PostgreSQL
server is ``DGS_BENCH_PG_HOST``:``DGS_BENCH_PG_PORT`` (default 127.0.0.1:5432) as ``DGS_BENCH_PG_USER``
(default postgres, password from ``DGS_BENCH_PG_PASSWORD`` if any).
"""

import os
import tempfile
from pathlib import Path

from bench.common import model_path

WORK_DIR = Path(os.environ.get("DGS_BENCH_DIR") or tempfile.mkdtemp(prefix="dgs-bench-stores-"))

SECRET_KEY = "dgs-bench-stores"
DEBUG = False
USE_TZ = True
# stdlib_api: the standard-library judged set (bench/stdlib_api), loaded only by the runs that use it.
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "dgs_core", "chinook", "bench.stdlib_api"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": WORK_DIR / "db.sqlite3"},
    # The pgvector store's DATABASE option names this alias.
    "vectors": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DGS_BENCH_PG_NAME", "dgs_bench"),
        "HOST": os.environ.get("DGS_BENCH_PG_HOST", "127.0.0.1"),
        "PORT": int(os.environ.get("DGS_BENCH_PG_PORT", "5432")),
        "USER": os.environ.get("DGS_BENCH_PG_USER", "postgres"),
        "PASSWORD": os.environ.get("DGS_BENCH_PG_PASSWORD", ""),
    },
}
# Only the Chinook tables live in "default"; nothing of Django's goes to the scratch database.
DATABASE_ROUTERS = ["bench.settings_stores.DefaultOnly"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "bench.urls"

GRAPH_SEARCH = {
    "MODELS": [
        {
            "model": "chinook.Track",
            "fields": ["name", "composer", "album__title", "album__artist__name", "genre__name", "playlist__name"],
            "weight_fields": {"name": 2.0},
            # A scalar, related paths (one and two hops), a number and a many-valued path.
            "filter_fields": ["genre__name", "album__artist__name", "mediatype__name", "milliseconds",
                              "playlist__name"],
        },
    ],
    # The benchmark builds each store itself; this one only satisfies the settings checks.
    "VECTOR_STORE": {"BACKEND": "memory"},
    "EMBEDDINGS": {"default": {"BACKEND": "sentence-transformers", "MODEL_NAME": model_path()}},
    "AUTO_INDEX": False,
    "DELTA_INDEXING": False,
}


class DefaultOnly:
    """Migrations run on ``default`` only; the pgvector store creates its own tables in ``vectors``."""

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
