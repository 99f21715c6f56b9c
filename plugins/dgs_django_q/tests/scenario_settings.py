"""Settings of the cluster scenario (tests/test_transport.py): a file database and a FAISS store that the scenario
process and its ``qcluster`` share, and a django-q cluster on the Redis broker."""

import os

from tests.settings import *  # noqa: F403

WORK_DIR = os.environ["DGS_DJANGOQ_TEST_DIR"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(WORK_DIR, "db.sqlite3"),
                         "OPTIONS": {"timeout": 30}}}
Q_CLUSTER = {
    "name": os.environ["DGS_DJANGOQ_TEST_CLUSTER"],  # its own Redis list: concurrent runs never share tasks
    "redis": "redis://127.0.0.1:6379/12",
    "workers": 1,
    "timeout": 60,
    "retry": 120,
    "catch_up": False,
}
GRAPH_SEARCH = {
    **GRAPH_SEARCH,  # noqa: F405
    "VECTOR_STORE": {"BACKEND": "faiss", "OPTIONS": {"PATH": os.path.join(WORK_DIR, "faiss")}},
    "ASYNC_INDEXING": {"ENABLED": True, "BACKEND": "django_q", "RETRY_BACKOFF": 1},
}
