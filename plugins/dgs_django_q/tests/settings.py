"""Settings of dgs-django-q's tests: SQLite, core's hashing embedder and memory store, the django_q transport."""

SECRET_KEY = "dgs-django-q-tests"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "dgs_core", "django_q", "tests.records"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Tasks queued by the unit tests go to the database broker; nothing runs them.
Q_CLUSTER = {"name": "dgs-django-q-tests", "orm": "default", "timeout": 60, "retry": 120}

GRAPH_SEARCH = {
    "MODELS": [
        {"model": "records.Track", "fields": ["name", "album__title", "album__artist__name"]},
        {"model": "records.Album", "fields": ["title", "artist__name", "track__name"]},
    ],
    "VECTOR_STORE": {"BACKEND": "memory"},
    "EMBEDDINGS": {"default": {"BACKEND": "tests.records.embedders.CountingEmbedder"}},
    "CACHE": {"BACKEND": "db"},
    "AUTO_INDEX": True,
    "ASYNC_INDEXING": {"ENABLED": True, "BACKEND": "django_q"},
}
