"""What a site that mounts ``dgs_core.urls`` must install: the apps of the REST API's libraries (``dgs.E012``)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.urls import URLResolver, get_resolver

from dgs_core.conf import Problem

#: App -> what it serves: DRF's browsable API templates, drf-spectacular's Swagger UI template, and the UI's
#: JavaScript and CSS as static files (so the docs page loads nothing from a CDN).
REQUIRED_APPS = {
    "rest_framework": "the browsable API",
    "drf_spectacular": "the docs page",
    "drf_spectacular_sidecar": "the docs page's scripts and styles",
}


def _mounts_search_api(patterns: list[Any]) -> bool:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if getattr(pattern.urlconf_module, "__name__", pattern.urlconf_name) == "dgs_core.urls":
                return True
            if _mounts_search_api(pattern.url_patterns):
                return True
    return False


def installation_problems() -> list[Problem]:
    """``dgs.E012`` for each app the REST API needs that ``INSTALLED_APPS`` lacks, when the site mounts it."""
    missing = {app: serves for app, serves in REQUIRED_APPS.items() if not apps.is_installed(app)}
    if not missing:
        return []
    try:
        mounted = _mounts_search_api(get_resolver().url_patterns)
    except Exception:  # a URLconf that does not load is reported by Django's own URL checks
        return []
    if not mounted:
        return []
    return [Problem(
        "dgs.E012", f"The URLconf includes dgs_core.urls, whose REST API needs {', '.join(map(repr, missing))} in "
                    f"INSTALLED_APPS (for {'; '.join(missing.values())}).",
        f"Add {', '.join(map(repr, missing))} to INSTALLED_APPS (the packages come with dgs-core).",
    )]
