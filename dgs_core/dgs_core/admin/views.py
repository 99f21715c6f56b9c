"""The admin pages of the "Graph search" section: search and index status (CONTRACT §6).

Staff only (``AdminSite.admin_view``); a staff user sees only the models they hold the view (or change)
permission on, and each model's ``search_queryset`` hook applies as in the REST API.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from django import forms
from django.apps import apps
from django.contrib.admin import AdminSite
from django.contrib.admin.utils import quote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxLengthValidator
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from dgs_core.conf import GraphSearchConfig, ModelConfig, get_config
from dgs_core.exceptions import (
    CollectionDamaged,
    CollectionMissing,
    GraphSearchError,
    InvalidParameterError,
    UnknownModelError,
)
from dgs_core.failures import REQUEST_ID_HEADER, Failure, report_failure
from dgs_core.searching.query import SearchQuery
from dgs_core.searching.searcher import Searcher

log = logging.getLogger("dgs_core.admin")

# The page's name; Django's own catalogue translates a bare "Search" as the verb, and it loads first.
SEARCH_PAGE_NAME = pgettext_lazy("graph search admin page", "Search")

#: Coverage columns of the status page, in order; those a coverage report lacks are not shown.
STATUS_COLUMNS = [
    ("rows", _("Rows in database")),
    ("vectors", _("Vectors in store")),
    ("missing", _("Missing")),
    ("stale", _("Stale")),
    ("pending", _("Pending changes")),
    ("failed", _("Failed changes")),
]


def permitted_models(request: HttpRequest, config: GraphSearchConfig) -> list[ModelConfig]:
    """The configured models whose rows ``request.user`` may view in the admin."""
    user = request.user
    permitted = []
    for model_config in config.models:
        opts = model_config.model._meta
        if any(user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
               for action in ("view", "change")):
            permitted.append(model_config)
    return permitted


def _enabled_config() -> GraphSearchConfig:
    config = get_config()
    if not config.admin_search_enabled:
        raise Http404("GRAPH_SEARCH['ADMIN_SEARCH_ENABLED'] is False.")
    return config


def _model_choices(models: list[ModelConfig]) -> list[tuple[str, Any]]:
    return [("", _("All models"))] + [
        (m.model_label, capfirst(m.model._meta.verbose_name_plural)) for m in models
    ]


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Query"), required=False, strip=True)
    model = forms.ChoiceField(label=_("Model"), required=False)
    min_score = forms.FloatField(label=_("Minimum score"), required=False, min_value=0.0, max_value=1.0,
                                 widget=forms.NumberInput(attrs={"step": "0.05"}))
    mode = forms.ChoiceField(label=_("Mode"), required=False, choices=[
        ("", _("Default")), ("hybrid", _("Hybrid (meaning and words)")), ("vector", _("By meaning")),
        ("keyword", _("By words")),
    ])

    def __init__(self, *args: Any, models: list[ModelConfig], max_query_length: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = _model_choices(models)
        self.fields["q"].validators.append(MaxLengthValidator(max_query_length))
        self.fields["q"].widget.attrs.update(maxlength=str(max_query_length), size="60", autofocus=True)


def _change_url(site: AdminSite, model: Any, pk: Any) -> Optional[str]:
    if not site.is_registered(model):
        return None
    opts = model._meta
    try:
        return reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(pk)],
                       current_app=site.name)
    except NoReverseMatch:
        return None


def search_view(request: HttpRequest, site: AdminSite) -> TemplateResponse:
    """Search form and hits: object (linked to its change page), model, score, what matched, indexed text."""
    config = _enabled_config()
    models = permitted_models(request, config)
    if not models:
        raise PermissionDenied
    form = SearchForm(request.GET or None, models=models, max_query_length=config.max_query_length)
    rows, error, searched, status, no_close_match, request_id = [], None, False, 200, False, None
    if form.is_bound and not form.is_valid():
        status = 400
    elif form.is_bound and form.cleaned_data["q"]:
        searched = True
        data = form.cleaned_data
        labels = [data["model"]] if data["model"] else [m.model_label for m in models]
        try:
            query = SearchQuery.build(data["q"], models=labels, min_score=data["min_score"], mode=data["mode"] or None,
                                      config=config)
            hits = Searcher(config).run(query, request)
            rows, no_close_match = [_row(site, hit, config) for hit in hits], hits.no_close_match
        except (InvalidParameterError, UnknownModelError) as exc:  # e.g. keyword mode on a store without it
            error, status = str(exc), 400
        except Exception as exc:  # any failure is a page with the fixed message, not a 500
            failure = report_failure(exc, log, "Admin search")
            error, status, request_id = _failure_text(failure), failure.status, failure.request_id
    context = {
        **site.each_context(request),
        "title": SEARCH_PAGE_NAME,
        "section": apps.get_app_config("dgs_core").verbose_name,
        "form": form,
        "rows": rows,
        "no_close_match": no_close_match,
        "searched": searched,
        "error": error,
        "status_url": reverse(f"{site.name}:graph-search-index-status", current_app=site.name),
    }
    return _answer(request, "dgs_core/admin/search.html", context, status, request_id)


def _failure_text(failure: Failure) -> str:
    """The page's fixed, translated message of a failure, naming its request id (the log has the cause)."""
    messages = {"unavailable": gettext("Search is unavailable right now; please try again later."),
                "misconfigured": gettext("Search is misconfigured on this server; the server log has the details."),
                "unexpected": gettext("Search failed unexpectedly; the error has been logged.")}
    return gettext("%(message)s Request id: %(request_id)s") % {"message": messages[failure.kind],
                                                                 "request_id": failure.request_id}


