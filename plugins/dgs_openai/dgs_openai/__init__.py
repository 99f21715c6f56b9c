"""dgs plugin providing the ``openai`` embedder (OpenAI's embeddings API and OpenAI-compatible servers).

The embedder lives in :mod:`dgs_openai.embedder`; importing this package (or its ``plugin`` module, which
the ``dgs`` entry point loads) imports neither the openai SDK nor tiktoken.
"""

__version__ = "0.1.0"
