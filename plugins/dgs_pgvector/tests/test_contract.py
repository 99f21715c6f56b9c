"""The pgvector store passes the vector store contract on the machine's PostgreSQL."""

import pytest

from dgs_core.testing import VectorStoreContract
from dgs_pgvector.store import PgvectorStore
from tests.conftest import TABLE


class TestPgvector(VectorStoreContract):
    @pytest.fixture
    def store(self):
        store = PgvectorStore(table=TABLE)
        yield store
        store.close()

    @pytest.fixture
    def reopen(self):
        return lambda: PgvectorStore(table=TABLE)

    @pytest.fixture
    def make_collection(self):
        return lambda name: PgvectorStore(table=TABLE, collection=name)

