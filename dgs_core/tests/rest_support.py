"""Helpers shared by the REST, policy, OpenAPI and admin tests."""

import copy

from django.conf import settings

import dgs_core
from dgs_core import engine
from tests.shop.models import Product, Review


def graph_search(api=None, models_options=None, **changes):
    """``settings.GRAPH_SEARCH`` with top-level ``changes``, ``API`` keys and per-model options changed."""
    config = copy.deepcopy(settings.GRAPH_SEARCH)
    config.update(changes)
    if api:
        config["API"] = {**config.get("API", {}), **api}
    for entry in config["MODELS"]:
        entry.update((models_options or {}).get(entry["model"], {}))
    return config


def index_everything():
    """An index holding exactly the current products and reviews."""
    engine.get_vector_store().clear()
    for instance in [*Product.objects.all(), *Review.objects.all()]:
        dgs_core.index(instance)


def restricted_catalogue(hidden=12, visible=5):
    """Out-of-stock products that match "Acme red smartphone" best, and fewer in-stock ones that match less."""
    for n in range(hidden):
        Product.objects.create(name=f"Acme red smartphone {n}", description="Acme red smartphone", in_stock=False)
    for n in range(visible):
        Product.objects.create(name=f"Smartphone case {n}", description="Fits the Acme red smartphone")
    index_everything()
