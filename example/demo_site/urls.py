"""URLs of the demo site: the public search page, dgs's REST API and the Django admin."""

from django.contrib import admin
from django.urls import include, path

from demo_site.views import search_page

urlpatterns = [
    path("", search_page, name="search"),
    path("api/search/", include("dgs_core.urls")),
    path("admin/", admin.site.urls),
]