def _answer(request: HttpRequest, template: str, context: dict[str, Any], status: int,
            request_id: Optional[str]) -> TemplateResponse:
    response = TemplateResponse(request, template, context, status=status)
    if request_id:
        response[REQUEST_ID_HEADER] = request_id
    return response


def _row(site: AdminSite, hit: Any, config: GraphSearchConfig) -> dict[str, Any]:
    model = config.model_config(hit.model).model
    obj = hit.object
    return {
        "label": str(obj) if obj is not None else hit.id,
        "url": _change_url(site, model, hit.pk) if obj is not None else None,
        "model_name": capfirst(model._meta.verbose_name),
        "score": hit.score,
        "text": hit.text,
        "matched": hit.matched,
    }


def index_status_view(request: HttpRequest, site: AdminSite) -> TemplateResponse:
    """Per permitted model: rows in the database, vectors in the store, missing and stale vectors, and the
    changes automatic indexing has still to apply (pending) or failed to apply (failed, retried)."""
    from dgs_core import engine
    from dgs_core.indexing import outbox
    from dgs_core.indexing.indexer import coverage

    config = _enabled_config()
    models = permitted_models(request, config)
    if not models:
        raise PermissionDenied
    reports, error, status, request_id = [], None, 200, None
    try:
        store = engine.get_vector_store()
        store.health()  # a built index that vanished or is damaged must not read as empty
        changes = outbox.counts_by_model()  # automatic indexing's queue, as search_index_status shows it
        reports = [(m, {**coverage(m, store), **changes.get(m.model_label, {"pending": 0, "failed": 0})})
                   for m in models]
    except (CollectionMissing, CollectionDamaged) as exc:  # fixed text: what to do, not the cause (in the log)
        failure = report_failure(exc, log, "Admin index status")
        lost = gettext("The search index has vanished from the vector store or is damaged, so searches fail. "
                       "Rebuild it with manage.py build_search_index --rebuild.")
        error = gettext("%(message)s Request id: %(request_id)s") % {"message": lost,
                                                                      "request_id": failure.request_id}
        status, request_id = failure.status, failure.request_id
    except Exception as exc:  # an unreachable store is reported on the page, not as a server error
        failure = report_failure(exc, log, "Admin index status")
        error, status, request_id = _failure_text(failure), failure.status, failure.request_id
    columns = [(key, label) for key, label in STATUS_COLUMNS if any(key in report for _m, report in reports)]
    table = [
        {"name": capfirst(m.model._meta.verbose_name_plural), "label": m.label,
         "cells": [report.get(key, "") for key, _label in columns],
         "incomplete": any(report.get(key) for key in ("missing", "stale", "pending", "failed"))}
        for m, report in reports
    ]
    context = {
        **site.each_context(request),
        "title": _("Index status"),
        "section": apps.get_app_config("dgs_core").verbose_name,
        "columns": [label for _key, label in columns],
        "table": table,
        "needs_build": any(report["missing"] or report["stale"] for _m, report in reports),
        "has_failed": any(report["failed"] for _m, report in reports),
        "error": error,
        "search_url": reverse(f"{site.name}:graph-search", current_app=site.name),
    }
    return _answer(request, "dgs_core/admin/index_status.html", context, status, request_id)


def admin_urls(site: AdminSite) -> list[URLPattern]:
    """The section's URLs: ``graph-search/`` (the older package's URL, kept) and ``graph-search-status/``.

    The status page's path does not start with the search page's: Django's sidebar marks as current every entry
    whose URL begins the page's path, and would mark both."""

    def search(request: HttpRequest) -> TemplateResponse:
        return search_view(request, site)

    def index_status(request: HttpRequest) -> TemplateResponse:
        return index_status_view(request, site)

    return [
        path("graph-search/", site.admin_view(search), name="graph-search"),
        path("graph-search-status/", site.admin_view(index_status), name="graph-search-index-status"),
    ]


def app_list_entry(site: AdminSite, request: HttpRequest) -> Optional[dict[str, Any]]:
    """The "Graph search" section for the admin index and sidebar, or ``None`` when hidden for this user."""
    try:
        config = get_config()
        if not config.admin_search_enabled or not permitted_models(request, config):
            return None
    except GraphSearchError as exc:  # never break the admin index over dgs settings; `check` reports them
        log.warning("Graph search section hidden: %s", exc)
        return None
    pages = [("graph-search", "search", SEARCH_PAGE_NAME),
             ("graph-search-index-status", "indexstatus", _("Index status"))]
    entries = [
        {"name": label, "object_name": object_name, "admin_url": reverse(f"{site.name}:{name}", current_app=site.name),
         "add_url": None, "view_only": True, "perms": {"add": False, "change": False, "delete": False, "view": True}}
        for name, object_name, label in pages
    ]
    return {
        "name": apps.get_app_config("dgs_core").verbose_name,
        "app_label": "dgs_core",
        "app_url": entries[0]["admin_url"],
        "has_module_perms": True,
        "models": entries,
    }
