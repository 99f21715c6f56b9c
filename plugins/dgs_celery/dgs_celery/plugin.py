"""The hook implementations dgs loads through the ``dgs`` entry point; deliberately import-light."""

import dgs_core


@dgs_core.hookimpl
def dgs_register_transports(register) -> None:
    from dgs_celery.transport import CeleryTransport

    register("celery", CeleryTransport)
