"""The django_q transport: selected by name, and changes applied by a real django-q2 cluster (``manage.py
qcluster``) on the Redis broker.

The cluster scenario runs in a subprocess with its own settings (a file database and FAISS store the cluster
shares), see tests/scenario.py.
"""

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dgs_core.engine import get_transport
from dgs_django_q.transport import DjangoQTransport

PLUGIN_DIR = Path(__file__).resolve().parent.parent
REDIS = ("127.0.0.1", 6379)


def require_redis():
    try:
        socket.create_connection(REDIS, timeout=1).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis must run at {REDIS[0]}:{REDIS[1]} for the django-q cluster test.")
        pytest.skip(f"no Redis server at {REDIS[0]}:{REDIS[1]}")


@pytest.mark.django_db
def test_django_q_is_imported_only_when_selected(settings):
    settings.GRAPH_SEARCH = {**settings.GRAPH_SEARCH, "ASYNC_INDEXING": {"ENABLED": True, "BACKEND": "django_q"}}
    assert isinstance(get_transport(), DjangoQTransport)


def test_changes_are_applied_by_a_django_q_cluster(tmp_path):
    pytest.importorskip("dgs_faiss", reason="the scenario shares a FAISS store with the cluster (dgs-faiss)")
    require_redis()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.scenario_settings",
           "DGS_DJANGOQ_TEST_DIR": str(tmp_path), "DGS_DJANGOQ_TEST_CLUSTER": f"dgs-test-{uuid.uuid4().hex[:12]}",
           "PYTHONPATH": str(PLUGIN_DIR)}
    done = subprocess.run([sys.executable, "-m", "tests.scenario"], cwd=PLUGIN_DIR, env=env,
                          capture_output=True, text=True, timeout=400)
    cluster_log = (tmp_path / "qcluster.log").read_text() if (tmp_path / "qcluster.log").exists() else ""
    assert done.returncode == 0, done.stderr[-3000:] + cluster_log[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"left_in_outbox": 0, "drift": {"outdated": [], "stale": []}, "embedded_here": 0}, cluster_log
