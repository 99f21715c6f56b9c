"""URLs of the core tests: the REST API where the README mounts it, and the Django admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/search/", include("dgs_core.urls")),
    path("admin/", admin.site.urls),
]
