"""Vectors to and from PostgreSQL through pgvector-python's adapters, and text PostgreSQL can store.

With psycopg 3 (Django's default PostgreSQL driver) the statements that carry vectors run on a cursor that binds
parameters on the server, so pgvector's binary dumper sends each vector as its binary form (4 bytes a dimension,
no float formatting or parsing). Django's own cursors bind on the client (``server_side_binding`` off, Django's
default), which would write every parameter into the SQL text. With psycopg2 (no binary parameters) pgvector's
psycopg2 adapter writes them as text.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.utils import CursorWrapper


def registered(connection: Any) -> bool:
    """Whether Django ``connection``'s driver connection has pgvector's types, registering them once; False while
    the database has no ``vector`` extension (nothing was written yet)."""
    connection.ensure_connection()
    raw = connection.connection
    if connection.Database.__name__ == "psycopg":
        from pgvector.psycopg import register_vector

        if raw.adapters.types.get("vector") is None:
            try:
                register_vector(raw)
            except connection.Database.ProgrammingError:  # "vector type not found in the database"
                return False
        return True
    if not getattr(raw, "dgs_pgvector_registered", False):
        from pgvector.psycopg2 import register_vector

        try:
            register_vector(raw)
        except connection.Database.ProgrammingError:
            return False
        raw.dgs_pgvector_registered = True
    return True


def vector_cursor(connection: Any) -> CursorWrapper:
    """A cursor of Django ``connection`` (its execute wrappers and query log apply) whose parameters reach
    PostgreSQL in the adapters' binary form where the driver can send one. Without the ``vector`` extension it
    is a plain cursor: no statement can carry a vector then."""
    if not registered(connection) or connection.Database.__name__ != "psycopg":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    return CursorWrapper(ServerBindingCursor(connection.connection), connection)


def without_nul(value: Any) -> Any:
    """``value`` (text, or JSON-like data) without NUL characters, which PostgreSQL's text and ``jsonb`` refuse:
    a NUL in indexed text or in a query would otherwise fail the statement."""
    if isinstance(value, str):
        return value.replace("\0", "")
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, tuple):
        return tuple(without_nul(item) for item in value)
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value
