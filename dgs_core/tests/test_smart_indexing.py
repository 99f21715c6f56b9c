"""SMART_INDEXING templates per model, and switching smart indexing off without re-indexing."""

import pytest
from django.core import checks
from django.test import override_settings

import dgs_core
from dgs_core import engine
from dgs_core.conf import get_config
from dgs_core.indexing.indexer import build_documents, get_plan
from tests.factories import make_catalogue
from tests.music.models import Album, Artist, Track
from tests.music.support import MODELS, make_music

pytestmark = pytest.mark.django_db
ALBUM_TEMPLATE = {"title": "title", "sections": {"By": "artist__name", "Tracks": ["track__name"]}}


def music_search(smart: bool, templates=None):
    return {"MODELS": MODELS, "VECTOR_STORE": {"BACKEND": "memory"},
            "EMBEDDINGS": {"default": {"BACKEND": "hashing", "OPTIONS": {"DIMENSION": 512}}},
            "CACHE": {"BACKEND": "db"}, "AUTO_INDEX": False,
            "SMART_INDEXING": {"ENABLED": smart, "TEMPLATES": templates or {}}}


def text_of(instance):
    config = get_config()
    plan = get_plan(config.model_config(instance._meta.label))
    return build_documents(plan, list(plan.queryset().filter(pk=instance.pk)), config)[0].text


def test_a_template_gives_a_title_line_labelled_lines_and_the_classic_text_after_them():
    data = make_music()
    with override_settings(GRAPH_SEARCH=music_search(True, {"music.album": ALBUM_TEMPLATE})):
        smart = text_of(data["highway"])
    with override_settings(GRAPH_SEARCH=music_search(False)):
        classic = text_of(data["highway"])
    head, safety_net = smart.split("\n\n")
    assert head.splitlines() == ["Highway to Hell", "By: AC/DC", "Tracks: Highway to Hell, Touch Too Much"]
    assert safety_net == classic


def test_template_details_title_lists_empty_sections_multiline_values_and_no_safety_net():
    data = make_music()
    data["touch"].composer = "Young,\n  Young\n\nand Scott"
    data["touch"].save()
    template = {"title": ["name", "album__title"], "append_classic": False,
                "sections": {"Written by": "composer", "Playlists": "playlists__name", "Artist": "album__artist__name"}}
    with override_settings(GRAPH_SEARCH=music_search(True, {"Music.TRACK": template})):
        assert text_of(data["touch"]).splitlines() == [
            "Touch Too Much - Highway to Hell", "Written by: Young, Young and Scott", "Artist: AC/DC"]


def test_checks_warn_about_templates_that_cannot_apply():
    templates = {"music.Playlist": {"title": "name"}, "music.Album": {"title": "title", "section": {}},
                 "music.Track": {"sections": {"By": 3}}}
    with override_settings(GRAPH_SEARCH=music_search(True, templates)):
        messages = [(m.id, m.msg) for m in checks.run_checks() if m.id.startswith("dgs.")]
    assert [m[0] for m in messages] == ["dgs.W001", "dgs.W001", "dgs.E002"]
    assert "'music.Playlist'" in messages[0][1] and "unknown keys section" in messages[1][1]


def test_switching_smart_indexing_off_keeps_search_working_without_a_reindex():
    make_music()
    everything = [*Artist.objects.all(), *Album.objects.all(), *Track.objects.all()]
    queries = ["Highway to Hell AC/DC", "Queen opera", "Bohemian Rhapsody Mercury"]
    with override_settings(GRAPH_SEARCH=music_search(True, {"music.album": ALBUM_TEMPLATE})):
        for instance in everything:
            dgs_core.index(instance)
        before = {q: [(h.id, h.score, h.text) for h in dgs_core.search(q, limit=5)] for q in queries}
    with override_settings(GRAPH_SEARCH=music_search(False)):
        # Search reads stored vectors with the same embedder: nothing to rebuild, the same answers.
        assert {q: [(h.id, h.score, h.text) for h in dgs_core.search(q, limit=5)] for q in queries} == before
        assert [m for m in checks.run_checks() if m.id.startswith("dgs.")] == []
        # Documents catch up as they are re-indexed; the mixed index keeps answering meanwhile.
        album = Album.objects.get(title="A Night at the Opera")
        dgs_core.index(album)
        hits = {hit.id: hit for hit in dgs_core.search("A Night at the Opera", limit=10)}
        assert hits[f"music.album:{album.pk}"].text == text_of(album)  # classic now
        assert any("\n" in hit.text for hit in hits.values())  # the other album is still smart
        stats = dgs_core.reindex_queryset(Album.objects.all())
        assert (stats.indexed, stats.skipped) == (Album.objects.count() - 1, 1)  # only changed texts re-embedded
        assert "\n" not in engine.get_vector_store().search(
            engine.get_embedder().embed_query("Highway"), 1, models=["music.album"])[0].text


def test_smart_indexing_never_drops_text_a_template_leaves_out():
    data = make_catalogue()
    products = [{"model": "shop.Product", "fields": ["name", "description", "category__name", "tags__name"]}]
    config = {"MODELS": products, "VECTOR_STORE": {"BACKEND": "memory"},
              "EMBEDDINGS": {"default": {"BACKEND": "hashing"}},
              "SMART_INDEXING": {"ENABLED": True, "TEMPLATES": {"shop.Product": {"sections": {"Tags": "tags__name"}}}}}
    with override_settings(GRAPH_SEARCH=config):
        text = text_of(data["phone"])
    assert text.startswith("Acme X1 smartphone\nTags: red, 5G\n\n")
    assert "A phone with a great camera" in text and "Phones" in text
