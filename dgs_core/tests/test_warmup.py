"""Which processes warm search up at start (dgs_core.warmup), and what the warm-up loads."""

import pytest

import dgs_core
from dgs_core import engine, warmup


@pytest.mark.parametrize(("argv", "environ", "serving"), [
    (["manage.py", "runserver"], {"RUN_MAIN": "true"}, True),  # the auto-reloader's serving child
    (["manage.py", "runserver"], {}, False),  # the auto-reloader's watching parent
    (["manage.py", "runserver", "--noreload", "0.0.0.0:8000"], {}, True),
    (["/srv/venv/bin/gunicorn", "mysite.wsgi"], {}, True),
    (["/srv/venv/lib/python3.11/site-packages/uvicorn/__main__.py", "mysite.asgi:application"], {}, True),
    (["daphne", "mysite.asgi:application"], {}, True),
    (["manage.py", "migrate"], {}, False),
    (["manage.py", "build_search_index"], {}, False),
    (["/srv/venv/bin/pytest", "-x"], {}, False),
    ([], {}, False),
])
def test_only_serving_processes_warm_up(argv, environ, serving):
    assert warmup.is_serving_process(argv, environ) is serving


@pytest.mark.django_db
def test_the_warm_up_builds_the_search_components_a_first_search_would():
    engine.reset()
    warmup.warm_up()
    built = set(engine._instances)  # the shared components, by key
    dgs_core.search("anything", mode="vector")
    assert set(engine._instances) == built  # the first search found everything loaded
