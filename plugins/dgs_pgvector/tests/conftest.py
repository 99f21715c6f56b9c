from dataclasses import dataclass

import pytest
from django.db import connection

#: Every table the tests create starts with this, so cleaning up never touches anything else.
TABLE = "pgv_test"


@pytest.fixture(autouse=True)
def _real_transactions(transactional_db):
    """Real commits: the stores' transactions, other threads and reopened stores must see each other's writes."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE %s",
                       [TABLE + "%"])
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE {name}")


@dataclass
class SearchRun:
    """One execution of the store's search query, as the server saw it."""

    plan: str
    ef_search: str
    iterative_scan: str
    rows: int


class SearchSpy:
    """A Django ``execute_wrapper`` that EXPLAINs each search query the store sends, in the same transaction
    and with the same parameters, and notes the HNSW settings in force when it ran::

        with connection.execute_wrapper(spy := SearchSpy()):
            store.search(...)
    """

    def __init__(self) -> None:
        self.runs: list[SearchRun] = []

    def __call__(self, execute, sql, params, many, context):
        if "SELECT id, model, pk, text, metadata" not in sql:  # keyword search's statement starts with WITH
            return execute(sql, params, many, context)
        # The raw psycopg connection: the same session and transaction, without re-entering this wrapper.
        with context["connection"].connection.cursor() as raw:
            raw.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in raw.fetchall())
            raw.execute("SELECT current_setting('hnsw.ef_search', true), current_setting('hnsw.iterative_scan', true)")
            ef_search, iterative_scan = raw.fetchone()
        result = execute(sql, params, many, context)
        self.runs.append(SearchRun(plan, ef_search, iterative_scan, context["cursor"].rowcount))
        return result
