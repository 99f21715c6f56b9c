import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def local_dir(tmp_path):
    """A fresh directory for embedded mode (Qdrant Edge), on tmpfs when the machine has one: tests stay fast
    on a slow virtual disk."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="dgs-qdrant-") as directory:
            yield str(Path(directory) / "qdrant")
    else:
        yield str(tmp_path / "qdrant")
