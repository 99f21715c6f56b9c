"""Settings for dgs-core's own tests: SQLite, the ``shop`` test app, core's built-in backends only."""

import os
import tempfile

SECRET_KEY = "dgs-core-tests"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",  # the REST API's browsable pages, its docs page (drf-spectacular) and that page's assets
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "dgs_core",
    "tests.shop",
    "tests.music",
]
# The REST API and admin pages (tests/urls.py).
ROOT_URLCONF = "tests.urls"
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
LANGUAGES = [("en", "English"), ("ru", "Russian")]
# A file, not SQLite's shared-cache memory database: the thread transport's workers write while tests
# read, and shared-cache tables fail with "table is locked" instead of waiting for the lock.
DATABASES = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": ":memory:",
    "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"dgs-core-tests-{os.getpid()}.sqlite3")},
    "OPTIONS": {"timeout": 30},
}}
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
    # The embedding cache in the test database: rolled back with each test, no files left behind.
    "CACHE": {"BACKEND": "db"},
    # Automatic indexing is tested on its own (tests/test_sync*.py); elsewhere rows are indexed explicitly.
    "AUTO_INDEX": False,
}
# No throttle: the tests send many requests a minute from one address (dgs throttles a site that names none).
REST_FRAMEWORK = {"DEFAULT_THROTTLE_CLASSES": []}
