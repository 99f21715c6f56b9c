"""The django_q transport with a real django-q2 cluster (``manage.py qcluster``) on the Redis broker.

The scenario runs in a subprocess with its own settings (a file database and FAISS store the cluster shares),
see tests/music/djangoq_scenario.py.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.test_cache import require_redis

CORE_DIR = Path(__file__).resolve().parent.parent


def test_changes_are_applied_by_a_django_q_cluster(tmp_path):
    pytest.importorskip("django_q", reason="the django_q transport needs django-q2 (pip install django-q2)")
    pytest.importorskip("dgs_faiss", reason="the scenario shares a FAISS store with the cluster (dgs-faiss)")
    require_redis()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.music.djangoq_settings",
           "DGS_DJANGOQ_TEST_DIR": str(tmp_path), "DGS_DJANGOQ_TEST_CLUSTER": f"dgs-test-{uuid.uuid4().hex[:12]}",
           "PYTHONPATH": str(CORE_DIR)}
    done = subprocess.run([sys.executable, "-m", "tests.music.djangoq_scenario"], cwd=CORE_DIR, env=env,
                          capture_output=True, text=True, timeout=400)
    cluster_log = (tmp_path / "qcluster.log").read_text() if (tmp_path / "qcluster.log").exists() else ""
    assert done.returncode == 0, done.stderr[-3000:] + cluster_log[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"left_in_outbox": 0, "drift": {"outdated": [], "stale": []}, "embedded_here": 0}, cluster_log
