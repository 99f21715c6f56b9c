"""The hook implementations dgs loads through the ``dgs`` entry point; deliberately import-light."""

import dgs_core


@dgs_core.hookimpl
def dgs_register_vector_stores(register) -> None:
    # By path: dgs_qdrant.store imports qdrant_client, which only sites that select "qdrant" should pay for.
    register("qdrant", "dgs_qdrant.store.QdrantVectorStore")
