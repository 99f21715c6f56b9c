"""A real Chroma server (``chroma run``) for the server-mode tests, started once per session on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from dgs_chroma.store import ChromaVectorStore
from dgs_core.testing.vector_store import opener

#: How long a starting server may take to answer its heartbeat before the tests give up.
STARTUP_SECONDS = 60


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ChromaServer:
    """A ``chroma run`` subprocess serving ``path`` on 127.0.0.1:``port``."""

    port: int
    process: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, path: Path, port: Optional[int] = None) -> ChromaServer:
        port = port or free_port()
        log = path.with_suffix(".log")
        with log.open("wb") as output:
            process = subprocess.Popen(
                # What chromadb's `chroma` script runs, by this interpreter (so this venv's chromadb), without
                # the script's `import chromadb`, which takes seconds and which the server does not need.
                [sys.executable, "-c", "import sys, chromadb_rust_bindings; chromadb_rust_bindings.cli(sys.argv)",
                 "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)],
                stdout=output, stderr=subprocess.STDOUT,
            )
        server = cls(port, process, log)
        server.wait_until_up()
        return server

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"`chroma run` exited with {self.process.returncode}:\n{self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"`chroma run` did not answer within {STARTUP_SECONDS}s:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    server = ChromaServer.start(tmp_path_factory.mktemp("chroma-server") / "data")
    yield server
    server.stop()


@pytest.fixture
def path(tmp_path):
    """The directory of an embedded Chroma."""
    return str(tmp_path / "chroma")


@pytest.fixture
def open_store(path):
    """Opens stores on ``path`` (as separate processes of one site would) and closes them after the test."""
    with opener(lambda **options: ChromaVectorStore(**{"path": path, **options})) as open_one:
        yield open_one
