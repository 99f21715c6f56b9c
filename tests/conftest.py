"""Session fixtures: the Chinook catalogue loaded once, a FAISS store in a temporary folder, and (for
tests marked ``slow``) a real index of it built with all-MiniLM-L6-v2."""

import copy
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.models.functions import Mod
from django.test import override_settings

from chinook.fixture import chinook_fixture_path
from chinook.models import Album, Artist, Track
from dgs_core import reindex_queryset

#: Every artist and album is indexed, and every n-th track: enough variety, a fraction of the embedding time.
TRACK_SAMPLE_EVERY = 4


@dataclass(frozen=True)
class IndexedCatalogue:
    """What the session index holds."""

    track_pks: frozenset[int]
    artists: int
    albums: int


def sampled_tracks():
    return Track.objects.alias(sample=Mod("pk", TRACK_SAMPLE_EVERY)).filter(sample=0)


@pytest.fixture(scope="session")
def graph_search_settings(tmp_path_factory) -> dict:
    """The demo's GRAPH_SEARCH with its FAISS store and embedding cache in fresh temporary folders."""
    config = copy.deepcopy(settings.GRAPH_SEARCH)
    config["VECTOR_STORE"]["OPTIONS"]["PATH"] = str(tmp_path_factory.mktemp("faiss"))
    config["CACHE"]["OPTIONS"]["PATH"] = str(tmp_path_factory.mktemp("embedding-cache"))
    return config


@pytest.fixture(scope="session", autouse=True)
def temporary_vector_store(graph_search_settings):
    """Every test of the session runs with those settings, never with the demo's own ``example/var``."""
    with override_settings(GRAPH_SEARCH=graph_search_settings):
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, graph_search_settings):
    """The test database with the whole Chinook catalogue (15,607 rows), loaded once per session.

    Automatic indexing is off while loading: the slow tests index exactly what they need themselves.
    """
    with django_db_blocker.unblock(), override_settings(GRAPH_SEARCH={**graph_search_settings, "AUTO_INDEX": False}):
        call_command("loaddata", str(chinook_fixture_path()), verbosity=0)


@pytest.fixture(scope="session")
def search_index(django_db_setup, django_db_blocker, temporary_vector_store) -> IndexedCatalogue:
    """Artists, albums and every ``TRACK_SAMPLE_EVERY``-th track, embedded with the real model into FAISS."""
    with django_db_blocker.unblock():
        for queryset in (Artist.objects.all(), Album.objects.all(), sampled_tracks()):
            stats = reindex_queryset(queryset)
            assert stats.failed == 0, stats.failed_ids
        return IndexedCatalogue(
            track_pks=frozenset(sampled_tracks().values_list("pk", flat=True)),
            artists=Artist.objects.count(),
            albums=Album.objects.count(),
        )
