"""The demo's public search page: one form, results with score, what matched, indexed text and an admin link."""

from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from dgs_core import search
from dgs_core.conf import get_config
from dgs_core.exceptions import BackendUnavailable, EmbedderMismatchError, InvalidParameterError, UnknownModelError

RESULTS_PER_PAGE = 20


def _admin_url(hit) -> str | None:
    app_label, model_name = hit.model.split(".", 1)
    try:
        return reverse(f"admin:{app_label}_{model_name}_change", args=[hit.pk])
    except NoReverseMatch:  # a model without an admin page
        return None


def search_page(request):
    """``GET /?q=...&model=app.Model&mode=hybrid``: search the configured models (all when ``model`` is empty)
    by the chosen mode (the configured default when ``mode`` is empty).

    A bad query or model answers 400, and an unreachable backend or an index built by another embedder
    503, each with its message on the page.
    """
    query = request.GET.get("q")
    model = request.GET.get("model", "")
    mode = request.GET.get("mode", "")
    context = {
        "query": query or "",
        "model": model,
        "mode": mode,
        "modes": [("", "Default"), ("hybrid", "Hybrid"), ("vector", "By meaning"), ("keyword", "By words")],
        "models": [(m.model_label, m.model._meta.verbose_name_plural.capitalize()) for m in get_config().models],
        "results": None,
        "error": None,
    }
    status = 200
    if query is not None:
        try:
            hits = search(query, models=model or None, limit=RESULTS_PER_PAGE, mode=mode or None, request=request)
            context["results"] = [
                {"hit": hit, "object": hit.object, "admin_url": _admin_url(hit)} for hit in hits
            ]
        except (InvalidParameterError, UnknownModelError) as exc:
            context["error"], status = str(exc), 400
        except (BackendUnavailable, EmbedderMismatchError) as exc:
            context["error"], status = f"Search is unavailable right now: {exc}", 503
    return render(request, "demo_site/search.html", context, status=status)
