"""Who may call the REST API, and how often: ``GRAPH_SEARCH["API"]`` applied to every endpoint.

In order, as Django REST framework does it:

1. **Authentication.** With DRF installed, its ``DEFAULT_AUTHENTICATION_CLASSES`` identify the user
   (session, basic, token ...); without DRF, Django's ``request.user``. Requests that change something
   (POST, DELETE) from a logged-in user must pass Django's CSRF check.
2. ``REQUIRE_AUTHENTICATION``: anonymous requests get 401.
3. ``PERMISSION_CLASSES``: dotted paths to DRF permission classes (``has_permission(request, view)``)
   or to plain callables ``(request) -> bool``. A refusal is 401 for anonymous users, 403 otherwise.
4. ``THROTTLE_CLASSES``: dotted paths to DRF throttle classes (``allow_request(request, view)``) or
   callables ``(request) -> bool``; 429 with ``Retry-After``. :class:`SearchRateThrottle` applies
   ``THROTTLE_RATES`` (scopes ``search`` for anonymous clients, ``search_authenticated`` per user) and
   counts in Django's cache, so with a Redis cache the limit is global across workers.

DRF is optional: without it, :class:`SearchRateThrottle` runs on :class:`PlainRateThrottle`, the same
cache-backed sliding window.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from django.core.cache import cache as default_cache
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string

from dgs_core.conf import ApiConfig, GraphSearchConfig, Problem, get_config
from dgs_core.exceptions import ApiDenied

try:  # DRF is optional; everything below works without it
    from rest_framework.exceptions import APIException
    from rest_framework.request import Request as DrfRequest
    from rest_framework.settings import api_settings as drf_settings
    from rest_framework.throttling import SimpleRateThrottle as _RateThrottleBase
except ImportError:
    APIException = DrfRequest = drf_settings = _RateThrottleBase = None

RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?\s*$", re.IGNORECASE)
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"60/minute"`` -> ``(60, 60)``: requests allowed and the window in seconds (``"5/10s"`` works too)."""
    match = RATE.match(str(rate))
    if not match:
        raise ValueError(f"{rate!r} is not a rate like '60/minute' (units: second, minute, hour, day).")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _PERIODS[unit[0].lower()]


class PlainRateThrottle:
    """A sliding-window rate limit counted in Django's cache: DRF's algorithm, for sites without DRF.

    Subclasses set ``scope``, ``num_requests`` and ``duration`` and may override :meth:`get_cache_key`.
    """

    cache = default_cache
    timer = time.time
    cache_format = "throttle_%(scope)s_%(ident)s"
    scope = "search"

    def __init__(self) -> None:
        self.history: list[float] = []
        self.now = 0.0

    def get_ident(self, request: HttpRequest) -> str:
        """The client address (put a proxy's ``X-Forwarded-For`` into ``REMOTE_ADDR`` with middleware)."""
        return request.META.get("REMOTE_ADDR") or "unknown"

    def get_cache_key(self, request: HttpRequest, view: Any) -> Optional[str]:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def parse_rate(self, rate: str) -> tuple[int, int]:
        return parse_rate(rate)

    def allow_request(self, request: HttpRequest, view: Any) -> bool:
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.history = self.cache.get(key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return False
        self.history.insert(0, self.now)
        self.cache.set(key, self.history, self.duration)
        return True

    def wait(self) -> Optional[float]:
        """Seconds until the next request would be allowed."""
        remaining = self.duration - (self.now - self.history[-1]) if self.history else self.duration
        return max(remaining, 0.0)


RateThrottleBase = _RateThrottleBase or PlainRateThrottle


class SearchRateThrottle(RateThrottleBase):
    """``THROTTLE_RATES["search"]`` per client address for anonymous requests, ``["search_authenticated"]``
    per user for logged-in ones. A scope without a rate is not limited."""

    cache_format = "dgs_throttle_%(scope)s_%(ident)s"

    def __init__(self) -> None:  # the rate depends on who asks: chosen in allow_request
        self.history = []
        self.now = 0.0

    def allow_request(self, request: HttpRequest, view: Any) -> bool:
        user = getattr(request, "user", None)
        self.scope = "search_authenticated" if user is not None and user.is_authenticated else "search"
        self.rate = get_config().api.throttle_rates.get(self.scope)
        if not self.rate:
            return True
        self.num_requests, self.duration = parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: HttpRequest, view: Any) -> Optional[str]:
        user = request.user
        ident = f"user-{user.pk}" if self.scope == "search_authenticated" else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


