"""Adds the "Graph search" section to the Django admin; ``django.contrib.admin`` imports this module itself.

The default site gets the section automatically. For another ``AdminSite`` call :func:`install` on it.
dgs has no models of its own: the section is an entry of the site's app list, and its pages are views
under ``<admin>/graph-search/``, so ``ADMIN_SEARCH_ENABLED: False`` removes both without a migration.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import AdminSite

from dgs_core.admin.views import admin_urls, app_list_entry


def install(site: AdminSite) -> None:
    """Add the search and index status pages, and their section on the index, to ``site`` (idempotent)."""
    if getattr(site, "_dgs_installed", False):
        return
    original_get_urls = site.get_urls
    original_get_app_list = site.get_app_list

    def get_urls():
        return admin_urls(site) + original_get_urls()

    def get_app_list(request, app_label=None):
        app_list = original_get_app_list(request, app_label)
        entry = app_list_entry(site, request) if app_label is None else None
        if entry is None:
            return app_list
        return sorted([*app_list, entry], key=lambda app: str(app["name"]).lower())

    site.get_urls = get_urls
    site.get_app_list = get_app_list
    site._dgs_installed = True


install(admin.site)
