"""dgs plugin providing the ``cohere`` embedder (Cohere's v2 embed API).

The embedder lives in :mod:`dgs_cohere.embedder`; importing this package (or its ``plugin`` module, which
the ``dgs`` entry point loads) does not import the cohere SDK.
"""

__version__ = "0.1.0"
