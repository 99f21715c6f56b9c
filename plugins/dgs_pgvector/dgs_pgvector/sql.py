"""The SQL of the pgvector store: table layout, the ``vector`` extension, and filters as ``WHERE`` clauses.

Everything a caller supplies (filter keys and values, ids, model labels, vectors, search words) travels as
a bound parameter. Only table names, the integer index parameters and the text search configuration are
written into statements, and :mod:`dgs_pgvector.store` validates them before they get here (it also writes in its
own BM25 constant).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Optional

from dgs_core.exceptions import ConfigurationError
from dgs_core.filters import Condition
from dgs_pgvector.adapters import without_nul

#: Largest dimension pgvector's HNSW index takes on ``vector`` columns; up to HALFVEC_LIMIT the index is
#: built on a ``halfvec`` (16-bit) cast of the column instead, beyond that searches scan the table.
VECTOR_INDEX_LIMIT = 2000
HALFVEC_INDEX_LIMIT = 4000

#: One lock for every dgs_pgvector DDL statement, so concurrent first writes neither race on
#: ``CREATE EXTENSION`` nor on ``CREATE TABLE`` (PostgreSQL's IF NOT EXISTS is not concurrency-safe).
DDL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('dgs_pgvector'))"

UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"
INSUFFICIENT_PRIVILEGE = "42501"

#: GIN indexes are built with ``fastupdate = off``: PostgreSQL would otherwise queue new entries in a pending
#: list (up to 4 MB) that every search reads in full until a VACUUM merges it. A search index is read far more
#: often than written, and writes are dominated by the HNSW update anyway.
_GIN = "WITH (fastupdate = off)"


def sqlstate(exc: BaseException) -> Optional[str]:
    """The SQLSTATE of a database error raised through Django (psycopg 3 or psycopg2)."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)


def quote(name: str) -> str:
    """``name`` as a quoted identifier, so that a TABLE such as ``order`` is not read as a keyword (names are
    validated to lower-case letters, digits and ``_``, which need no escaping)."""
    return f'"{name}"'


def distance_expression(dimension: int) -> str:
    """The cosine distance of ``embedding`` to the query parameter, written so the HNSW index serves it."""
    if VECTOR_INDEX_LIMIT < dimension <= HALFVEC_INDEX_LIMIT:
        return f"embedding::halfvec({dimension}) <=> %s::halfvec({dimension})"
    return "embedding <=> %s::vector"


def create_table_statements(
    name: str, dimension: int, m: int, ef_construction: int, text_search_config: str
) -> list[str]:
    """The documents table ``name`` of one collection, with its HNSW, model, metadata and full-text indexes."""
    table = quote(name)
    statements = [
        f"""CREATE TABLE {table} (
            id text PRIMARY KEY,
            model text NOT NULL,
            pk text NOT NULL,
            text text NOT NULL,
            content_hash text NOT NULL DEFAULT '',
            metadata jsonb NOT NULL DEFAULT '{{}}',
            embedding vector({dimension}) NOT NULL,
            {_text_search_column(text_search_config)}
        )""",
        f"CREATE INDEX {quote(name + '_model_idx')} ON {table} (model)",
        f"CREATE INDEX {quote(name + '_metadata_idx')} ON {table} USING gin (metadata jsonb_path_ops) {_GIN}",
        _text_search_index(name),
    ]
    index, hnsw = quote(name + "_embedding_idx"), f"WITH (m = {m}, ef_construction = {ef_construction})"
    if dimension <= VECTOR_INDEX_LIMIT:
        statements.append(f"CREATE INDEX {index} ON {table} USING hnsw (embedding vector_cosine_ops) {hnsw}")
    elif dimension <= HALFVEC_INDEX_LIMIT:
        statements.append(
            f"CREATE INDEX {index} ON {table} "
            f"USING hnsw ((embedding::halfvec({dimension})) halfvec_cosine_ops) {hnsw}"
        )
    return statements


def upgrade_table_statements(name: str, text_search_config: str) -> list[str]:
    """Bring a table created by an earlier dgs-pgvector to the current layout: the ``text_tsv`` column (computed
    for every row, which rewrites the table) with its full-text index, and a metadata index without pending list
    (the entries already pending are merged into it)."""
    table, metadata_index = quote(name), quote(name + "_metadata_idx")
    return [
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {_text_search_column(text_search_config)}",
        _text_search_index(name),
        f"ALTER INDEX IF EXISTS {metadata_index} SET (fastupdate = off)",
        f"SELECT gin_clean_pending_list(to_regclass('{metadata_index}'))",
    ]


def _text_search_column(text_search_config: str) -> str:
    """``text`` as PostgreSQL full-text search sees it, kept up to date by PostgreSQL on every write."""
    return f"text_tsv tsvector GENERATED ALWAYS AS (to_tsvector('{text_search_config}'::regconfig, text)) STORED"


def _text_search_index(name: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {quote(name + '_text_tsv_idx')} ON {quote(name)} USING gin (text_tsv) {_GIN}"


def create_meta_table_statement(meta_table: str) -> str:
    """The table recording, per collection, the embedder that filled it."""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(meta_table)} "
        "(collection text PRIMARY KEY, embedder text NOT NULL, dimension integer NOT NULL)"
    )


def table_columns(cursor, table: str) -> dict[str, int]:
    """``{column: type modifier}`` of ``table`` (the modifier of ``embedding`` is its dimension); empty when the
    table does not exist."""
    cursor.execute(
        "SELECT attname, atttypmod FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped",
        [quote(table)],
    )
    return dict(cursor.fetchall())


