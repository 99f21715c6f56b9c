"""Reusable pytest contract suites for dgs backends (import needs pytest).

A backend author subclasses the suite of its family and provides one fixture that yields an empty
backend; see ``docs/writing_plugins.md``::

    from dgs_core.testing import VectorStoreContract

    class TestMyStore(VectorStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            yield MyStore(path=str(tmp_path))
"""

from dgs_core.testing.base import ContractSuite

__all__ = ["ContractSuite", "EmbedderContract", "VectorStoreContract"]


def __getattr__(name):
    if name == "VectorStoreContract":
        from dgs_core.testing.vector_store import VectorStoreContract

        return VectorStoreContract
    if name == "EmbedderContract":
        from dgs_core.testing.embedder import EmbedderContract

        return EmbedderContract
    raise AttributeError(name)
