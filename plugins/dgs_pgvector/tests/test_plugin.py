"""The distribution's entry point registers the store, and settings reach it (legacy names included)."""

import re

import pytest

from dgs_core.conf import BackendConfig
from dgs_core.engine import build_vector_store
from dgs_core.plugins import PluginRegistry
from dgs_pgvector.store import PgvectorStore


def test_entry_point_registers_the_pgvector_store():
    registration = PluginRegistry().registrations()["vector_store"]["pgvector"]
    assert registration.cls is PgvectorStore
    assert registration.distribution.startswith("dgs-pgvector ")


def test_settings_options_reach_the_store():
    store = build_vector_store(BackendConfig("pgvector", {
        "database": "default", "table": "pgv_test_vectors", "collection": "g3", "m": 24, "ef_construction": 96,
        "ef_search": 64, "iterative_scan": "relaxed_order", "exact_search_rows": 2000, "text_search_config": "simple",
    }))
    assert (store.database, store.table) == ("default", "pgv_test_vectors_g3")
    assert store.meta_table == "pgv_test_vectors_meta"
    assert (store.m, store.ef_construction, store.ef_search, store.iterative_scan) == (24, 96, 64, "relaxed_order")
    assert (store.exact_search_rows, store.text_search_config) == (2000, "simple")
    assert store.capabilities == {"persistence", "filters", "keyword"}


def test_django_graph_search_option_names_are_accepted():
    """django-graph-search 0.3.7's PgvectorBackend options: names map over, dimension and distance are ignored."""
    old_options = {"table_name": "pgv_test_old", "using": "default", "hnsw_m": 32, "hnsw_ef_construction": 128,
                   "dimension": 384, "distance": "cosine"}
    with pytest.warns(DeprecationWarning) as warnings:
        store = build_vector_store(BackendConfig("pgvector", old_options))
    assert (store.table, store.database, store.m, store.ef_construction) == ("pgv_test_old", "default", 32, 128)
    ignored = {re.search(r"\['OPTIONS'\]\['(\w+)'\] is ignored", str(w.message)).group(1) for w in warnings}
    assert ignored == {"DIMENSION", "DISTANCE"}
