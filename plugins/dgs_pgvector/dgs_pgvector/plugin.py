"""The hook implementations dgs loads through the ``dgs`` entry point; deliberately import-light."""

import dgs_core


@dgs_core.hookimpl
def dgs_register_vector_stores(register) -> None:
    from dgs_pgvector.store import PgvectorStore

    register("pgvector", PgvectorStore)
