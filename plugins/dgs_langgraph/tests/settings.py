"""Settings of dgs-langgraph's tests: SQLite in memory, core's hashing embedder and memory store, the REST API."""

SECRET_KEY = "dgs-langgraph-tests"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "drf_spectacular",
                  "drf_spectacular_sidecar", "dgs_core", "tests.catalog"]
ROOT_URLCONF = "tests.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
GRAPH_SEARCH = {
    "MODELS": [
        {"model": "catalog.Track", "fields": ["name", "genre", "album__title", "album__artist__name"],
         "weight_fields": {"name": 2.0}},
        {"model": "catalog.Album", "fields": ["title", "artist__name", "track__name"]},
        {"model": "catalog.Artist", "fields": ["name", "album__title"]},
    ],
    "VECTOR_STORE": {"BACKEND": "memory"},
    "EMBEDDINGS": {"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": 512}}},
    "CACHE": {"BACKEND": "db"},
    "AUTO_INDEX": False,
    "LANGGRAPH": {"ENABLED": True},
    "STREAMING": {"ENABLED": True},
    # The oracles of these tests rank by vector; the pipeline's steps do not depend on the mode (a test
    # of hybrid mode through the pipeline sets it explicitly).
    "HYBRID": {"DEFAULT_MODE": "vector"},
}
# No throttle: the tests send many requests a minute from one address (dgs throttles a site that names none).
REST_FRAMEWORK = {"DEFAULT_THROTTLE_CLASSES": []}
