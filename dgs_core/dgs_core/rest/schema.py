"""The OpenAPI 3 description of the REST API, built for the site it is served from.

Paths come from the URLconf (wherever ``dgs_core.urls`` is included), model labels and filter
parameters from ``GRAPH_SEARCH``, limits from its settings, so the schema never drifts from the views.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest
from django.urls import reverse

import dgs_core
from dgs_core.conf import SEARCH_MODES, GraphSearchConfig
from dgs_core.filters import LOOKUPS
from dgs_core.indexing.traversal import FieldPathError, resolve_path
from dgs_core.searching.query import MAX_OFFSET

ERROR = {"$ref": "#/components/schemas/Error"}
#: Some character that is not whitespace, in ECMA regex (JSON Schema's dialect) as Python's str.strip()
#: sees it: ECMA's \s lacks the separators U+001C-U+001F and U+0085, which strip() removes.
NOT_BLANK = r"[^\s\x1c-\x1f\x85]"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _ok(description: str, schema_ref: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


POLICY_ERRORS = {
    "401": _error("Authentication required (GRAPH_SEARCH['API']['REQUIRE_AUTHENTICATION'] or a permission class)."),
    "403": _error("A permission class refused the request, or the CSRF check failed."),
    "429": {**_error("Throttled; retry after the number of seconds in Retry-After."),
            "headers": {"Retry-After": {"schema": {"type": "string"}}}},
    "503": _error("The vector store or embedder is unreachable, or the API is misconfigured."),
}


def _field_schema(field: Any) -> dict[str, Any]:
    if isinstance(field, models.BooleanField):
        return {"type": "string", "enum": ["True", "False", "1", "0"]}
    if isinstance(field, (models.IntegerField, models.AutoField)):
        return {"type": "integer"}
    if isinstance(field, (models.FloatField, models.DecimalField)):
        return {"type": "number"}
    if isinstance(field, models.DateTimeField):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, models.DateField):
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def _filter_parameters(config: GraphSearchConfig) -> list[dict[str, Any]]:
    """One query parameter per declared filter path and lookup."""
    schemas: dict[str, dict[str, Any]] = {}
    for model_config in config.models:
        for path in model_config.filter_fields:
            if path in schemas:
                continue
            try:
                schemas[path] = _field_schema(resolve_path(model_config.model, path).field)
            except FieldPathError:  # reported by `manage.py check` (dgs.E005); nothing to describe
                continue
    parameters = []
    for path, schema in sorted(schemas.items()):
        for lookup in LOOKUPS:
            name = path if lookup == "exact" else f"{path}__{lookup}"
            if lookup == "isnull":
                value = {"type": "boolean"}
            elif lookup == "in":
                value = {"type": "array", "items": schema, "minItems": 1}
            else:
                value = schema
            parameters.append({"name": name, "in": "query", "required": False, "schema": value,
                               "style": "form", "explode": False,
                               "description": f"Filter on {path} ({lookup}); models without it are not searched."})
    return parameters


def _search_parameters(config: GraphSearchConfig, labels: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": "q", "in": "query", "required": True,
         "description": "The text to search for (not echoed back when it is too long).",
         "schema": {"type": "string", "minLength": 1, "maxLength": config.max_query_length,
                    "pattern": NOT_BLANK}},
        {"name": "models", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "Comma-separated model labels to search (leave it out to search every model).",
         "schema": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": labels}}},
        _limit_parameter(config),
        {"name": "min_score", "in": "query", "required": False,
         "description": "Drop hits scoring below this; echoed as min_score_applied.",
         "schema": {"type": "number", "minimum": 0, "maximum": 1}},
        {"name": "offset", "in": "query", "required": False, "description": "Skip this many hits.",
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}},
        {"name": "mode", "in": "query", "required": False,
         "description": f"vector, keyword or hybrid (both, fused by reciprocal rank); default "
                        f"{config.hybrid.default_mode}.",
         "schema": {"type": "string", "enum": list(SEARCH_MODES)}},
    ]


def _limit_parameter(config: GraphSearchConfig) -> dict[str, Any]:
    return {"name": "limit", "in": "query", "required": False,
            "description": f"Hits to return (default {config.default_results_limit}); values above "
                           f"{config.max_results_limit} are clamped to it.",
            "schema": {"type": "integer", "minimum": 1}}


def _paths(request: HttpRequest, config: GraphSearchConfig) -> dict[str, Any]:
    namespace = request.resolver_match.namespace if request.resolver_match else "dgs_core"
    labels = [m.label for m in config.models]

    def url(name: str, **kwargs: str) -> str:
        path = reverse(f"{namespace}:{name}", kwargs=kwargs or None)
        for key in kwargs:
            path = path.replace(f"dgs-{key}-placeholder", f"{{{key}}}")
        return path

    search_parameters = _search_parameters(config, labels) + _filter_parameters(config)
    search_errors = {"400": _error("A parameter is invalid; the message names it."), **POLICY_ERRORS}
    conversation_body = {"type": "object", "required": ["query"], "properties": {
        "query": {"type": "string", "minLength": 1, "maxLength": config.max_query_length, "pattern": NOT_BLANK},
        "conversation_id": {"type": "string", "maxLength": 200},
        "models": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": labels}},
        "limit": {"type": "integer", "minimum": 1},
    }}
    off = {"404": _error("The feature is off (GRAPH_SEARCH['CONVERSATIONAL'] / ['STREAMING'] 'ENABLED').")}
    return {
        url("search"): {"get": {
            "operationId": "search", "summary": "Semantic search over the configured models.",
            "parameters": search_parameters,
            "responses": {"200": _ok("Hits, best first.", "SearchResults"), **search_errors},
        }},
        url("similar", model="dgs-model-placeholder", pk="dgs-pk-placeholder"): {"get": {
            "operationId": "similar", "summary": "Objects most like one object (never the object itself).",
            "parameters": [
                {"name": "model", "in": "path", "required": True, "schema": {"type": "string", "enum": labels}},
                {"name": "pk", "in": "path", "required": True, "schema": {"type": "string", "pattern": r"^[^/]+$"}},
                _limit_parameter(config),
            ],
            "responses": {
                "200": _ok("Neighbours, best first.", "SimilarResults"),
                "404": _error("No searchable object with this model and primary key (also for models that are "
                              "not configured, and rows the requester may not see)."),
                **search_errors,
            },
        }},
        url("conversation"): {
            "post": {"operationId": "conversation_turn", "summary": "One turn of a search conversation.",
                     "requestBody": {"required": True,
                                     "content": {"application/json": {"schema": conversation_body}}},
                     "responses": {"200": _ok("Hits for the interpreted query.", "ConversationResults"),
                                   **off, **search_errors}},
            "delete": {"operationId": "conversation_clear", "summary": "Forget a conversation.",
                       "parameters": [{"name": "conversation_id", "in": "query", "required": True,
                                       "schema": {"type": "string", "minLength": 1}}],
                       "responses": {"200": {"description": "Forgotten.", "content": {"application/json": {
                           "schema": {"type": "object"}}}}, **off, **search_errors}},
        },
        url("stream"): {
            "get": {"operationId": "stream", "summary": "Search, streamed as events (ndjson or sse).",
                    "parameters": search_parameters,
                    "responses": {"200": {"description": "Events.", "content": {
                        "application/x-ndjson": {"schema": {"type": "string"}},
                        "text/event-stream": {"schema": {"type": "string"}}}}, **off, **search_errors}},
            "post": {"operationId": "stream_post", "summary": "Search from a JSON body, streamed as events.",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["q"], "properties": {
                             "q": {"type": "string", "minLength": 1, "maxLength": config.max_query_length,
                                   "pattern": NOT_BLANK},
                             "models": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": labels}},
                             "limit": {"type": "integer", "minimum": 1},
                             "min_score": {"type": "number", "minimum": 0, "maximum": 1},
                             "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                             "mode": {"type": "string", "enum": list(SEARCH_MODES)},
                             "filters": {"type": "object", "description": "Lookups as in search's filters."}}}}}},
                     "responses": {"200": {"description": "Events.", "content": {
                         "application/x-ndjson": {"schema": {"type": "string"}},
                         "text/event-stream": {"schema": {"type": "string"}}}}, **off, **search_errors}},
        },
        url("schema"): {"get": {
            "operationId": "schema", "summary": "This OpenAPI document.",
            "responses": {"200": {"description": "OpenAPI 3.0 document.",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          **POLICY_ERRORS},
        }},
    }


def _components() -> dict[str, Any]:
    hit = {"type": "object", "required": ["model", "pk", "score", "text", "matched"], "additionalProperties": False,
           "properties": {
               "model": {"type": "string", "description": "Lower-case app_label.model."},
               "pk": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
               "score": {"type": "number", "minimum": 0, "maximum": 1},
               "text": {"type": "string", "description": "The indexed text of the best-matching chunk."},
               "matched": {"type": "object", "nullable": True, "required": ["path", "snippet"],
                           "additionalProperties": False,
                           "description": "Why it matched: the field or relation path and the snippet.",
                           "properties": {"path": {"type": "string", "nullable": True},
                                          "snippet": {"type": "string"}}},
           }}
    hits = {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}
    total = {"type": "integer", "minimum": 0, "description": "Number of hits in this response."}
    return {"schemas": {
        "Hit": hit,
        "SearchResults": {"type": "object", "required": ["query", "mode", "results", "total"],
                          "additionalProperties": False,
                          "properties": {"query": {"type": "string"},
                                         "mode": {"type": "string", "enum": list(SEARCH_MODES)},
                                         "results": hits, "total": total,
                                         "min_score_applied": {"type": "number", "minimum": 0, "maximum": 1}}},
        "SimilarResults": {"type": "object", "required": ["model", "pk", "results", "total"],
                           "additionalProperties": False,
                           "properties": {"model": {"type": "string"},
                                          "pk": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                                          "results": hits, "total": total}},
        "ConversationResults": {"type": "object", "required": ["conversation_id", "query", "results", "total"],
                                "properties": {"conversation_id": {"type": "string"}, "query": {"type": "string"},
                                               "interpreted_query": {"type": "string"},
                                               "clarification_needed": {"type": "boolean"},
                                               "results": hits, "total": total}},
        "Error": {"type": "object", "required": ["error"], "additionalProperties": False,
                  "properties": {"error": {"type": "string", "description": "What is wrong, naming the parameter."}}},
    }}


def build_schema(request: HttpRequest, config: GraphSearchConfig) -> dict[str, Any]:
    """The OpenAPI 3.0 document for the endpoints as mounted on this site."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "dgs graph search API", "version": dgs_core.__version__,
                 "description": "Semantic search over Django models. Errors are JSON {\"error\": ...} naming the "
                                "parameter at fault."},
        "paths": _paths(request, config),
        "components": _components(),
    }
