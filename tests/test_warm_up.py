"""A server process loads the model as it starts, so its first search costs what the second does; a management
command that never searches loads nothing. Real processes (``runserver``, ``check``) on the demo's settings, with
all-MiniLM-L6-v2 and a FAISS index of a few artists in a temporary folder."""

import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parent
EXAMPLE = TESTS.parent / "example"
WARMED_UP = "Search warmed up"
#: The model alone takes seconds to load here; a warm search takes a few hundredths of a second.
WARM_SEARCH_SECONDS = 1.0
WARM_UP_TIMEOUT = 120

SETTINGS = '''
from settings import *  # the cross-package tests' settings: the demo's

DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": r"{work}/db.sqlite3"}}}}
GRAPH_SEARCH = {{**GRAPH_SEARCH, "AUTO_INDEX": False,
                "VECTOR_STORE": {{"BACKEND": "faiss", "OPTIONS": {{"PATH": r"{work}/faiss"}}}},
                "CACHE": {{"BACKEND": "file", "OPTIONS": {{"PATH": r"{work}/cache"}}}}}}
LOGGING = {{"version": 1, "disable_existing_loggers": False,
           "handlers": {{"stderr": {{"class": "logging.StreamHandler"}}}},
           "loggers": {{"dgs_core.warmup": {{"handlers": ["stderr"], "level": "INFO"}}}}}}
'''
LOAD_ARTISTS = """
from chinook.models import Artist
from dgs_core import reindex_queryset
for name in ("AC/DC", "Aerosmith", "Ozzy Osbourne"):
    Artist.objects.create(name=name)
reindex_queryset(Artist.objects.all())
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Environment of a process running a small indexed copy of the demo site."""
    work = tmp_path_factory.mktemp("warm-up")
    (work / "warm_settings.py").write_text(SETTINGS.format(work=work))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "warm_settings", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(work), str(TESTS), str(EXAMPLE)])}
    for command in (["migrate", "--verbosity", "0"], ["shell", "-c", LOAD_ARTISTS]):
        subprocess.run([sys.executable, "-m", "django", *command], env=env, check=True, timeout=300)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def timed_get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.status == 200 and b"AC/DC" in response.read()
    return time.perf_counter() - started


def test_runserver_warms_up_so_the_first_search_is_as_fast_as_the_second(site):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"],
                              env=site, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stderr], daemon=True).start()
    try:
        log = []
        while not log or not any(done in log[-1] for done in (WARMED_UP, "Warming up search failed")):
            log.append(lines.get(timeout=WARM_UP_TIMEOUT))  # the warm-up thread logs when it is done
        assert WARMED_UP in log[-1], "".join(log)
        url = f"http://127.0.0.1:{port}/?q=AC%2FDC"
        first, second = timed_get(url), timed_get(url)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert first < WARM_SEARCH_SECONDS and second < WARM_SEARCH_SECONDS, (first, second)


def test_a_management_command_loads_no_model(site):
    check = subprocess.run([sys.executable, "-m", "django", "check"], env=site, capture_output=True, text=True,
                           timeout=120)
    assert check.returncode == 0, check.stderr
    assert WARMED_UP not in check.stderr and "Loading weights" not in check.stderr
