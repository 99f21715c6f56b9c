"""Admin pages of the test shop, so search hits can link to their change pages."""

from django.contrib import admin

from tests.shop.models import Product, Review

admin.site.register(Product)
admin.site.register(Review)
