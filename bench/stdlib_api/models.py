"""Modules, classes and functions of the standard library (no migrations: ``migrate --run-syncdb``)."""

from django.db import models


class Module(models.Model):
    name = models.CharField(max_length=100, unique=True)  # "zipfile", "os.path"
    summary = models.TextField(blank=True)  # the docstring's first paragraph

    class Meta:
        ordering = ["name"]


class Klass(models.Model):
    name = models.CharField(max_length=100)
    module = models.ForeignKey(Module, on_delete=models.CASCADE)
    summary = models.TextField(blank=True)
    bases = models.ManyToManyField("self", symmetrical=False, related_name="subclasses", blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = "class"


class Function(models.Model):
    name = models.CharField(max_length=100)
    module = models.ForeignKey(Module, on_delete=models.CASCADE)
    owner = models.ForeignKey(Klass, null=True, blank=True, on_delete=models.CASCADE)  # a method's class
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