def require_text_search_config(cursor, config: str) -> None:
    """Refuse a text search configuration the database does not have, listing those it has."""
    cursor.execute(
        "SELECT coalesce(bool_or(cfgname = %s), false), string_agg(cfgname, ', ' ORDER BY cfgname) "
        "FROM pg_ts_config WHERE pg_ts_config_is_visible(oid)",
        [config],
    )
    known, available = cursor.fetchone()
    if not known:
        raise ConfigurationError(
            f"VECTOR_STORE['OPTIONS']['TEXT_SEARCH_CONFIG'] is {config!r}, which is not a text search configuration "
            f"of this database. Use one of: {available}."
        )


def estimated_rows(cursor, table: str, where: str, params: Sequence[Any]) -> float:
    """How many rows of ``table`` PostgreSQL's statistics expect ``where`` to keep (planned, not run)."""
    cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT FROM {quote(table)} {where}", params)
    plan = cursor.fetchone()[0]
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]


def extension_version(cursor) -> Optional[tuple[int, ...]]:
    """The installed version of the ``vector`` extension in this database, e.g. ``(0, 8, 0)``."""
    cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    row = cursor.fetchone()
    return tuple(int(part) for part in row[0].split(".") if part.isdigit()) if row else None


def ensure_extension(cursor, alias: str, extension: str = "vector") -> None:
    """Create ``extension`` in the database unless it is there; explain what to do when it cannot be."""
    from django.db import ProgrammingError

    cursor.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [extension])
    if cursor.fetchone():
        return
    cursor.execute("SELECT current_database(), current_setting('server_version')")
    database, server_version = cursor.fetchone()
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", [extension])
    if not cursor.fetchone():
        raise ConfigurationError(
            f"The pgvector store needs the PostgreSQL extension {extension!r}, which is not installed on the server "
            f"of DATABASES[{alias!r}] (database {database!r}, PostgreSQL {server_version}): it is missing from "
            f"pg_available_extensions. Install pgvector on that server (e.g. `apt install "
            f"postgresql-<major>-pgvector`, or build it from https://github.com/pgvector/pgvector), or point "
            f"VECTOR_STORE['OPTIONS']['DATABASE'] at a database whose server has it."
        )
    try:
        cursor.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    except ProgrammingError as exc:
        if sqlstate(exc) != INSUFFICIENT_PRIVILEGE:
            raise
        raise ConfigurationError(
            f"The pgvector store needs the extension {extension!r} in database {database!r} (DATABASES[{alias!r}]), "
            f"and its user may not create it. Ask a superuser to run `CREATE EXTENSION {extension};` in that "
            f"database once."
        ) from exc


# -- filters ----------------------------------------------------------------------------------------------

#: The stored value of a filter field as a set of rows: the items of a list, else the value itself (a
#: missing key gives one JSON null), which is how :func:`dgs_core.filters.matches` reads metadata.
_ITEMS = (
    "jsonb_array_elements(CASE jsonb_typeof(metadata -> %s) WHEN 'array' THEN metadata -> %s "
    "ELSE jsonb_build_array(metadata -> %s) END) AS item(value)"
)

#: Python orders numbers and booleans together (True == 1) and strings by code point; other pairs never match.
_AS_NUMBER = (
    "CASE jsonb_typeof(item.value) WHEN 'number' THEN item.value::numeric "
    "WHEN 'boolean' THEN item.value::boolean::int END"
)
_AS_STRING = "(CASE jsonb_typeof(item.value) WHEN 'string' THEN item.value #>> '{}' END) COLLATE \"C\""

_OPERATORS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _equal_values(value: Any) -> list[Any]:
    """The JSON values Python's ``==`` equates with ``value`` (jsonb already equates 1 and 1.0)."""
    if isinstance(value, bool):
        return [value, int(value)]
    if isinstance(value, (int, float)) and value in (0, 1):
        return [value, bool(value)]
    return [value]


def _condition_sql(condition: Condition) -> tuple[str, list[Any]]:
    # PostgreSQL's text and jsonb refuse NUL; stored text and metadata are kept without it (see upsert).
    key, lookup, value = condition.field, condition.lookup, without_nul(condition.value)
    if lookup in ("exact", "in"):
        # Containment is what the GIN (jsonb_path_ops) index answers; {"k": [v]} matches v inside a list.
        documents = [
            json.dumps({key: form})
            for item in (value if lookup == "in" else [value])
            for equal in _equal_values(item)
            for form in (equal, [equal])
        ]
        return "metadata @> ANY(%s::jsonb[])", [documents]
    if lookup == "isnull":
        negation = "NOT " if value else ""
        return f"{negation}EXISTS (SELECT FROM {_ITEMS} WHERE jsonb_typeof(item.value) <> 'null')", [key, key, key]
    if lookup in _OPERATORS:
        if isinstance(value, str):
            comparison = f"{_AS_STRING} {_OPERATORS[lookup]} %s"
        else:
            comparison = f"{_AS_NUMBER} {_OPERATORS[lookup]} %s::numeric"
            value = json.dumps(int(value) if isinstance(value, bool) else value)  # exact decimal, not a float8
        return f"EXISTS (SELECT FROM {_ITEMS} WHERE {comparison})", [key, key, key, value]
    raise ValueError(f"Unknown filter lookup {lookup!r}.")


def where_clause(
    models: Optional[Sequence[str]], conditions: Sequence[Condition], also: Sequence[str] = ()
) -> tuple[str, list[Any]]:
    """``WHERE ...`` (or ``""``) restricting to the SQL conditions ``also`` (which take no parameters), ``models``
    (none or empty: every model) and every condition."""
    parts, params = list(also), []
    if models:
        parts.append("model = ANY(%s)")
        params.append([m.lower() for m in models])
    for condition in conditions:
        sql, condition_params = _condition_sql(condition)
        parts.append(sql)
        params.extend(condition_params)
    return ("WHERE " + " AND ".join(parts), params) if parts else ("", [])
