"""The REST API (CONTRACT §4): search, similar, conversation, stream and the OpenAPI schema.

Every endpoint runs the ``GRAPH_SEARCH["API"]`` policy first (:mod:`dgs_core.rest.policy`) and answers JSON
``{"error": "..."}`` naming the parameter at fault. No input produces a 500: the view boundary maps
each failure to its status, and anything unexpected is logged with its traceback and answered 503.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Optional

from asgiref.sync import sync_to_async
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import DatabaseError, DataError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from dgs_core.conf import GraphSearchConfig, get_config
from dgs_core.conversation import converse, forget
from dgs_core.exceptions import (
    ApiDenied,
    BackendUnavailable,
    ConfigurationError,
    EmbedderMismatchError,
    InvalidParameterError,
    UnknownModelError,
)
from dgs_core.rest.policy import get_policy
from dgs_core.searching.query import SearchQuery
from dgs_core.searching.searcher import Searcher
from dgs_core.searching.visibility import visible_queryset
from dgs_core.streaming import SearchStream

log = logging.getLogger("dgs_core.api")

#: Query parameters of search; every other parameter is a filter (``?genre__name=Rock``).
SEARCH_PARAMETERS = ("q", "models", "limit", "min_score", "offset", "mode")
#: Deepest ``offset`` accepted: the store is asked for ``offset + limit`` candidates.
MODEL_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")
_DIGITS = re.compile(r"-?[0-9]+")
#: Longer integers are clamped like any other value above the maximum, without parsing them.
_MAX_DIGITS = 9
NOT_FOUND = "No searchable object matches this model and primary key."


class BadRequest(Exception):
    """A request the client must fix: 400 with ``message``."""


def error(status: int, message: str, headers: Optional[dict[str, str]] = None) -> JsonResponse:
    """The JSON error response of every endpoint."""
    return JsonResponse({"error": message}, status=status, headers=headers)


def integer_param(params: QueryDict | dict, name: str, minimum: int = 1) -> Optional[int]:
    """``params[name]`` as an int (``None`` if absent): digits only, so no booleans, floats or words."""
    raw = params.get(name)
    if raw is None:
        return None
    what = "a positive integer" if minimum == 1 else "a non-negative integer"
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise InvalidParameterError(name, f"'{name}' must be {what}.")
    text = str(raw).strip()
    if not _DIGITS.fullmatch(text):
        raise InvalidParameterError(name, f"'{name}' must be {what}.")
    value = int(text) if len(text.lstrip("-")) <= _MAX_DIGITS else 10**_MAX_DIGITS * (-1 if text[0] == "-" else 1)
    if value < minimum:
        raise InvalidParameterError(name, f"'{name}' must be {what}.")
    return value


def models_param(raw: Any) -> Optional[list[str]]:
    """``models`` as a list of labels: a comma-separated string or (JSON bodies) a list of strings."""
    if raw is None:
        return None
    labels = [p.strip() for p in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(labels, list) or not all(isinstance(m, str) for m in labels):
        raise InvalidParameterError("models", "'models' must be a comma-separated list of model labels.")
    if not labels or not all(len(m) <= 200 and MODEL_LABEL.fullmatch(m) for m in labels):
        raise InvalidParameterError(
            "models", "'models' must be a comma-separated list of model labels such as 'shop.Product' "
            "(leave it out to search every model)."
        )
    return labels


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or :class:`BadRequest` saying what is wrong with it."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise BadRequest("The request body is too large.") from None
    try:
        payload = json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"Malformed JSON body: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest("The JSON body must be an object such as {\"query\": \"...\"}.")
    return payload


class ApiView(View):
    """Policy, error mapping and JSON for every endpoint."""

    #: Scope for DRF's ``ScopedRateThrottle`` when a site lists it in ``THROTTLE_CLASSES``.
    throttle_scope = "search"

    @classmethod
    def as_view(cls, **initkwargs: Any):
        # Token and basic authentication carry no CSRF token; the policy checks CSRF for session users.
        return csrf_exempt(super().as_view(**initkwargs))

    def guard(self, request: HttpRequest) -> Optional[HttpResponse]:
        """The policy's refusal (authentication, throttling) or a 405, else ``None``."""
        try:
            policy = get_policy()
        except ValueError:
            log.exception("GRAPH_SEARCH['API'] is misconfigured; run `manage.py check`.")
            return error(503, "The search API is misconfigured; the server log says how to fix it.")
        policy.enforce(request, self)
        if request.method.lower() not in self.http_method_names or not hasattr(self, request.method.lower()):
            allowed = ", ".join(self._allowed_methods())
            return error(405, f"Method {request.method} is not allowed here; use {allowed}.", {"Allow": allowed})
        return None

    def failure(self, request: HttpRequest, exc: Exception) -> HttpResponse:
        """The JSON error answering ``exc``: 4xx for the caller's mistakes, 503 for everything else."""
        if isinstance(exc, ApiDenied):
            return error(exc.status, exc.message, exc.headers)
        if isinstance(exc, (InvalidParameterError, UnknownModelError, BadRequest)):
            return error(400, str(exc))
        if isinstance(exc, (BackendUnavailable, EmbedderMismatchError, ConfigurationError, DatabaseError)):
            log.error("Search API request failed: %s: %s", type(exc).__name__, exc)
            return error(503, f"Search is unavailable right now: {exc}" if isinstance(exc, BackendUnavailable)
                         else "Search is unavailable right now; the server log has the details.")
        log.error("Unexpected error in the search API (%s %s)", request.method, request.path, exc_info=exc)
        return error(503, "Search failed unexpectedly; the error has been logged.")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return self.guard(request) or getattr(self, request.method.lower())(request, *args, **kwargs)
        except Exception as exc:
            return self.failure(request, exc)

    @staticmethod
    def config() -> GraphSearchConfig:
        return get_config()


