"""Settings shared by the test process and the Celery workers it starts (same files, same queue).

The first process to import this picks a work folder and a queue name and puts them in the environment,
which the worker subprocesses inherit: both sides then use one SQLite database, one FAISS store and one
Redis queue.
"""

import os
import tempfile
import uuid

WORK_DIR = os.environ.setdefault("DGS_CELERY_TEST_DIR", tempfile.mkdtemp(prefix="dgs-celery-tests-"))
QUEUE = os.environ.setdefault("DGS_CELERY_TEST_QUEUE", f"dgs-test-{uuid.uuid4().hex[:12]}")
BROKER = os.environ.get("DGS_CELERY_TEST_BROKER", "redis://127.0.0.1:6379/13")
DB_PATH = os.path.join(WORK_DIR, "db.sqlite3")

SECRET_KEY = "dgs-celery-tests"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "dgs_core", "dgs_celery", "tests.records"]
# pytest-django creates the test database at DB_PATH itself (TEST NAME), where the workers find it.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DB_PATH, "TEST": {"NAME": DB_PATH},
                         "OPTIONS": {"timeout": 30}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CELERY_BROKER_URL = BROKER
CELERY_TASK_DEFAULT_QUEUE = QUEUE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

GRAPH_SEARCH = {
    "MODELS": [
        {"model": "records.Track", "fields": ["name", "album__title", "album__artist__name"]},
        {"model": "records.Album", "fields": ["title", "artist__name", "track__name"]},
    ],
    "VECTOR_STORE": {"BACKEND": "faiss", "OPTIONS": {"PATH": os.path.join(WORK_DIR, "faiss")}},
    "EMBEDDINGS": {"default": {"BACKEND": "tests.records.embedders.SlowHashingEmbedder",
                               "OPTIONS": {"DELAY": 0.05, "DIMENSION": 64}}},
    "CACHE": {"BACKEND": "db"},
    "AUTO_INDEX": True,
    "ASYNC_INDEXING": {"ENABLED": True, "BACKEND": "celery", "CELERY_QUEUE": QUEUE, "MAX_RETRIES": 30,
                       "RETRY_BACKOFF": 1, "RETRY_BACKOFF_MAX": 2, "LEASE_SECONDS": 5},
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,  # Celery's own loggers ("... ready.", task results) stay on
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"dgs_core": {"handlers": ["console"], "level": "INFO"}, "dgs_celery": {"handlers": ["console"],
                                                                                         "level": "INFO"}},
}
