"""A small Chinook-shaped music store for automatic-indexing tests: the relations a rename or a move must
reach (forward and reverse foreign keys, two hops, a many-to-many with an explicit through model)."""

from django.db import models


class Artist(models.Model):
    name = models.CharField(max_length=120)

    def __str__(self):
        return self.name


class Album(models.Model):
    title = models.CharField(max_length=160)
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE)

    def __str__(self):
        return self.title


class Genre(models.Model):
    name = models.CharField(max_length=120)

    def __str__(self):
        return self.name


class Playlist(models.Model):
    name = models.CharField(max_length=120)

    def __str__(self):
        return self.name


class Track(models.Model):
    name = models.CharField(max_length=200)
    composer = models.CharField(max_length=220, blank=True)
    album = models.ForeignKey(Album, null=True, blank=True, on_delete=models.SET_NULL)
    genre = models.ForeignKey(Genre, null=True, blank=True, on_delete=models.SET_NULL)
    milliseconds = models.IntegerField(default=0)
    plays = models.IntegerField(default=0)
    playlists = models.ManyToManyField(Playlist, through="PlaylistTrack", related_name="tracks")

    def __str__(self):
        return self.name


class PlaylistTrack(models.Model):
    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE)
    track = models.ForeignKey(Track, on_delete=models.CASCADE)
    position = models.IntegerField(default=0)

    class Meta:
        unique_together = ("playlist", "track")
