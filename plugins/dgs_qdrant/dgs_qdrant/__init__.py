"""dgs-qdrant: the ``qdrant`` vector store for dgs (see README.md)."""

__version__ = "0.1.0"
