"""The hook implementations dgs loads through the ``dgs`` entry point; deliberately import-light."""

import dgs_core


@dgs_core.hookimpl
def dgs_register_embedders(register) -> None:
    from dgs_cohere.embedder import CohereEmbedder

    register("cohere", CohereEmbedder)
