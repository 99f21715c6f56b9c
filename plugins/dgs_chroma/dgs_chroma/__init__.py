"""dgs-chroma: the ``chroma`` vector store for dgs (see README.md)."""

__version__ = "0.1.0"
