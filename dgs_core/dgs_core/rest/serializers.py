"""What each endpoint reads from its request, as DRF serializers.

A parameter field describes its parameter (the OpenAPI schema shows :meth:`Parameter.schema`) and hands it on
as the client sent it, reading only what the transport spells its own way (digits and comma lists in query
strings). The rules live once, where the Python API applies them too: :meth:`SearchQuery.build
<dgs_core.searching.query.SearchQuery.build>` for searches, :func:`~dgs_core.conversation.converse` for
conversation turns. ``validate`` turns their :class:`InvalidParameterError` into a ValidationError on the
parameter it names.

Which query parameters are filters: every parameter that is not a field of :class:`SearchParameters` is a
filter (``?genre__name=Rock``), except those :func:`is_ignored` leaves alone: names starting with ``_``
(cache-busters such as ``_=1712345678``), ``utm_`` campaign tags, the click ids of ad networks (``fbclid``,
``gclid``, ``dclid``, ``msclkid``) and DRF's format override (``format``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Union

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.fields import SkipField, empty
from rest_framework.settings import api_settings

from dgs_core.conf import SEARCH_MODES, GraphSearchConfig, get_config
from dgs_core.exceptions import InvalidParameterError, UnknownModelError
from dgs_core.searching.query import MAX_OFFSET, SearchQuery, positive_int

#: Some character that is not whitespace, in ECMA regex (JSON Schema's dialect) as Python's str.strip() sees it:
#: ECMA's \s lacks the separators U+001C-U+001F and U+0085, which strip() removes.
NOT_BLANK = r"[^\s\x1c-\x1f\x85]"
MODEL_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")
#: Query parameters that are never filters: cache-busters, campaign tags and ad click ids.
IGNORED_PARAMETERS = re.compile(r"_.*|utm_.*|fbclid|gclid|dclid|msclkid")

Schema = Union[dict[str, Any], Callable[[GraphSearchConfig], dict[str, Any]]]


def is_ignored(name: str) -> bool:
    """Whether query parameter ``name`` is neither a search parameter nor a filter (see the module's doc)."""
    return name == api_settings.URL_FORMAT_OVERRIDE or IGNORED_PARAMETERS.fullmatch(name) is not None


class Parameter(serializers.Field):
    """A request parameter handed on as the client sent it (left out when absent); ``schema`` describes it."""

    def __init__(self, schema: Schema, *, comma_separated: bool = False, **kwargs: Any) -> None:
        self._schema = schema
        self.comma_separated = comma_separated  # a list, in a query string as "a,b" (OpenAPI: form, not exploded)
        super().__init__(**kwargs)

    def schema(self, config: GraphSearchConfig) -> dict[str, Any]:
        """The parameter's JSON Schema for the OpenAPI document."""
        return self._schema(config) if callable(self._schema) else dict(self._schema)

    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        # As sent, an empty query-string value too (DRF's fields read that as "absent", which hides a mistake).
        return dictionary.get(self.field_name, empty)

    def run_validation(self, data: Any = empty) -> Any:
        if data is empty:
            raise SkipField()
        return self.to_internal_value(data)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class ModelLabels(Parameter):
    """``models``: a comma-separated string (query strings) or a list of strings (JSON bodies)."""

    def to_internal_value(self, data: Any) -> Any:
        labels = [part.strip() for part in data.split(",")] if isinstance(data, str) else data
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise serializers.ValidationError("'models' must be a comma-separated list of model labels.")
        if not labels or not all(len(label) <= 200 and MODEL_LABEL.fullmatch(label) for label in labels):
            raise serializers.ValidationError(
                "'models' must be a comma-separated list of model labels such as 'shop.Product' "
                "(leave it out to search every model)."
            )
        return labels


class QueryInteger(Parameter):
    """An integer that a query string spells in ASCII digits (no booleans, floats or words). JSON numbers go on
    as they are, for SearchQuery to check."""

    def __init__(self, schema: Schema, *, minimum: int = 1, **kwargs: Any) -> None:
        self.minimum = minimum
        super().__init__(schema, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        try:
            return positive_int(self.field_name, data, minimum=self.minimum)
        except InvalidParameterError as exc:
            raise serializers.ValidationError(str(exc)) from None


class FilterObject(Parameter):
    """``filters`` of a JSON body: an object of lookups, as search takes them in its query string."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError("'filters' must be an object such as {\"genre__name\": \"Rock\"}.")
        return data


def query_text_schema(config: GraphSearchConfig) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": config.max_query_length, "pattern": NOT_BLANK}


def model_label_schema(config: GraphSearchConfig) -> dict[str, Any]:
    return {"type": "string", "enum": [m.label for m in config.models]}


def model_labels_schema(config: GraphSearchConfig) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "items": model_label_schema(config)}


def limit_field(ceiling: str = "MAX_RESULTS_LIMIT (1000)") -> QueryInteger:
    return QueryInteger(
        {"type": "integer", "minimum": 1}, required=False,
        help_text=f"Hits to return (default DEFAULT_RESULTS_LIMIT, 20); values above {ceiling} are clamped to it.",
    )


def models_field() -> ModelLabels:
    return ModelLabels(model_labels_schema, comma_separated=True, required=False,
                       help_text="Model labels to search, comma-separated in a query string (leave it out to "
                                 "search every model).")


class SearchParameters(serializers.Serializer):
    """The query string of search and stream. Every other parameter is a filter unless :func:`is_ignored`."""

    q = Parameter(query_text_schema, help_text="The text to search for (not echoed back when it is too long).")
    models = models_field()
    limit = limit_field()
    min_score = Parameter({"type": "number", "minimum": 0, "maximum": 1}, required=False,
                          help_text="Drop hits scoring below this; echoed as min_score_applied.")
    offset = QueryInteger({"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}, minimum=0, required=False,
                          help_text="Skip this many hits (paging).")
    mode = Parameter({"type": "string", "enum": list(SEARCH_MODES)}, required=False,
                     help_text="vector, keyword or hybrid (both, fused by reciprocal rank); default "
                               "HYBRID['DEFAULT_MODE'].")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        values = super().to_internal_value(data)
        filters = self.filters_of(data)
        if filters:
            values["filters"] = filters
        return values

    def filters_of(self, data: QueryDict) -> dict[str, Any]:
        """The query string's filters: a repeated parameter gives a list of its values."""
        return {key: values[0] if len(values) == 1 else values
                for key, values in data.lists() if key not in self.fields and not is_ignored(key)}

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        """``{"query": SearchQuery}``, or the ValidationError of the parameter SearchQuery refused."""
        try:
            return {"query": SearchQuery.build(values.pop("q", None), config=get_config(), **values)}
        except InvalidParameterError as exc:
            raise serializers.ValidationError({exc.parameter: str(exc)}) from None
        except UnknownModelError as exc:
            raise serializers.ValidationError({"models": str(exc)}) from None


class SearchBody(SearchParameters):
    """A stream's JSON body: the search parameters, with the filters as an object ("query" is taken for "q")."""

    # DRF fills the message in with str.format: braces doubled.
    default_error_messages = {"invalid": "The JSON body must be an object such as {{\"q\": \"...\"}}."}

    filters = FilterObject({"type": "object", "additionalProperties": True}, required=False,
                           help_text="Lookups on declared filter_fields, as search takes them in its query string: "
                                     "{\"genre__name\": \"Rock\", \"price__lte\": 10}.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping) and "q" not in data and "query" in data:
            data = {**data, "q": data["query"]}
        return super().to_internal_value(data)

    def filters_of(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return {}  # a body's filters are its 'filters' object


class SimilarPath(serializers.Serializer):
    """The path of similar, for the schema: the view answers 404 alike for models that are not configured,
    unknown objects and rows the caller may not see."""

    location = "path"
    model = Parameter(model_label_schema, help_text="app_label.Model of a configured model.")
    pk = Parameter({"type": "string", "pattern": r"^[^/]+$"}, help_text="The object's primary key.")


class SimilarParameters(serializers.Serializer):
    """The query string of similar."""

    limit = limit_field("MAX_SIMILAR_LIMIT (100)")


class ConversationTurn(serializers.Serializer):
    """One turn of a conversation (the rules live in dgs_core.conversation.converse)."""

    default_error_messages = {"invalid": "The JSON body must be an object such as {{\"query\": \"...\"}}."}

    query = Parameter(query_text_schema, help_text="What the user said: a search, or a follow-up such as "
                                                   "'more' or 'only albums'.")
    conversation_id = Parameter({"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,200}$"}, required=False,
                                help_text="The conversation to continue (from an earlier answer of this user or "
                                          "session); leave it out to start one. An id the server does not know "
                                          "starts a new conversation with a new id.")
    models = models_field()
    limit = limit_field()


class ConversationToForget(serializers.Serializer):
    """The JSON body that forgets a conversation. The view reads CONTRACT §4's query string
    (:class:`ConversationToForgetQuery`) when there is no body."""

    default_error_messages = {"invalid": "The JSON body must be an object such as {{\"conversation_id\": \"...\"}}."}

    conversation_id = Parameter({"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,200}$"}, required=False,
                                help_text="The conversation to forget.")

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        if not values.get("conversation_id"):
            raise serializers.ValidationError(
                {"conversation_id": "'conversation_id' is required: send {\"conversation_id\": \"...\"} as the JSON "
                                    "body."})
        return values


class ConversationToForgetQuery(serializers.Serializer):
    """The query string that forgets a conversation: CONTRACT §4's form, deprecated for the body because query
    strings end up in access logs."""

    deprecated = True
    conversation_id = Parameter({"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,200}$"}, required=False,
                                help_text="Deprecated: send the id in the JSON body instead (query strings end up in "
                                          "access logs).")
