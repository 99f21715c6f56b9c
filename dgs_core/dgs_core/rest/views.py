"""The REST API (CONTRACT §4) as Django REST framework views: search, similar, conversation, stream, and the
OpenAPI schema with its interactive page.

Every view takes its authentication, permission and throttle classes from ``GRAPH_SEARCH["API"]`` or the
project's ``REST_FRAMEWORK`` defaults (:mod:`dgs_core.rest.access`), reads its parameters with a serializer
(:mod:`dgs_core.rest.serializers`) and answers errors as JSON ``{"error": "..."}`` naming the parameter at
fault. No input produces a 500: :func:`error_response` maps each failure to its status; a failure on the
server's side is answered 503 with a fixed message and a request id, its cause logged under that id
(:mod:`dgs_core.failures`). Browsers get DRF's browsable API.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, RequestDataTooBig, ValidationError
from django.db import DataError
from django.http import Http404, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.settings import patched_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView, set_rollback

from dgs_core.conf import get_config
from dgs_core.conversation import converse, forget
from dgs_core.exceptions import ApiDenied, InvalidParameterError, UnknownModelError
from dgs_core.failures import REQUEST_ID_HEADER, report_failure
from dgs_core.rest import schema as openapi
from dgs_core.rest.access import RequireAuthentication, get_access, throttle_classes
from dgs_core.rest.serializers import (
    ConversationToForget,
    ConversationToForgetQuery,
    ConversationTurn,
    SearchBody,
    SearchParameters,
    SimilarParameters,
    SimilarPath,
)
from dgs_core.searching.searcher import Searcher
from dgs_core.searching.text_input import refuse_malformed
from dgs_core.searching.visibility import visible_queryset
from dgs_core.streaming import SearchStream

log = logging.getLogger("dgs_core.api")

NOT_FOUND = "No searchable object matches this model and primary key."
#: Permission classes without a ``message`` refuse with this.
REFUSED = "You may not use the search API."
#: Retry-After of a 429 when no throttle said how long to wait.
DEFAULT_RETRY_AFTER = 60


class Misconfigured(ImproperlyConfigured):
    """``GRAPH_SEARCH["API"]`` names something unusable (``manage.py check`` reports it as dgs.E011)."""


def _first_message(detail: Any) -> str:
    """The first message of a DRF error detail (a string, or lists and dicts of them keyed by parameter)."""
    while isinstance(detail, (list, dict)):
        detail = next(iter(detail.values() if isinstance(detail, dict) else detail))
    return str(detail)


def _describe(exc: Exception, view: Any, request: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers answering ``exc``: 4xx for the caller's mistakes, else a fixed 503 with a
    request id (:mod:`dgs_core.failures`; the cause goes to the log under that id)."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, exceptions.Throttled):
        wait = str(max(1, exc.wait or DEFAULT_RETRY_AFTER))
        return 429, {"error": f"Too many requests; retry in {wait} seconds."}, {"Retry-After": wait}
    if isinstance(exc, exceptions.MethodNotAllowed):
        allowed = ", ".join(view.allowed_methods)
        return 405, {"error": f"Method {request.method} is not allowed here; use {allowed}."}, {"Allow": allowed}
    if isinstance(exc, exceptions.APIException) and exc.status_code < 500:
        auth_header = getattr(exc, "auth_header", None)
        return (exc.status_code, {"error": _first_message(exc.detail)},
                {"WWW-Authenticate": auth_header} if auth_header else {})
    if isinstance(exc, ApiDenied):
        return exc.status, {"error": exc.message}, exc.headers
    if isinstance(exc, (InvalidParameterError, UnknownModelError)):
        return 400, {"error": str(exc)}, {}
    if isinstance(exc, RequestDataTooBig):
        return 400, {"error": "The request body is too large."}, {}
    where = f"Search API {request.method} {request.path}"
    if isinstance(exc, Misconfigured):
        where += " (GRAPH_SEARCH['API'] is misconfigured; run `manage.py check`)"
    failure = report_failure(exc, log, where)
    return failure.status, failure.body(), failure.headers


def error_response(exc: Exception, context: dict[str, Any]) -> Response:
    """The exception handler of every endpoint: ``{"error": message}`` with the status and headers of ``exc``;
    a 5xx adds ``request_id`` (also the ``X-Request-ID`` header)."""
    status, body, headers = _describe(exc, context["view"], context["request"])
    set_rollback()
    return Response(body, status=status, headers=headers)


class JsonBody(JSONParser):
    """DRF's JSON parser, saying that a body it cannot read is malformed JSON, and refusing text that is not
    Unicode (:mod:`dgs_core.searching.text_input`)."""

    def parse(self, stream: Any, media_type: Optional[str] = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except exceptions.ParseError as exc:
            raise exceptions.ParseError(f"Malformed JSON body: {exc.detail}") from None
        except RecursionError:
            raise exceptions.ParseError("Malformed JSON body: it is nested too deeply.") from None
        try:
            refuse_malformed(data)  # a lone surrogate ("\ud800" escapes): a 400 naming the parameter
        except InvalidParameterError as exc:
            raise exceptions.ParseError(str(exc)) from None
        return data


class SearchApi:
    """What every endpoint shares: access classes from the settings, JSON errors, the generated schema.

    ``parameters`` maps a method to the serializers of its query (or path) parameters, for the schema.
    """

    throttle_scope = "search"  # DRF's ScopedRateThrottle, when a site uses it, counts under THROTTLE_RATES["search"]
    parameters: dict[str, tuple[type, ...]] = {}
    schema = openapi.SearchApiSchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            get_access()
        except ValueError as exc:
            raise Misconfigured(str(exc)) from None
        super().initial(request, *args, **kwargs)
        # Text no store, embedder or JSON answer can encode: a 400 naming the parameter before anything runs
        # (JSON bodies: JsonBody).
        refuse_malformed(request.query_params)

    def get_authenticators(self) -> list[Any]:
        try:
            classes = get_access().authentication
        except (ValueError, ImproperlyConfigured):  # unusable settings: answered 503 by initial()
            return []
        return [cls() for cls in classes or api_settings.DEFAULT_AUTHENTICATION_CLASSES]

    def get_permissions(self) -> list[Any]:
        access = get_access()
        classes = list(access.permissions or api_settings.DEFAULT_PERMISSION_CLASSES)
        return [cls() for cls in ([RequireAuthentication] if access.require_authentication else []) + classes]

    def get_throttles(self) -> list[Any]:
        return [cls() for cls in throttle_classes(get_access())]

    def get_authenticate_header(self, request: Request) -> Optional[str]:
        """The challenge of the first authenticator that has one (DRF asks only the first, so a site with
        session and basic authentication would answer anonymous callers 403 instead of 401)."""
        for authenticator in self.get_authenticators():
            header = authenticator.authenticate_header(request)
            if header:
                return header
        return None

    def permission_denied(self, request: Request, message: Optional[str] = None, code: Optional[str] = None) -> None:
        """401 for anonymous callers (saying authentication would help), 403 for authenticated ones."""
        message = str(message or REFUSED)
        if request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated(message if code == RequireAuthentication.code
                                              else f"Authentication is required: {message}")
        raise exceptions.PermissionDenied(message, code)

    def get_exception_handler(self) -> Any:
        return error_response


class SearchApiView(SearchApi, APIView):
    """A DRF view of the search API."""


class SearchView(SearchApiView):
    """Semantic search over the configured models.

    `GET ?q=rock&models=chinook.Track&limit=5&min_score=0.3&offset=0&mode=hybrid` plus filters on declared
    `filter_fields` (`?genre__name=Rock`, `?milliseconds__lte=300000`). Answers `{"query", "mode", "results",
    "total"}`, and `min_score_applied` when `min_score` was given.
    """

    parameters = {"GET": (SearchParameters,)}

    @openapi.described(operation_id="search", summary="Semantic search over the configured models.",
                       responses={200: OpenApiResponse(openapi.SearchResultsSerializer, "Hits, best first."),
                                  **openapi.SEARCH_ERRORS},
                       parameters=openapi.ACCESS_HEADERS)
    def get(self, request: Request) -> Response:
        parameters = SearchParameters(data=request.query_params)
        parameters.is_valid(raise_exception=True)
        query = parameters.validated_data["query"]
        return Response(Searcher(get_config()).run(query, request).as_body(query.min_score))


class SimilarView(SearchApiView):
    """The objects most like one object, never the object itself: `GET similar/<app_label.Model>/<pk>/?limit=`."""

    parameters = {"GET": (SimilarPath, SimilarParameters)}

    @openapi.described(operation_id="similar", summary="Objects most like one object (never the object itself).",
                       responses={200: OpenApiResponse(openapi.SimilarResultsSerializer, "Neighbours, best first."),
                                  404: openapi.error("No searchable object with this model and primary key (also for "
                                                     "models that are not configured, and rows the caller may not "
                                                     "see)."),
                                  **openapi.SEARCH_ERRORS},
                       parameters=openapi.ACCESS_HEADERS)
    def get(self, request: Request, model: str, pk: str) -> Response:
        parameters = SimilarParameters(data=request.query_params)
        parameters.is_valid(raise_exception=True)
        config = get_config()
        model_config = config.model_config(model)
        if model_config is None:
            raise exceptions.NotFound(NOT_FOUND)
        try:
            pk_value = model_config.model._meta.pk.to_python(pk)
            instance = visible_queryset(model_config, request).filter(pk=pk_value).first()
        except (ValidationError, ValueError, TypeError, OverflowError, DataError):
            instance = None
        if instance is None:
            raise exceptions.NotFound(NOT_FOUND)
        results = Searcher(config).similar(instance, limit=parameters.validated_data.get("limit"), request=request)
        return Response({
            "model": model_config.model_label,
            "pk": instance.pk if isinstance(instance.pk, (int, str)) else str(instance.pk),
            "results": [hit.as_dict() for hit in results],
            "total": len(results),
        })


def _conversational() -> None:
    if not get_config().conversational.enabled:
        raise exceptions.NotFound("Conversational search is off (GRAPH_SEARCH['CONVERSATIONAL']['ENABLED']).")


class ConversationView(SearchApiView):
    """A search conversation: `POST {"query", "conversation_id", "models", "limit"}` for one turn (follow-ups
    such as "more" or "only albums" refine the last search); `DELETE {"conversation_id"}` forgets it (the
    deprecated `DELETE ?conversation_id=` of CONTRACT §4 still works). 404 while `CONVERSATIONAL["ENABLED"]` is
    false."""

    parser_classes = [JsonBody]
    parameters = {"DELETE": (ConversationToForgetQuery,)}

    @openapi.described(operation_id="conversation_turn", summary="One turn of a search conversation.",
                       request=ConversationTurn,
                       responses={200: OpenApiResponse(openapi.ConversationResultsSerializer,
                                                     "Hits for the interpreted query."),
                                  **openapi.OFF, **openapi.SEARCH_ERRORS},
                       parameters=openapi.ACCESS_HEADERS)
    def post(self, request: Request) -> Response:
        _conversational()
        turn = ConversationTurn(data=request.data)
        turn.is_valid(raise_exception=True)
        values = turn.validated_data
        reply = converse(values.get("query"), values.get("conversation_id"), values.get("models"),
                         values.get("limit"), request=request, config=get_config())
        return Response(reply.as_dict())

    @openapi.described(operation_id="conversation_clear", summary="Forget a conversation.",
                       request=ConversationToForget,
                       responses={200: OpenApiResponse(openapi.ConversationForgottenSerializer, "Forgotten."),
                                  **openapi.OFF, **openapi.SEARCH_ERRORS},
                       parameters=openapi.ACCESS_HEADERS)
    def delete(self, request: Request) -> Response:
        _conversational()
        # Without a body, the query string of CONTRACT §4.
        parameters = ConversationToForget(data=request.data if request.data else request.query_params)
        parameters.is_valid(raise_exception=True)
        conversation_id = parameters.validated_data["conversation_id"]
        forget(conversation_id, request=request)
        return Response({"conversation_id": conversation_id, "cleared": True})


class StreamView(SearchApiView):
    """Search, streamed as events while it runs (`STREAMING["FORMAT"]`: ndjson or sse): `GET` with search's
    parameters, or `POST` them as JSON with the filters as an object. Parameter errors are JSON 400 before the
    stream starts. 404 while `STREAMING["ENABLED"]` is false."""

    parser_classes = [JsonBody]
    parameters = {"GET": (SearchParameters,)}

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The stream has its own content type; errors are JSON whatever the client accepts.
        return super().perform_content_negotiation(request, force=True)

    @openapi.described(operation_id="stream", summary="Search, streamed as events (ndjson or sse).",
                       responses=openapi.STREAM_RESPONSES, parameters=openapi.ACCESS_HEADERS)
    def get(self, request: Request) -> StreamingHttpResponse:
        _streaming()
        return self.stream(SearchParameters(data=request.query_params), request)

    @openapi.described(operation_id="stream_post", summary="Search from a JSON body, streamed as events.",
                       request=SearchBody, responses=openapi.STREAM_RESPONSES, parameters=openapi.ACCESS_HEADERS)
    def post(self, request: Request) -> StreamingHttpResponse:
        _streaming()
        return self.stream(SearchBody(data=request.data), request)

    @staticmethod
    def stream(parameters: SearchParameters, request: Request) -> StreamingHttpResponse:
        parameters.is_valid(raise_exception=True)
        stream = SearchStream.prepare(Searcher(get_config()), parameters.validated_data["query"], request)
        response = StreamingHttpResponse(stream, content_type=stream.format.content_type)
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass events on as they come
        response[REQUEST_ID_HEADER] = stream.request_id  # what an error event names, for the log
        return response


def _streaming() -> None:
    if not get_config().streaming.enabled:
        raise exceptions.NotFound("Streaming search is off (GRAPH_SEARCH['STREAMING']['ENABLED']).")


class SchemaView(SearchApi, SpectacularAPIView):
    """The OpenAPI 3 document of these endpoints, generated by drf-spectacular (JSON; YAML on request)."""

    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiYamlRenderer, OpenApiYamlRenderer2]
    custom_settings = openapi.SCHEMA_SETTINGS
    generator_class = openapi.SearchApiGenerator

    @openapi.described(operation_id="schema", summary="This OpenAPI document.",
                       responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="OpenAPI 3.0 document."),
                                  **openapi.ACCESS_ERRORS},
                       parameters=[*openapi.LANGUAGE, *openapi.ACCESS_HEADERS])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class DocsView(SpectacularSwaggerView):
    """Swagger UI on the schema, from the drf-spectacular-sidecar package (no CDN)."""

    title = openapi.SCHEMA_SETTINGS["TITLE"]
    schema = openapi.SearchApiSchema()  # which leaves it out of the schema (exclude=True)

    @openapi.described(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.url = reverse(f"{request.resolver_match.namespace}:schema")
        with patched_settings({"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR"}):
            return super().get(request, *args, **kwargs)
