"""URLs of the demo site: the public search page and a page per artist, album and track (under the REST API's
policy, as the API itself), dgs's REST API and the Django admin."""

from django.contrib import admin
from django.urls import include, path

from demo_site.views import AlbumPage, ArtistPage, SearchPage, TrackPage

urlpatterns = [
    path("", SearchPage.as_view(), name="search"),
    path("artists/<int:pk>/", ArtistPage.as_view(), name="artist"),
    path("albums/<int:pk>/", AlbumPage.as_view(), name="album"),
    path("tracks/<int:pk>/", TrackPage.as_view(), name="track"),
    path("api/search/", include("dgs_core.urls")),
    path("admin/", admin.site.urls),
]
