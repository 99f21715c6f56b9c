"""dgs-celery: the ``celery`` index transport for dgs (see README.md)."""

__version__ = "0.1.0"
