"""The hook implementations dgs loads through the ``dgs`` entry point; deliberately import-light."""

import dgs_core


@dgs_core.hookimpl
def dgs_register_transports(register) -> None:
    # By dotted path: django_q is imported when the transport is selected, not when the names are listed.
    register("django_q", "dgs_django_q.transport.DjangoQTransport")
