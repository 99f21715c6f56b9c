"""The Celery app of the test project, configured from Django settings like a real project's."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("dgs_celery_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
