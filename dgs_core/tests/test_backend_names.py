"""A backend's name is set once, at registration, so an embedder's id does not depend on how settings spell it."""

from types import SimpleNamespace

import pytest
from django.test import override_settings

import dgs_core
from dgs_core import engine, plugins
from dgs_core.backends import HashingEmbedder
from dgs_core.base import Embedder
from dgs_core.engine import resolve_class
from dgs_core.exceptions import EmbedderMismatchError
from dgs_core.plugins import PluginRegistry
from tests.rest_support import graph_search
from tests.shop.models import Product

HERE = __name__  # "tests.test_backend_names": the dotted paths below name classes of this module


class PathFirstEmbedder(HashingEmbedder):
    """Registered as "path-first"; resolved by its dotted path before its name."""


class NameFirstEmbedder(HashingEmbedder):
    """Registered as "name-first"; resolved by its name before its dotted path."""


class LazyEmbedder(HashingEmbedder):
    """Registered by dotted path (imported only when first used), as "lazy"."""


class UnregisteredEmbedder(HashingEmbedder):
    """Reached by dotted paths only."""


ReExported = UnregisteredEmbedder  # a second path to the same class


class SameVectorsEmbedder(HashingEmbedder):
    """Makes the vectors of "hashing" under another id, and says so when asked (as one model on two runtimes)."""

    def adopt_recorded_id(self, recorded_id):
        if recorded_id != "hashing:hashing-512":
            return False
        self.recorded_name = "hashing"
        return True


@pytest.fixture
def registry(monkeypatch):
    """The process registry, replaced by core plus one plugin registering this module's embedders."""

    @dgs_core.hookimpl
    def dgs_register_embedders(register):
        register("path-first", PathFirstEmbedder)
        register("name-first", NameFirstEmbedder)
        register("lazy", f"{HERE}:LazyEmbedder")

    registry = PluginRegistry(autoload=False)
    registry.register_plugin(SimpleNamespace(dgs_register_embedders=dgs_register_embedders), name="names")
    monkeypatch.setattr(plugins, "_registry", registry)
    return registry


@pytest.mark.parametrize("cls, name, first", [
    (PathFirstEmbedder, "path-first", "path"),
    (NameFirstEmbedder, "name-first", "name"),
    (LazyEmbedder, "lazy", "path"),
])
def test_a_registered_class_has_its_registered_name_however_it_is_reached(registry, cls, name, first):
    spellings = [f"{HERE}.{cls.__name__}", name] if first == "path" else [name, f"{HERE}.{cls.__name__}"]
    assert [resolve_class("embedder", spelling, Embedder) for spelling in spellings] == [cls, cls]
    assert cls.registered_name == name
    assert cls(dimension=8).id == f"{name}:hashing-8"


def test_an_unregistered_class_is_named_by_where_it_is_defined(registry):
    assert resolve_class("embedder", f"{HERE}.ReExported", Embedder) is UnregisteredEmbedder
    assert UnregisteredEmbedder.registered_name == f"{HERE}.UnregisteredEmbedder"
    assert registry.name_of("embedder", UnregisteredEmbedder) is None
    assert registry.name_of("embedder", HashingEmbedder) == "hashing"


def embedding_settings(backend):
    return graph_search(EMBEDDINGS={"default": {"BACKEND": backend, "OPTIONS": {"DIMENSION": 512}}})


def test_settings_that_spell_the_embedder_differently_give_the_same_id():
    ids = set()
    for backend in ["dgs_core.backends.HashingEmbedder", "hashing", "dgs_core.backends.HashingEmbedder"]:
        with override_settings(GRAPH_SEARCH=embedding_settings(backend)):
            ids.add(engine.get_embedder().id)
    assert ids == {"hashing:hashing-512"}


def index_products():
    stats = dgs_core.reindex_queryset(Product.objects.all())
    return stats.indexed, stats.skipped


@pytest.fixture
def products(db):
    return [Product.objects.create(name=name) for name in ("Red phone", "Garden hose", "Wool blanket")]


@pytest.mark.parametrize("backend", ["hashing", "dgs_core.backends.HashingEmbedder"])
def test_an_index_recorded_under_the_dotted_path_keeps_working_without_embedding_again(products, monkeypatch,
                                                                                        backend):
    old_id = "dgs_core.backends.HashingEmbedder:hashing-512"
    with monkeypatch.context() as old_code:
        # What resolving the dotted path first did: the class took the BACKEND value as its name.
        old_code.setattr(HashingEmbedder, "registered_name", "dgs_core.backends.HashingEmbedder")
        with override_settings(GRAPH_SEARCH=embedding_settings("dgs_core.backends.HashingEmbedder")):
            assert index_products() == (3, 0)
            assert engine.get_vector_store().embedder_info()["embedder"] == old_id
    with override_settings(GRAPH_SEARCH=embedding_settings(backend)):
        assert type(engine.get_embedder()).registered_name == "hashing"
        assert index_products() == (0, 3)  # same vector space and content hashes: nothing embedded again
        assert engine.get_embedder().id == old_id
        assert [hit.pk for hit in dgs_core.search("garden hose", limit=1)] == [products[1].pk]


@pytest.mark.parametrize("backend", ["hashing", "dgs_core.backends.HashingEmbedder"])
def test_an_index_recorded_under_the_registered_name_keeps_working(products, backend):
    with override_settings(GRAPH_SEARCH=embedding_settings("hashing")):
        assert index_products() == (3, 0)
    with override_settings(GRAPH_SEARCH=embedding_settings(backend)):
        assert index_products() == (0, 3)
        recorded = engine.get_vector_store().embedder_info()["embedder"]
        assert recorded == engine.get_embedder().id == "hashing:hashing-512"


def test_another_class_recorded_is_still_a_mismatch(products):
    with override_settings(GRAPH_SEARCH=embedding_settings(f"{HERE}.UnregisteredEmbedder")):
        index_products()
    with override_settings(GRAPH_SEARCH=embedding_settings("hashing")):
        with pytest.raises(EmbedderMismatchError, match="UnregisteredEmbedder"):
            index_products()


def test_an_index_whose_vectors_the_embedder_adopts_keeps_working_without_embedding_again(products):
    with override_settings(GRAPH_SEARCH=embedding_settings("hashing")):
        assert index_products() == (3, 0)
    with override_settings(GRAPH_SEARCH=embedding_settings(f"{HERE}.SameVectorsEmbedder")):
        assert index_products() == (0, 3)  # same vector space and content hashes: nothing embedded again
        assert engine.get_embedder().id == "hashing:hashing-512"
        assert [hit.pk for hit in dgs_core.search("garden hose", limit=1)] == [products[1].pk]
