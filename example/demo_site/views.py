"""The demo's public pages: the search form with its results, and a page per artist, album and track.

Everything here is for visitors, not developers: models and fields are named by their ``verbose_name``, each hit
links to its public page (never to the admin, which an anonymous visitor cannot open), and a query nothing in the
catalogue comes close to says so instead of listing the nearest rows as answers.
"""

from django.db.models import Count, prefetch_related_objects
from django.shortcuts import get_object_or_404, render
from django.utils.text import capfirst

from chinook.models import Album, Artist, Track
from dgs_core import get_similar, search
from dgs_core.conf import get_config
from dgs_core.exceptions import BackendUnavailable, EmbedderMismatchError, InvalidParameterError, UnknownModelError

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


def search_page(request):
    """``GET /?q=...&model=app.Model&mode=vector``: search the configured models (all when ``model`` is empty)
    by the chosen mode (the configured default when ``mode`` is empty).

    A bad query or model answers 400, and an unreachable backend or an index built by another embedder
    503, each with its message on the page.
    """
    config = get_config()
    query = request.GET.get("q")
    model = request.GET.get("model", "")
    mode = request.GET.get("mode", "")
    context = {
        "query": query or "",
        "model": model,
        "mode": mode,
        "modes": MODES,
        "models": [(m.model_label, capfirst(m.model._meta.verbose_name_plural)) for m in config.models],
        "max_query_length": config.max_query_length,
        "results": None,
        "no_close_match": False,
        "error": None,
    }
    status = 200
    if query is not None:
        try:
            hits = search(query, models=model or None, limit=RESULTS_PER_PAGE, mode=mode or None, request=request)
            context["results"] = result_rows(hits)
            context["no_close_match"] = hits.no_close_match
        except (InvalidParameterError, UnknownModelError) as exc:
            context["error"], status = str(exc), 400
        except (BackendUnavailable, EmbedderMismatchError) as exc:
            context["error"], status = f"Search is unavailable right now: {exc}", 503
    return render(request, "demo_site/search.html", context, status=status)


def _detail(request, obj, facts: list[tuple[str, str, str | None]], items_title: str, items) -> object:
    """A public page of ``obj``: its facts (label, text, url), a list of its parts and the most similar rows."""
    try:
        similar = result_rows(get_similar(obj, limit=SIMILAR_PER_PAGE, request=request))
    except (BackendUnavailable, EmbedderMismatchError):  # the page still shows the row itself
        similar = []
    context = {"object": obj, "kind": capfirst(obj._meta.verbose_name), "facts": facts,
               "items_title": items_title, "items": items, "similar": similar}
    return render(request, "demo_site/detail.html", context)


def artist_page(request, pk: int):
    artist = get_object_or_404(Artist, pk=pk)
    albums = artist.album_set.order_by("title")
    return _detail(request, artist, [], "Albums", [(str(a), a.get_absolute_url()) for a in albums])


def album_page(request, pk: int):
    album = get_object_or_404(Album.objects.select_related("artist"), pk=pk)
    tracks = album.track_set.order_by("pk")
    facts = [("Artist", str(album.artist), album.artist.get_absolute_url())]
    return _detail(request, album, facts, "Tracks", [(str(t), t.get_absolute_url()) for t in tracks])


def track_page(request, pk: int):
    track = get_object_or_404(Track.objects.select_related("album__artist", "genre", "mediatype"), pk=pk)
    minutes, seconds = divmod(round(track.milliseconds / 1000), 60)
    facts = []
    if track.album:
        facts += [("Artist", str(track.album.artist), track.album.artist.get_absolute_url()),
                  ("Album", str(track.album), track.album.get_absolute_url())]
    facts += [(label, value, None) for label, value in (
        ("Composer", track.composer), ("Genre", track.genre and str(track.genre)),
        ("Length", f"{minutes}:{seconds:02d}"), ("Media type", str(track.mediatype)),
        ("Playlists", ", ".join(dict.fromkeys(str(p) for p in track.playlist.order_by("name"))))) if value]
    return _detail(request, track, facts, "", [])
