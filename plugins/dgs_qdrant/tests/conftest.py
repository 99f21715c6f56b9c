import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def local_dir(tmp_path):
    """A fresh directory for Qdrant's local mode, on tmpfs when the machine has one.

    Local mode commits (and syncs) every point in its own SQLite transaction: about 30 ms per point on
    CI's virtual disk, so thousands of points would take minutes there, and milliseconds in memory.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="dgs-qdrant-") as directory:
            yield str(Path(directory) / "qdrant")
    else:
        yield str(tmp_path / "qdrant")
