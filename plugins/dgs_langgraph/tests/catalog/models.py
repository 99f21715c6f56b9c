"""A few artists, albums and tracks: enough for query variants, fusion and reranking to differ."""

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


class Track(models.Model):
    name = models.CharField(max_length=200)
    album = models.ForeignKey(Album, on_delete=models.CASCADE)
    genre = models.CharField(max_length=60, blank=True)

    def __str__(self):
        return self.name
