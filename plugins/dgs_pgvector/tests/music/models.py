"""A few Chinook-shaped models for the end-to-end test (tables created by pytest-django, no migrations)."""

from django.db import models


class Artist(models.Model):
    name = models.CharField(max_length=120)


class Album(models.Model):
    title = models.CharField(max_length=160)
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE)


class Genre(models.Model):
    name = models.CharField(max_length=120)


class Track(models.Model):
    name = models.CharField(max_length=200)
    album = models.ForeignKey(Album, on_delete=models.CASCADE)
    genre = models.ForeignKey(Genre, null=True, on_delete=models.SET_NULL)
    milliseconds = models.IntegerField()


class Playlist(models.Model):
    """A many-to-many with a ``Meta.ordering``: its names join a track's text in name order on every database."""

    name = models.CharField(max_length=120)
    tracks = models.ManyToManyField(Track, related_name="playlists")

    class Meta:
        ordering = ["name"]
