"""Real Celery workers (subprocesses) on the Redis broker, sharing the test database and FAISS store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import celery_app  # noqa: F401  (makes the project's Celery app current for the transport)
from tests.settings import QUEUE, WORK_DIR

PLUGIN_DIR = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.exit("dgs-celery's tests need Redis at 127.0.0.1:6379 (the Celery broker).", returncode=1)


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Workers:
    """Starts ``celery worker`` processes consuming the test queue; stops them all at the end."""

    def __init__(self) -> None:
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def start(self) -> subprocess.Popen:
        log = Path(WORK_DIR) / f"worker-{len(self.processes)}.log"
        command = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker", "-P", "solo", "-Q", QUEUE,
                   "-n", f"dgs-test-{len(self.processes)}@%h", "--without-gossip", "--without-mingle",
                   "--without-heartbeat", "-l", "INFO"]
        env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR), "PYTHONUNBUFFERED": "1"}
        with open(log, "wb") as out:
            process = subprocess.Popen(command, cwd=PLUGIN_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append((process, log))
        wait_until(lambda: b" ready." in log.read_bytes() or process.poll() is not None, 60, "the worker to start")
        assert process.poll() is None, f"the worker exited:\n{log.read_text()[-3000:]}"
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL: no shutdown, no acknowledgement, whatever task it runs is cut off."""
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for _, log in self.processes)

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)


@pytest.fixture
def workers(request):
    started = Workers()
    yield started
    started.stop_all()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(started.logs())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
