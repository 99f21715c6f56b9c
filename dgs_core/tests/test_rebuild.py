"""Zero-downtime rebuilds: searches answer from the live collection, changes during the rebuild are
kept, an interrupted rebuild resumes without re-embedding, and embedders can be switched."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

import dgs_core
from dgs_core import engine
from dgs_core.exceptions import EmbedderMismatchError
from dgs_core.models import IndexGeneration
from tests.factories import make_catalogue
from tests.shop.models import Product

pytestmark = pytest.mark.django_db


def build(*args):
    out = StringIO()
    call_command("build_search_index", "--no-progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def settings_with(dimension):
    return {"MODELS": [{"model": "shop.Product", "fields": ["name", "description"]}],
            "VECTOR_STORE": {"BACKEND": "memory", "OPTIONS": {"LOCATION": "switch"}},
            "EMBEDDINGS": {"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": dimension}}}}


def test_rebuild_switches_atomically_and_keeps_changes_made_meanwhile():
    data = make_catalogue()
    build()
    router = engine.get_vector_store()
    pending = router.start_rebuild()
    assert router.state() == ("", "g1")
    # A change while the rebuild runs reaches both collections...
    Product.objects.filter(pk=data["hose"].pk).update(name="Watering can")
    dgs_core.index(Product.objects.get(pk=data["hose"].pk))
    assert pending.count() == 1
    # ...and searches keep answering from the complete live collection.
    assert {h.pk for h in dgs_core.search("smartphone", models="shop.Product")} == {data["phone"].pk,
                                                                                      data["hose"].pk}
    output = build("--resume")
    assert "Switched searches to collection 'g1'" in output
    assert IndexGeneration.objects.get().live == "g1" and router.state() == ("g1", "")
    assert router.live is pending and pending.count() == 3
    assert dgs_core.search("watering can", models="shop.Product")[0].pk == data["hose"].pk


def test_resume_does_not_re_embed_what_is_done():
    make_catalogue()
    build()
    router = engine.get_vector_store()
    pending = router.start_rebuild()
    from dgs_core.indexing.indexer import Indexer

    Indexer(store=pending).index_queryset(engine.get_config().model_config("shop.Product"))
    output = build("--resume")
    product_row = next(line for line in output.splitlines() if line.startswith("shop.Product"))
    assert product_row.split()[1:3] == ["0", "2"]  # indexed 0, skipped 2


def test_rebuild_guards():
    make_catalogue()
    with pytest.raises(CommandError, match="No rebuild is in progress"):
        build("--resume")
    engine.get_vector_store().start_rebuild()
    with pytest.raises(CommandError, match="unfinished. Continue it with `build_search_index --resume`"):
        build("--rebuild")
    with pytest.raises(CommandError, match="drop --model"):
        build("--rebuild", "--model", "shop.Product")


def test_switching_embedders_through_rebuilds():
    data = make_catalogue()
    with override_settings(GRAPH_SEARCH=settings_with(512)):
        build()
    with override_settings(GRAPH_SEARCH=settings_with(256)):
        with pytest.raises(EmbedderMismatchError, match="--rebuild"):
            dgs_core.search("hose")
        build("--rebuild")
        assert dgs_core.search("garden hose")[0].pk == data["hose"].pk
    with override_settings(GRAPH_SEARCH=settings_with(512)):
        router = engine.get_vector_store()
        pending = router.start_rebuild()
        # The live collection holds 256-d vectors: searched with the embedder recorded for it.
        assert dgs_core.search("garden hose")[0].pk == data["hose"].pk
        dgs_core.index(data["phone"])  # written only where 512-d vectors belong
        assert pending.count() == 1 and router.live.count() == 2
        build("--resume")
        assert router.state() == ("g2", "")
        assert dgs_core.search("garden hose")[0].pk == data["hose"].pk
