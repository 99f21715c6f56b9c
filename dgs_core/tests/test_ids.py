"""Document and chunk ids as values (``dgs_core.ids.DocumentRef``): today's wire format, any primary key."""

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

import dgs_core
from dgs_core import engine
from dgs_core.base import document_id
from dgs_core.ids import DocumentRef
from dgs_core.indexing.chunking import StoredHash, stored_documents
from dgs_core.indexing.indexer import Indexer, coverage, model_config_for
from dgs_core.indexing.outbox import drift
from dgs_core.models import IndexChange
from tests.rest_support import graph_search
from tests.shop.models import Coupon

# Primary keys holding the characters ids are made of; "take#1" reads like chunk 1 of "take".
AWKWARD_PKS = ["summer:2024", "a:b:c", "take#1", "take", "x#0", "x#01", "#3", "ab#c", "ends#"]


def test_the_wire_format_is_unchanged():
    assert str(DocumentRef("Shop.Product", 7)) == "shop.product:7" == document_id("Shop.Product", 7)
    assert str(DocumentRef("shop.product", 7, chunk=2)) == "shop.product:7#2"
    assert DocumentRef("shop.product", 7) == DocumentRef.parse("shop.product:7") == DocumentRef("SHOP.Product", "7")


@pytest.mark.parametrize("pk", [1, "7", uuid.UUID("12345678-1234-5678-1234-567812345678"), *AWKWARD_PKS])
def test_document_ids_round_trip_whatever_the_pk(pk):
    ref = DocumentRef("shop.product", pk)
    assert DocumentRef.parse(str(ref)) == ref and ref.pk == str(pk)
    assert (ref.model, ref.chunk) == ("shop.product", 0)


@pytest.mark.parametrize("pk", [1, uuid.uuid4(), "summer:2024", "x#0", "ab#c", "ends#"])
@pytest.mark.parametrize("chunk", [0, 1, 12])
def test_entry_ids_round_trip(pk, chunk):
    ref = DocumentRef("shop.product", pk, chunk)
    assert DocumentRef.parse_entry(str(ref)) == ref
    assert ref.document == DocumentRef("shop.product", pk) and ref.document.with_chunk(chunk) == ref


def test_an_entry_id_always_reads_back_as_itself():
    for text in ["shop.product:take#1", "shop.product:#3", "shop.product:x#01", "shop.product:a:b#2"]:
        assert str(DocumentRef.parse_entry(text)) == text == str(DocumentRef.parse(text))
    # Only a trailing "#<n>" with n >= 1, written without leading zeros, is a chunk number.
    assert DocumentRef.parse_entry("shop.product:x#01").chunk == 0
    assert DocumentRef.parse_entry("shop.product:#3") == DocumentRef("shop.product", "#3")
    assert DocumentRef.parse_entry("shop.product:a:b#2") == DocumentRef("shop.product", "a:b", 2)


@pytest.mark.parametrize("text", ["shop.product", "", ":7"])
def test_malformed_ids_are_refused(text):
    with pytest.raises(ValueError, match="document id|model label"):
        DocumentRef.parse(text)


def test_a_model_label_with_the_separator_is_refused():
    with pytest.raises(ValueError, match="model label"):
        DocumentRef("shop:product", 1)
    with pytest.raises(ValueError, match="chunk"):
        DocumentRef("shop.product", 1, -1)


def test_outbox_rows_read_their_model_and_pk_at_the_first_colon():
    row = IndexChange(document_id="shop.coupon:summer:2024#1")
    assert (row.model_label, row.object_pk) == ("shop.coupon", "summer:2024#1")


def coupon_settings():
    return graph_search(MODELS=[{"model": "shop.Coupon", "fields": ["code", "description"]}],
                        CHUNKING={"MAX_TOKENS": 12, "OVERLAP_TOKENS": 2})


@pytest.mark.django_db
def test_awkward_primary_keys_are_indexed_counted_searched_and_pruned():
    with override_settings(GRAPH_SEARCH=coupon_settings()):
        for pk in AWKWARD_PKS:
            Coupon.objects.create(code=pk, description=f"coupon {pk.replace('#', ' ')}")
        Coupon.objects.create(code="long:one", description=" ".join(f"word{i}" for i in range(60)))
        stats = dgs_core.reindex_queryset(Coupon.objects.all())
        store = engine.get_vector_store()
        assert stats.indexed == len(AWKWARD_PKS) + 1 and stats.chunked > 0
        assert StoredHash.parse(store.content_hashes(["shop.coupon:long:one"])["shop.coupon:long:one"]).chunks > 1
        model_config = model_config_for("shop.Coupon")
        # "take#1" is a document of its own, not a chunk of "take"; long:one's chunks are not documents.
        assert coverage(model_config, store) == {"rows": 10, "vectors": 10, "missing": 0, "stale": 0}
        assert drift() == {"outdated": [], "stale": []}

        hits = dgs_core.search("coupon take 1", models=["shop.Coupon"], limit=3)
        assert (hits[0].pk, hits[0].id) == ("take#1", "shop.coupon:take#1")
        assert isinstance(hits[0].object, Coupon) and hits[0].object.code == "take#1"

        dgs_core.delete(Coupon.objects.get(code="take#1"))
        assert "shop.coupon:take" in set(store.iter_ids()) and "shop.coupon:take#1" not in set(store.iter_ids())
        Coupon.objects.filter(code__in=["summer:2024", "long:one"]).delete()  # no signals: AUTO_INDEX is off
        assert Indexer().prune(model_config) == 2
        left = {str(ref) for ref in stored_documents(store, store.iter_ids())}
        assert left == {str(DocumentRef("shop.coupon", pk)) for pk in AWKWARD_PKS} - {
            "shop.coupon:summer:2024", "shop.coupon:take#1"}
        assert not [i for i in store.iter_ids() if i.startswith("shop.coupon:long:one")]


@pytest.mark.django_db
def test_a_judged_pk_with_a_colon_is_of_its_own_model(tmp_path):
    """search_eval read the model of a judged id up to its LAST ':' and warned about a model that does not exist."""
    path = tmp_path / "judgments.jsonl"
    path.write_text('{"query": "summer", "kind": "name", "relevant": ["shop.product:summer:2024"]}\n',
                    encoding="utf-8")
    err = StringIO()
    call_command("search_eval", str(path), "--mode", "vector", "--models", "shop.Product", stdout=StringIO(),
                 stderr=err)
    assert "Warning" not in err.getvalue()
