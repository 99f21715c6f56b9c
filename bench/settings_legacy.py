"""Django settings of the ``django-graph-search==0.3.7`` side: the same Chinook database and the same
document content as ``bench.settings``, written in the old package's configuration dialect.

Differences are only of spelling: the old resolver walks reverse relations by accessor name
(``track_set__name``) where dgs uses the query name (``track__name``), and ``follow_relations``
defaults to True there, so it is switched off to index the same fields as dgs.
"""

import os
import tempfile
from pathlib import Path

from bench.common import model_path

WORK_DIR = Path(os.environ.get("DGS_BENCH_DIR") or tempfile.mkdtemp(prefix="dgs-bench-"))

SECRET_KEY = "dgs-bench-legacy"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django_graph_search", "chinook"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": WORK_DIR / "db.sqlite3"}
}
MIGRATION_MODULES = {"chinook": None}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
ROOT_URLCONF = "bench.urls"

GRAPH_SEARCH = {
    "MODELS": [
        {
            "model": "chinook.Track",
            "fields": ["name", "composer", "album__title", "album__artist__name", "genre__name", "playlist__name"],
            "weight_fields": {"name": 2.0},
            "follow_relations": False,
        },
        {"model": "chinook.Album", "fields": ["title", "artist__name", "track_set__name"], "follow_relations": False},
        {"model": "chinook.Artist", "fields": ["name", "album_set__title"], "follow_relations": False},
    ],
    "VECTOR_STORE": {
        "BACKEND": "django_graph_search.backends.FaissBackend",
        "OPTIONS": {"persist_path": str(WORK_DIR / "legacy-store" / "index.pkl")},
    },
    "EMBEDDINGS": {
        "default": {
            "BACKEND": "django_graph_search.embeddings.SentenceTransformerBackend",
            "MODEL_NAME": model_path(),
        }
    },
    "AUTO_INDEX": False,
    "DELTA_INDEXING": False,
    "ADMIN_SEARCH_ENABLED": False,
}
