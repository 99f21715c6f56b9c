"""Who may call the REST API, and how often: Django REST framework's own classes.

Each endpoint takes its authentication, permission and throttle classes from ``GRAPH_SEARCH["API"]``
(``AUTHENTICATION_CLASSES``, ``PERMISSION_CLASSES``, ``THROTTLE_CLASSES``: dotted paths) where the list is
not empty, else from the project's ``REST_FRAMEWORK`` defaults, as any DRF view does. On top:

- ``REQUIRE_AUTHENTICATION`` refuses anonymous callers (401) before any permission class runs.
- A ``PERMISSION_CLASSES`` or ``THROTTLE_CLASSES`` entry may also name a plain function ``(request) -> bool``.
- :class:`SearchRateThrottle` limits by ``THROTTLE_RATES``: scope ``search`` per client address for anonymous
  callers, ``search_authenticated`` per user. Like every DRF throttle it counts in Django's cache, so with a
  Redis cache the limit holds across workers. It is the default throttle (:func:`throttle_classes`): when
  neither ``THROTTLE_CLASSES`` nor the project's ``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]`` names any, the
  API is throttled at ``THROTTLE_RATES`` (60/minute per address, 300/minute per user) rather than not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from dgs_core.conf import ApiConfig, GraphSearchConfig, Problem, get_config

#: Seconds a client refused by a plain-function throttle is told to wait: the function says no more than "no".
CALLABLE_THROTTLE_WAIT = 60.0


class RequireAuthentication(BasePermission):
    """``REQUIRE_AUTHENTICATION``: only authenticated callers."""

    message = "Authentication is required to use the search API."
    code = "not_authenticated"

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)


class SearchRateThrottle(SimpleRateThrottle):
    """``THROTTLE_RATES["search"]`` per client address for anonymous callers, ``["search_authenticated"]`` per
    user for authenticated ones. A scope without a rate is not limited."""

    cache_format = "dgs_throttle_%(scope)s_%(ident)s"

    def __init__(self) -> None:  # the scope, so the rate, depends on the caller: chosen in allow_request
        pass

    def allow_request(self, request: Any, view: Any) -> bool:
        authenticated = bool(request.user and request.user.is_authenticated)
        self.scope = "search_authenticated" if authenticated else "search"
        self.rate = get_config().api.throttle_rates.get(self.scope)
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str:
        ident = f"user-{request.user.pk}" if self.scope == "search_authenticated" else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _permission_calling(function: Callable[[Any], bool]) -> type[BasePermission]:
    class CallablePermission(BasePermission):
        def has_permission(self, request: Any, view: Any) -> bool:
            return bool(function(request))

    CallablePermission.__qualname__ = f"CallablePermission[{function.__module__}.{function.__qualname__}]"
    return CallablePermission


def _throttle_calling(function: Callable[[Any], bool]) -> type[BaseThrottle]:
    class CallableThrottle(BaseThrottle):
        def allow_request(self, request: Any, view: Any) -> bool:
            return bool(function(request))

        def wait(self) -> float:
            return CALLABLE_THROTTLE_WAIT

    CallableThrottle.__qualname__ = f"CallableThrottle[{function.__module__}.{function.__qualname__}]"
    return CallableThrottle


def _load(path: Any, key: str, base: type, adapt: Optional[Callable[[Any], type]]) -> type:
    """One entry of ``GRAPH_SEARCH["API"][key]`` as a DRF class; ValueError says what is wrong with it."""
    if not isinstance(path, str):
        raise ValueError(f"{key} entries must be dotted paths (strings), not {type(path).__name__}.")
    try:
        found = import_string(path)
    except ImportError as exc:
        raise ValueError(f"{key} entry {path!r} cannot be imported: {exc}") from None
    if isinstance(found, type) and issubclass(found, base):
        return found
    if adapt is not None and callable(found) and not isinstance(found, type):
        return adapt(found)
    what = f"a subclass of {base.__module__}.{base.__qualname__}"
    raise ValueError(f"{key} entry {path!r} is neither {what} nor a function (request) -> bool."
                     if adapt else f"{key} entry {path!r} is not {what}.")


@dataclass(frozen=True)
class Access:
    """``GRAPH_SEARCH["API"]`` as DRF classes; an empty tuple leaves that kind to ``REST_FRAMEWORK``."""

    require_authentication: bool
    authentication: tuple[type, ...]
    permissions: tuple[type, ...]
    throttles: tuple[type, ...]


def build_access(api: ApiConfig) -> Access:
    """The classes ``api`` names; raises ValueError naming the entry at fault."""
    for scope, rate in api.throttle_rates.items():
        try:
            SearchRateThrottle().parse_rate(rate)  # DRF's own parser: what it cannot read, it cannot apply
        except (ValueError, KeyError, IndexError, AttributeError):
            raise ValueError(f"THROTTLE_RATES[{scope!r}]: {rate!r} is not a rate like '60/minute' "
                             "(units: second, minute, hour, day).") from None
    return Access(
        require_authentication=api.require_authentication,
        authentication=tuple(_load(p, "AUTHENTICATION_CLASSES", BaseAuthentication, None)
                             for p in api.authentication_classes),
        permissions=tuple(_load(p, "PERMISSION_CLASSES", BasePermission, _permission_calling)
                          for p in api.permission_classes),
        throttles=tuple(_load(p, "THROTTLE_CLASSES", BaseThrottle, _throttle_calling) for p in api.throttle_classes),
    )


def throttle_classes(access: Access) -> tuple[type, ...]:
    """``THROTTLE_CLASSES``, else the project's ``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]`` when it sets that key
    (``[]`` included: no throttle), else :class:`SearchRateThrottle`: a site that says nothing is throttled."""
    if access.throttles:
        return access.throttles
    if "DEFAULT_THROTTLE_CLASSES" in getattr(settings, "REST_FRAMEWORK", {}):
        return tuple(api_settings.DEFAULT_THROTTLE_CLASSES)
    return (SearchRateThrottle,)


def get_access() -> Access:
    """The access classes of the current settings (built again when ``GRAPH_SEARCH`` changes); ValueError
    when ``GRAPH_SEARCH["API"]`` names something unusable."""
    from dgs_core import engine

    config = get_config()
    return engine.shared("api-access", lambda: build_access(config.api))


def configuration_problems(config: GraphSearchConfig) -> list[Problem]:
    """System check problems of ``GRAPH_SEARCH["API"]`` (``dgs.E011``)."""
    try:
        build_access(config.api)
    except ValueError as exc:
        return [Problem("dgs.E011", f"GRAPH_SEARCH['API'] {exc}",
                        "Fix the dotted path or rate; until then every API request answers 503.")]
    return []
