import pytest

from dgs_core.backends import MemoryVectorStore
from dgs_core.conf import reset_config
from dgs_core.engine import generations


@pytest.fixture(autouse=True)
def fresh_components(monkeypatch):
    """Each test starts with a fresh configuration and empty in-memory stores."""
    # Rebuilds wait this long for other processes to see a switch; tests run in one process.
    monkeypatch.setattr(generations, "STATE_TTL_SECONDS", 0.0)
    reset_config()
    MemoryVectorStore.forget_all()
    yield
    reset_config()
    MemoryVectorStore.forget_all()
