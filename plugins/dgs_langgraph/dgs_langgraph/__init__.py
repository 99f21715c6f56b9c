"""dgs plugin providing the ``langgraph`` search pipeline and an OpenAI-compatible LLM backend.

Importing this package (or its ``plugin`` module, which the ``dgs`` entry point loads) imports neither
langgraph nor openai; they load with the first search that needs them.
"""

__version__ = "0.1.0"