class AsyncApiView(ApiView):
    """An :class:`ApiView` whose handlers are coroutines: under ASGI the event loop keeps serving other
    requests while this one waits for the policy (a throttle's cache), the embedder, the store and the
    database, which run in a worker thread."""

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return (await sync_to_async(self.guard)(request)
                    or await getattr(self, request.method.lower())(request, *args, **kwargs))
        except Exception as exc:
            return self.failure(request, exc)


class SearchView(AsyncApiView):
    """``GET ?q=&models=&limit=&min_score=&offset=&mode=`` plus filters."""

    http_method_names = ["get", "head", "options"]

    async def get(self, request: HttpRequest) -> JsonResponse:
        return await sync_to_async(self.search)(request)

    def search(self, request: HttpRequest) -> JsonResponse:
        params = request.GET
        filters = {
            key: values[0] if len(values) == 1 else values
            for key, values in params.lists()
            if key not in SEARCH_PARAMETERS
        }
        config = self.config()
        query = SearchQuery.build(
            params.get("q"),
            models=models_param(params.get("models")),
            limit=integer_param(params, "limit"),
            min_score=params.get("min_score"),
            offset=integer_param(params, "offset", minimum=0) or 0,
            filters=filters or None,
            mode=params.get("mode"),
            config=config,
        )
        return JsonResponse(Searcher(config).run(query, request).as_body(query.min_score))


class SimilarView(AsyncApiView):
    """``GET similar/<app_label.Model>/<pk>/?limit=``: 404 alike for unconfigured models, unknown and hidden rows."""

    http_method_names = ["get", "head", "options"]

    async def get(self, request: HttpRequest, model: str, pk: str) -> JsonResponse:
        return await sync_to_async(self.similar)(request, model, pk)

    def similar(self, request: HttpRequest, model: str, pk: str) -> JsonResponse:
        config = self.config()
        limit = integer_param(request.GET, "limit")
        model_config = config.model_config(model)
        if model_config is None:
            return error(404, NOT_FOUND)
        try:
            pk_value = model_config.model._meta.pk.to_python(pk)
            instance = visible_queryset(model_config, request).filter(pk=pk_value).first()
        except (ValidationError, ValueError, TypeError, OverflowError, DataError):
            instance = None
        if instance is None:
            return error(404, NOT_FOUND)
        results = Searcher(config).similar(instance, limit=limit, request=request)
        own_pk = instance.pk if isinstance(instance.pk, (int, str)) else str(instance.pk)
        return JsonResponse({
            "model": model_config.model_label,
            "pk": own_pk,
            "results": [hit.as_dict() for hit in results],
            "total": len(results),
        })