@dataclass
class Policy:
    """``GRAPH_SEARCH["API"]`` with its dotted paths imported; build it with :func:`get_policy`."""

    require_authentication: bool = False
    permissions: list[Any] = field(default_factory=list)
    throttles: list[Any] = field(default_factory=list)

    def enforce(self, request: HttpRequest, view: Any) -> HttpRequest:
        """Raise :class:`ApiDenied` unless ``request`` may proceed. Returns the request permission and
        throttle classes were shown (DRF's ``Request`` when DRF is installed); ``request.user`` is set."""
        checked = self._authenticate(request)
        user = getattr(checked, "user", None)
        authenticated = bool(user is not None and user.is_authenticated)
        if authenticated and request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and DrfRequest is None:
            self._check_csrf(request)
        if self.require_authentication and not authenticated:
            raise ApiDenied(401, "Authentication is required to use the search API.", _challenge(checked))
        for permission in self.permissions:
            if not self._allows(permission, checked, view):
                message = str(getattr(permission, "message", None) or "You may not use the search API.")
                if not authenticated:
                    raise ApiDenied(401, f"Authentication is required: {message}", _challenge(checked))
                raise ApiDenied(403, message)
        for throttle_cls in self.throttles:
            throttle = throttle_cls() if isinstance(throttle_cls, type) else throttle_cls
            allowed = (throttle.allow_request(checked, view) if hasattr(throttle, "allow_request")
                       else throttle(request))
            if not allowed:
                wait = throttle.wait() if hasattr(throttle, "wait") else None
                retry = str(max(1, math.ceil(wait))) if wait is not None else "60"
                raise ApiDenied(429, f"Too many requests; retry in {retry} seconds.", {"Retry-After": retry})
        return checked

    @staticmethod
    def _authenticate(request: HttpRequest) -> Any:
        if DrfRequest is None:
            return request
        checked = DrfRequest(request, authenticators=[cls() for cls in drf_settings.DEFAULT_AUTHENTICATION_CLASSES])
        try:
            checked.user  # noqa: B018 - runs the authenticators; DRF copies the user onto ``request``
        except APIException as exc:
            headers = _challenge(checked) if exc.status_code == 401 else {}
            raise ApiDenied(exc.status_code, str(exc.detail), headers) from None
        return checked

    @staticmethod
    def _check_csrf(request: HttpRequest) -> None:
        check = _CsrfCheck(lambda r: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise ApiDenied(403, f"CSRF check failed: {reason}")

    @staticmethod
    def _allows(permission: Any, request: Any, view: Any) -> bool:
        if hasattr(permission, "has_permission"):
            return bool(permission.has_permission(request, view))
        return bool(permission(request))


def _challenge(request: Any) -> dict[str, str]:
    """The ``WWW-Authenticate`` header of a 401: the first DRF authenticator that has one (e.g. Basic)."""
    for authenticator in getattr(request, "authenticators", None) or ():
        header = authenticator.authenticate_header(request)
        if header:
            return {"WWW-Authenticate": header}
    return {}


def _load(path: str, role: str) -> Any:
    """Import one ``PERMISSION_CLASSES`` / ``THROTTLE_CLASSES`` entry; ValueError says what is wrong."""
    if not isinstance(path, str):
        raise ValueError(f"{role} entries must be dotted paths (strings), not {type(path).__name__}.")
    try:
        obj = import_string(path)
    except ImportError as exc:
        raise ValueError(f"{role} entry {path!r} cannot be imported: {exc}") from None
    if role == "PERMISSION_CLASSES":
        if isinstance(obj, type) and hasattr(obj, "has_permission"):
            return obj()
        if callable(obj) and not isinstance(obj, type):
            return obj
        raise ValueError(f"{role} entry {path!r} is neither a class with has_permission() nor a callable.")
    if isinstance(obj, type) and hasattr(obj, "allow_request"):
        try:
            obj()  # DRF throttles read their rate here: a missing rate shows up at start-up, not per request
        except Exception as exc:
            raise ValueError(f"{role} entry {path!r} cannot be built: {exc}") from None
        return obj
    if callable(obj) and not isinstance(obj, type):
        return obj
    raise ValueError(f"{role} entry {path!r} is neither a class with allow_request() nor a callable.")


def build_policy(api: ApiConfig) -> Policy:
    """The policy for ``api``; raises ValueError naming the bad entry."""
    for scope, rate in api.throttle_rates.items():
        if rate is not None:
            try:
                parse_rate(rate)
            except ValueError as exc:
                raise ValueError(f"THROTTLE_RATES[{scope!r}]: {exc}") from None
    return Policy(
        require_authentication=api.require_authentication,
        permissions=[_load(p, "PERMISSION_CLASSES") for p in api.permission_classes],
        throttles=[_load(t, "THROTTLE_CLASSES") for t in api.throttle_classes],
    )


def get_policy() -> Policy:
    """The shared policy of the current settings (rebuilt when ``GRAPH_SEARCH`` changes)."""
    from dgs_core import engine

    config = get_config()
    return engine.shared("api-policy", lambda: build_policy(config.api))


def configuration_problems(config: GraphSearchConfig) -> list[Problem]:
    """System check problems of ``GRAPH_SEARCH["API"]`` (``dgs.E011``)."""
    try:
        build_policy(config.api)
    except ValueError as exc:
        return [Problem("dgs.E011", f"GRAPH_SEARCH['API'] {exc}",
                        "Fix the dotted path or rate; until then every API request answers 503.")]
    return []
