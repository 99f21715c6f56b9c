"""Settings for dgs-core's own tests: SQLite, the ``shop`` test app, core's built-in backends only."""

SECRET_KEY = "dgs-core-tests"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "dgs_core",
    "tests.shop",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
GRAPH_SEARCH = {
    "MODELS": [
        {
            "model": "shop.Product",
            "fields": ["name", "description", "category__name", "tags__name", "brand__description"],
            "weight_fields": {"name": 2.0},
        },
        {"model": "shop.Review", "fields": "__all__"},
    ],
    "VECTOR_STORE": {"BACKEND": "memory"},
    "EMBEDDINGS": {"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": 512}}},
}