class ConversationView(ApiView):
    """``POST`` a turn (JSON ``query``, ``conversation_id``, ``models``, ``limit``); ``DELETE ?conversation_id=``.

    404 while ``CONVERSATIONAL["ENABLED"]`` is false.
    """

    http_method_names = ["post", "delete", "options"]

    def post(self, request: HttpRequest) -> JsonResponse:
        if not self.config().conversational.enabled:
            return error(404, "Conversational search is off (GRAPH_SEARCH['CONVERSATIONAL']['ENABLED']).")
        payload = json_body(request)
        query = payload.get("query")
        if not isinstance(query, str) or not query.strip():
            raise InvalidParameterError("query", "'query' is required: give the text to search for.")
        conversation_id = payload.get("conversation_id")
        if conversation_id is not None and not isinstance(conversation_id, str):
            raise InvalidParameterError("conversation_id", "'conversation_id' must be a string.")
        reply = converse(query, conversation_id, models_param(payload.get("models")), integer_param(payload, "limit"),
                         request=request, config=self.config())
        return JsonResponse(reply.as_dict())

    def delete(self, request: HttpRequest) -> JsonResponse:
        if not self.config().conversational.enabled:
            return error(404, "Conversational search is off (GRAPH_SEARCH['CONVERSATIONAL']['ENABLED']).")
        if not request.GET.get("conversation_id"):
            raise InvalidParameterError("conversation_id", "'conversation_id' is required.")
        forget(request.GET["conversation_id"], request=request)
        return JsonResponse({"conversation_id": request.GET["conversation_id"], "cleared": True})


class StreamView(ApiView):
    """Search results as a stream of events (GET parameters or a JSON body as search); 404 while
    ``STREAMING["ENABLED"]`` is false."""

    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not self.config().streaming.enabled:
            return error(404, "Streaming search is off (GRAPH_SEARCH['STREAMING']['ENABLED']).")
        filters = {key: values[0] if len(values) == 1 else values
                   for key, values in request.GET.lists() if key not in SEARCH_PARAMETERS}
        return self.stream(request, request.GET.get("q"), request.GET, filters)

    def post(self, request: HttpRequest) -> HttpResponse:
        """JSON ``{"q", "models", "limit", "min_score", "offset", "mode", "filters": {...}}`` (``query`` = ``q``)."""
        if not self.config().streaming.enabled:
            return error(404, "Streaming search is off (GRAPH_SEARCH['STREAMING']['ENABLED']).")
        payload = json_body(request)
        filters = payload.get("filters") or {}
        if not isinstance(filters, dict):
            raise InvalidParameterError("filters", "'filters' must be an object such as {\"genre__name\": \"Rock\"}.")
        return self.stream(request, payload.get("q", payload.get("query")), payload, filters)

    def stream(self, request: HttpRequest, query: Any, params: Any, filters: dict[str, Any]) -> HttpResponse:
        """Check every parameter now (errors are JSON 400), then stream the search's events."""
        config = self.config()
        search_query = SearchQuery.build(
            query, models=models_param(params.get("models")), limit=integer_param(params, "limit"),
            min_score=params.get("min_score"), offset=integer_param(params, "offset", minimum=0) or 0,
            filters=filters or None, mode=params.get("mode"), config=config,
        )
        stream = SearchStream.prepare(Searcher(config), search_query, request)
        response = StreamingHttpResponse(stream, content_type=stream.format.content_type)
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass events on as they come
        return response


class SchemaView(ApiView):
    """The OpenAPI 3 description of these endpoints, as mounted on this site."""

    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest) -> JsonResponse:
        from dgs_core.rest.schema import build_schema

        return JsonResponse(build_schema(request, self.config()))
