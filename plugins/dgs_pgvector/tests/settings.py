"""Settings for dgs-pgvector's tests: the machine's PostgreSQL (with pgvector) as the default database,
and dgs searching a small music app through the pgvector store (core's hashing embedder).

pytest-django creates the test database ``test_test`` from ``NAME`` and drops it afterwards;
``DGS_PG_TEST_DATABASE`` names another, so two checkouts can run these tests at once.
"""
import os

SECRET_KEY = "dgs-pgvector-tests"
USE_TZ = True
INSTALLED_APPS = ["dgs_core", "tests.music"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "test",
        "HOST": "127.0.0.1",
        "PORT": 5432,
        "USER": "postgres",
        "TEST": {"NAME": os.environ.get("DGS_PG_TEST_DATABASE", "test_test")},
    },
    # Not PostgreSQL: the store must refuse it by its DATABASE option.
    "sqlite": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
GRAPH_SEARCH = {
    "MODELS": [{
        "model": "music.Track",
        "fields": ["name", "album__title", "album__artist__name", "genre__name"],
        "filter_fields": ["genre__name", "milliseconds", "album__artist__name"],
    }],
    "VECTOR_STORE": {"BACKEND": "pgvector", "OPTIONS": {"TABLE": "pgv_test_site"}},
    "EMBEDDINGS": {"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": 64}}},
    # The embedding cache in the test database, so no files are left behind.
    "CACHE": {"BACKEND": "db"},
    "AUTO_INDEX": False,
}
