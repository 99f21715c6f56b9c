import pytest
from dgs_core.conf import reset_config


@pytest.fixture(autouse=True)
def fresh_components():
    """Each test starts with a fresh configuration and empty shared store."""
    reset_config()
    yield
    reset_config()
