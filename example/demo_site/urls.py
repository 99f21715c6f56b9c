"""URLs of the demo site: the public search page and a page per artist, album and track, dgs's REST API and the
Django admin."""

from django.contrib import admin
from django.urls import include, path

from demo_site.views import album_page, artist_page, search_page, track_page

urlpatterns = [
    path("", search_page, name="search"),
    path("artists/<int:pk>/", artist_page, name="artist"),
    path("albums/<int:pk>/", album_page, name="album"),
    path("tracks/<int:pk>/", track_page, name="track"),
    path("api/search/", include("dgs_core.urls")),
    path("admin/", admin.site.urls),
]
