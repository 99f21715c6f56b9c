"""Errors dgs raises; each message names the setting, parameter or plugin at fault and the fix."""

from typing import Optional

from django.core.exceptions import ImproperlyConfigured


class GraphSearchError(Exception):
    """Base class of dgs errors."""


class ConfigurationError(GraphSearchError, ImproperlyConfigured):
    """``GRAPH_SEARCH`` is invalid; ``manage.py check`` lists every problem."""


class PluginError(GraphSearchError):
    """A plugin is missing, unknown, or claims a name another plugin already registered."""


class UnknownModelError(GraphSearchError, ValueError):
    """A model label that is not configured for search."""


class InvalidParameterError(GraphSearchError, ValueError):
    """A search argument is out of range or of the wrong type; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class BackendUnavailable(GraphSearchError):
    """The vector store or embedder cannot be reached right now (REST answers 503)."""


class CollectionMissing(BackendUnavailable):
    """The index was built (the database records it) but its collection, table or directory is gone from the
    vector store: searches answer 503 rather than an empty index; ``build_search_index --rebuild`` restores it."""


class CollectionDamaged(BackendUnavailable):
    """The index's files are damaged (e.g. a truncated vectors file, a corrupt SQLite database): searches answer
    503; ``build_search_index --rebuild`` writes a new collection."""


class EmbedderMismatchError(GraphSearchError):
    """The store holds vectors of another embedder or dimension; rebuild the index."""


class ApiDenied(Exception):
    """The policy refuses a request: ``status`` (401, 403, 429) and a message for the client."""

    def __init__(self, status: int, message: str, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
