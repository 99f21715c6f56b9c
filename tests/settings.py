"""Settings of the cross-package tests: the demo site's own settings, on an in-memory database.

``conftest.py`` moves the demo's FAISS store to a temporary folder for the whole session, so the tests
never touch ``example/var/``.
"""

from demo_site.settings import *  # noqa: F403

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEBUG = False
# No throttle: the tests send many requests a minute from one address (dgs throttles a site that names none).
REST_FRAMEWORK = {"DEFAULT_THROTTLE_CLASSES": []}
