"""Admin pages for the Chinook catalogue; the demo's search results link to their change pages."""

from django.contrib import admin

from chinook.models import Album, Artist, Genre, MediaType, Playlist, Track


@admin.register(Artist)
class ArtistAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Album)
class AlbumAdmin(admin.ModelAdmin):
    list_display = ["title", "artist"]
    list_select_related = ["artist"]
    search_fields = ["title", "artist__name"]
    autocomplete_fields = ["artist"]


@admin.register(Genre, MediaType)
class NamedAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Playlist)
class PlaylistAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ["name", "album", "genre", "mediatype", "composer"]
    list_select_related = ["album", "genre", "mediatype"]
    list_filter = ["genre", "mediatype"]
    search_fields = ["name", "composer", "album__title", "album__artist__name"]
    autocomplete_fields = ["album"]
