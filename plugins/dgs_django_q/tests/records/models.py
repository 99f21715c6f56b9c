"""Artists, albums and tracks: enough graph for dependents (a rename two hops away, a move)."""

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

    def __str__(self):
        return self.name
