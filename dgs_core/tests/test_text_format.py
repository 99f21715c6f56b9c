"""Text format 2 (issue 15, point 1): what users see is each section once, and an index built in another
text format is reported (``manage.py check``, searches) until ``build_search_index --rebuild``."""

import logging
from io import StringIO

import numpy as np
import pytest
from django.core import checks
from django.core.management import call_command
from django.test import override_settings

import dgs_core
from dgs_core import engine
from dgs_core.documents import TEXT_FORMAT
from dgs_core.models import IndexGeneration
from tests.factories import make_catalogue

pytestmark = pytest.mark.django_db


def build(*args):
    call_command("build_search_index", "--no-progress", *args, stdout=StringIO(), stderr=StringIO())


def dgs_checks():
    return [m for m in checks.run_checks() if m.id.startswith("dgs.")]


def test_a_heavily_weighted_name_is_stored_and_shown_once():
    data = make_catalogue()
    models = [{"model": "shop.Product", "fields": ["name", "description", "category__name"],
               "weight_fields": {"name": 3.0}}]
    with override_settings(GRAPH_SEARCH={"MODELS": models, "VECTOR_STORE": {"BACKEND": "memory"},
                                         "EMBEDDINGS": {"default": {"BACKEND": "hashing"}}}):
        dgs_core.index(data["phone"])
        hits = [dgs_core.search("Acme X1 smartphone", mode=mode)[0] for mode in ("vector", "keyword", "hybrid")]
        stored = engine.get_vector_store().search(engine.get_embedder().embed_query("Acme"), 1)[0]
        snippets = [hit.matched.snippet for hit in hits]
    for hit, snippet in zip(hits, snippets, strict=True):
        assert hit.pk == data["phone"].pk
        assert hit.text == "Acme X1 smartphone. A phone with a great camera. Phones"
        assert "_shown_from" not in hit.metadata
        assert snippet.count("Acme X1 smartphone") == 1
    # The store keeps the weighted name for the embedder and the keyword leg, before the shown text.
    assert stored.text == "Acme X1 smartphone. " * 2 + hits[0].text


def test_a_fresh_index_records_the_current_text_format():
    make_catalogue()
    build()
    router = engine.get_vector_store()
    assert router.text_format() == TEXT_FORMAT
    assert IndexGeneration.objects.get(store_key=router.key).live_embedder["text_format"] == TEXT_FORMAT
    assert not [m for m in dgs_checks() if m.id == "dgs.W012"]


def test_an_empty_index_has_no_text_format_to_report():
    assert engine.get_vector_store().text_format() is None
    assert not [m for m in dgs_checks() if m.id == "dgs.W012"]


def test_an_index_of_an_older_text_format_is_reported_until_rebuilt(caplog):
    make_catalogue()
    build()
    router = engine.get_vector_store()
    # What an index built before text formats were recorded looks like: no format in its generation row.
    IndexGeneration.objects.filter(store_key=router.key).update(live_embedder={})
    router.state(fresh=True)
    assert router.text_format() == 1
    [warning] = [m for m in dgs_checks() if m.id == "dgs.W012"]
    assert "built with text format 1" in warning.msg and warning.hint == "Run `manage.py build_search_index --rebuild`."
    with caplog.at_level(logging.WARNING, logger="dgs_core.engine"):
        hits = dgs_core.search("smartphone")  # still answers
    assert hits and any("text format 1" in r.getMessage() and "--rebuild" in r.getMessage() for r in caplog.records)
    build("--rebuild")
    assert router.text_format() == TEXT_FORMAT
    assert not [m for m in dgs_checks() if m.id == "dgs.W012"]


def test_only_the_embedder_reads_a_weighted_section_again():
    data = make_catalogue()
    models = [{"model": "shop.Product", "fields": ["name", "description", "category__name"],
               "weight_fields": {"name": 3.0}}]
    with override_settings(GRAPH_SEARCH={"MODELS": models, "VECTOR_STORE": {"BACKEND": "memory"},
                                         "EMBEDDINGS": {"default": {"BACKEND": "hashing"}}}):
        dgs_core.index(data["phone"])
        store, embedder = engine.get_vector_store(), engine.get_embedder()
        [stored] = store.get_vectors([f"shop.product:{data['phone'].pk}"]).values()
        read = embedder.embed_documents(["Acme X1 smartphone. Acme X1 smartphone. Acme X1 smartphone. "
                                         "A phone with a great camera. Phones"])[0]
        shown = embedder.embed_documents(["Acme X1 smartphone. A phone with a great camera. Phones"])[0]
    def cosine(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cosine(stored, read) == pytest.approx(1.0, abs=1e-5)
    assert cosine(stored, shown) < 0.99


def test_a_long_weighted_document_is_chunked_with_the_prefix_inside_the_window():
    data = make_catalogue()
    models = [{"model": "shop.Product", "fields": ["name", "description"], "weight_fields": {"name": 3.0}}]
    data["phone"].description = " ".join(f"word{i}" for i in range(60))
    data["phone"].save()
    with override_settings(GRAPH_SEARCH={"MODELS": models, "VECTOR_STORE": {"BACKEND": "memory"},
                                         "EMBEDDINGS": {"default": {"BACKEND": "hashing"}},
                                         "CHUNKING": {"MAX_TOKENS": 24, "OVERLAP_TOKENS": 4}}):
        from dgs_core.indexing.indexer import Indexer, build_documents, get_plan

        plan = get_plan(engine.get_config().model_config("shop.Product"))
        [document] = build_documents(plan, list(plan.queryset().filter(pk=data["phone"].pk)))
        indexer = Indexer()
        entries = indexer._entries(document, indexer.document_hash(document))
        embedder = indexer.embedder
        first, *rest = entries
        assert first.text.startswith("Acme X1 smartphone. Acme X1 smartphone. Acme X1 smartphone. word0")
        assert first.metadata["_shown_from"] == len("Acme X1 smartphone. ") * 2
        assert all("_shown_from" not in e.metadata and "Acme" not in e.text for e in rest)
        assert all(embedder.count_tokens(e.text) - embedder.count_tokens("") <= 24 for e in entries)
        assert document.text.startswith(first.text[first.metadata["_shown_from"]:])
        assert 3 <= len(entries) <= 8
