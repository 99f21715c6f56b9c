"""Settings for dgs-openai's site tests: SQLite in memory, a small catalogue, the REST API at /api/search/.

``GRAPH_SEARCH`` here is a placeholder: each site test points the ``openai`` profile at its own fake
server (its port is only known once it runs). The other tests need no Django at all.
"""

SECRET_KEY = "dgs-openai-tests"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "dgs_core", "tests.catalog"]
ROOT_URLCONF = "tests.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
GRAPH_SEARCH = {
    "MODELS": [{"model": "catalog.Track", "fields": ["name", "album__title", "genre__name"]}],
    "VECTOR_STORE": {"BACKEND": "memory"},
    "EMBEDDINGS": {"default": {"BACKEND": "hashing"}},
    "CACHE": {"BACKEND": "db"},
    "AUTO_INDEX": False,
}
# No throttle: the tests send many requests a minute from one address (dgs throttles a site that names none).
REST_FRAMEWORK = {"DEFAULT_THROTTLE_CLASSES": []}
