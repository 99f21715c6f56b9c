"""The demo's public pages: the search form with its results, and a page per artist, album and track.

Everything here is for visitors, not developers: models and fields are named by their ``verbose_name``, each hit
links to its public page (never to the admin, which an anonymous visitor cannot open), and a query nothing in the
catalogue comes close to says so instead of listing the nearest rows as answers. Every page is under the REST
API's policy (who may search, how often, which rows they may see) and answers its errors as the API does.
"""

import logging

from django.db.models import Count, prefetch_related_objects
from django.shortcuts import get_object_or_404
from django.utils.text import capfirst
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chinook.models import Album, Artist, Track
from dgs_core import get_similar, search
from dgs_core.conf import get_config
from dgs_core.exceptions import BackendUnavailable, EmbedderMismatchError
from dgs_core.failures import report_failure
from dgs_core.rest.views import SearchApi
from dgs_core.searching.visibility import visible_queryset

log = logging.getLogger("demo_site")

#: The search form's maxlength while GRAPH_SEARCH cannot be read (its MAX_QUERY_LENGTH default).
DEFAULT_MAX_QUERY_LENGTH = 1024
RESULTS_PER_PAGE = 20
SIMILAR_PER_PAGE = 5
MODES = [("", "Best match"), ("vector", "By meaning"), ("keyword", "By words")]
#: A path ending in one of these names the related row itself ("Artist", not "Artist › Name").
NAME_FIELDS = ("name", "title")
#: What each model's results load with them, so a page of hits costs one query per relation.
RELATED = {Track: ["album__artist", "genre"], Album: ["artist"]}


def path_label(model, path: str) -> str:
    """``album__artist__name`` of a track as a visitor reads it: "Artist"; ``composer``: "Composer"."""
    opts, label = model._meta, None
    for part in path.split("__"):
        field = opts.get_field(part)
        if field.is_relation:
            opts = field.related_model._meta
            label = opts.verbose_name
        elif label is None or part not in NAME_FIELDS:
            label = f"{label} {field.verbose_name}" if label else field.verbose_name
    return capfirst(label)


def byline(obj) -> list[tuple[str, str | None]]:
    """Short facts under a hit's title, as ``(text, url or None)``: who made it, where it is from."""
    if isinstance(obj, Track):
        facts = []
        if obj.album:
            facts += [(str(obj.album.artist), obj.album.artist.get_absolute_url()), (str(obj.album),
                                                                                    obj.album.get_absolute_url())]
        return facts + ([(str(obj.genre), None)] if obj.genre else [])
    if isinstance(obj, Album):
        return [(str(obj.artist), obj.artist.get_absolute_url())]
    if isinstance(obj, Artist):
        albums = getattr(obj, "albums", None)
        return [(f"{albums} album{'s' if albums != 1 else ''}", None)] if albums is not None else []
    return []


def load_related(objects: list) -> None:
    """What :func:`byline` reads, for a whole page of objects at once."""
    for model, lookups in RELATED.items():
        prefetch_related_objects([o for o in objects if isinstance(o, model)], *lookups)
    artists = [o for o in objects if isinstance(o, Artist)]
    counts = dict(Artist.objects.filter(pk__in=[a.pk for a in artists]).annotate(n=Count("album"))
                  .values_list("pk", "n"))
    for artist in artists:
        artist.albums = counts.get(artist.pk, 0)


def result_rows(hits) -> list[dict]:
    """One row per hit whose row still exists: title and link, kind, byline, what matched, score."""
    hits = [hit for hit in hits if hit.object is not None]
    load_related([hit.object for hit in hits])
    rows = []
    for hit in hits:
        model = type(hit.object)
        matched = hit.matched
        rows.append({
            "title": str(hit.object) or f"#{hit.pk}",
            "url": hit.object.get_absolute_url() if hasattr(hit.object, "get_absolute_url") else None,
            "kind": capfirst(model._meta.verbose_name),
            "byline": byline(hit.object),
            "matched": {"label": path_label(model, matched.path) if matched.path else None,
                        "snippet": matched.snippet} if matched else None,
            "score": hit.score,
        })
    return rows


