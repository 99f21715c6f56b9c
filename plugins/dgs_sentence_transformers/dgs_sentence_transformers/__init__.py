"""dgs plugin providing the ``sentence-transformers`` embedder.

The embedder class lives in :mod:`dgs_sentence_transformers.embedder`; importing this package (or its
``plugin`` module, which the ``dgs`` entry point loads) imports neither torch nor sentence-transformers.
"""

__version__ = "0.1.0"
