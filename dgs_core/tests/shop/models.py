"""A small shop whose relations cover every kind of link traversal must handle."""

from django.conf import settings
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")

    def __str__(self):
        return self.name


class Brand(models.Model):
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    support_email = models.EmailField(blank=True)
    api_token = models.CharField(max_length=64, blank=True)

    def __str__(self):
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self):
        return self.name


class Product(models.Model):
    CONDITIONS = [("new", "Brand new"), ("used", "Second hand")]
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    sku = models.CharField(max_length=20, blank=True)
    condition = models.CharField(max_length=10, choices=CONDITIONS, default="new")
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    in_stock = models.BooleanField(default=True)
    internal_note = models.TextField(blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products")
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.SET_NULL, related_name="products")
    tags = models.ManyToManyField(Tag, blank=True, related_name="products")

    def __str__(self):
        return self.name


class Manual(models.Model):
    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="manual")
    body = models.TextField()


class Review(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    title = models.CharField(max_length=200)
    body = models.TextField()
    rating = models.PositiveSmallIntegerField(default=5)

    def __str__(self):
        return self.title


class Account(models.Model):
    """Sensitive fields that must never reach an index unless named (and secrets never)."""

    display_name = models.CharField(max_length=100)
    password = models.CharField(max_length=128)
    email = models.EmailField()
    phone = models.CharField(max_length=20, blank=True)
    recovery_secret = models.CharField(max_length=64, blank=True)
    bio = models.TextField(blank=True)
    favourite = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL)


class Coupon(models.Model):
    """A primary key that is text, which may hold the characters document ids are made of (':' and '#')."""

    code = models.CharField(max_length=40, primary_key=True)
    description = models.TextField(blank=True)

    def __str__(self):
        return self.code


class Ingredient(models.Model):
    """No ``Meta.ordering``: traversal reads a recipe's ingredients in primary-key order."""

    name = models.CharField(max_length=50)


class Recipe(models.Model):
    name = models.CharField(max_length=100)
    ingredients = models.ManyToManyField(Ingredient, related_name="recipes")


class Step(models.Model):
    """A ``Meta.ordering``: traversal reads a recipe's steps in this order, comparing text by code point whatever
    the database's collation (here SQLite's case-insensitive one, which sorts "add" before "Blend")."""

    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="steps")
    stage = models.IntegerField()
    text = models.CharField(max_length=100, db_collation="NOCASE")

    class Meta:
        ordering = ["-stage", "text"]