class DemoPage(SearchApi, APIView):
    """A public page under the search API's own policy: ``GRAPH_SEARCH["API"]`` (or ``REST_FRAMEWORK``)
    authentication, permission and throttle classes, and each model's ``search_queryset``.

    Errors are the API's (:func:`dgs_core.rest.views.error_response`: the status, the message naming the
    parameter, a fixed 503 message with a request id for a failure on the server's side) shown on the page.
    """

    renderer_classes = [TemplateHTMLRenderer]

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)  # HTML, whatever the client accepts

    def handle_exception(self, exc):
        response = super().handle_exception(exc)  # the API's answer: status, headers, {"error", "request_id"}
        response.exception = False  # shown by this page's template, not by DRF's exception page
        response.data = {**self.error_context(), "error": response.data["error"],
                         "request_id": response.data.get("request_id")}
        response.template_name = self.error_template
        return response

    error_template = "demo_site/search.html"

    def error_context(self) -> dict:
        return search_context(self.request)


def search_context(request) -> dict:
    """The search form, filled in with the request's parameters (without the models when settings are broken)."""
    try:
        config = get_config()
        models = [(m.model_label, capfirst(m.model._meta.verbose_name_plural)) for m in config.models]
        max_query_length = config.max_query_length
    except Exception:  # broken settings: the page still shows its form and the error (the search reports it)
        models, max_query_length = [], DEFAULT_MAX_QUERY_LENGTH
    params = request.query_params
    return {"query": params.get("q") or "", "model": params.get("model", ""), "mode": params.get("mode", ""),
            "modes": MODES, "models": models, "max_query_length": max_query_length, "results": None,
            "no_close_match": False, "error": None}


class SearchPage(DemoPage):
    """``GET /?q=...&model=app.Model&mode=vector``: search the configured models (all when ``model`` is empty)
    by the chosen mode (the configured default when ``mode`` is empty).

    A bad query or model answers 400 with its message on the page, the API's policy 401/403/429, and a failure
    on the server's side (an unreachable backend, an index built by another embedder, broken settings) 503 with
    a fixed message and a request id (the cause is in the log).
    """

    def get(self, request):
        context = search_context(request)
        query = request.query_params.get("q")
        if query is not None:
            hits = search(query, models=context["model"] or None, limit=RESULTS_PER_PAGE,
                          mode=context["mode"] or None, request=request)
            context["results"] = result_rows(hits)
            context["no_close_match"] = hits.no_close_match
        return Response(context, template_name="demo_site/search.html")


class DetailPage(DemoPage):
    """A public page of one row the caller may see (its model's ``search_queryset``): its facts, a list of its
    parts and the most similar rows."""

    model = None
    related: tuple[str, ...] = ()  # what the page shows of the row's relations, loaded with it

    def get(self, request, pk: int):
        visible = visible_queryset(get_config().model_config(self.model), request)
        obj = get_object_or_404(visible.select_related(*self.related), pk=pk)
        try:
            similar = result_rows(get_similar(obj, limit=SIMILAR_PER_PAGE, request=request))
        except (BackendUnavailable, EmbedderMismatchError) as exc:  # the page still shows the row itself
            report_failure(exc, log, f"Similar rows of {obj._meta.label} {obj.pk}")
            similar = []
        facts, items_title, items = self.describe(obj)
        context = {"object": obj, "kind": capfirst(obj._meta.verbose_name), "facts": facts,
                   "items_title": items_title, "items": items, "similar": similar}
        return Response(context, template_name="demo_site/detail.html")

    def describe(self, obj) -> tuple[list[tuple[str, str, str | None]], str, list[tuple[str, str]]]:
        """Facts (label, text, url), the title of the list of parts and the parts (text, url)."""
        raise NotImplementedError


class ArtistPage(DetailPage):
    model = "chinook.Artist"

    def describe(self, artist):
        albums = artist.album_set.order_by("title")
        return [], "Albums", [(str(a), a.get_absolute_url()) for a in albums]


class AlbumPage(DetailPage):
    model = "chinook.Album"
    related = ("artist",)

    def describe(self, album):
        tracks = album.track_set.order_by("pk")
        facts = [("Artist", str(album.artist), album.artist.get_absolute_url())]
        return facts, "Tracks", [(str(t), t.get_absolute_url()) for t in tracks]


class TrackPage(DetailPage):
    model = "chinook.Track"
    related = ("album__artist", "genre", "mediatype")

    def describe(self, track):
        minutes, seconds = divmod(round(track.milliseconds / 1000), 60)
        facts = []
        if track.album:
            facts += [("Artist", str(track.album.artist), track.album.artist.get_absolute_url()),
                      ("Album", str(track.album), track.album.get_absolute_url())]
        facts += [(label, value, None) for label, value in (
            ("Composer", track.composer), ("Genre", track.genre and str(track.genre)),
            ("Length", f"{minutes}:{seconds:02d}"), ("Media type", str(track.mediatype)),
            ("Playlists", ", ".join(dict.fromkeys(str(p) for p in track.playlist.order_by("name"))))) if value]
        return facts, "", []
