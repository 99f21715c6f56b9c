"""The classic and smart text builders, and how weights and templates shape the text."""

import pytest
from django.test import override_settings

from dgs_core.conf import get_config
from dgs_core.indexing.indexer import build_documents, get_plan
from tests.factories import make_catalogue

pytestmark = pytest.mark.django_db

MODELS = [{"model": "shop.Product", "fields": ["name", "description", "category__name", "tags__name",
                                                "brand__description"], "weight_fields": {"brand__description": 2.0}}]
BACKENDS = {"VECTOR_STORE": {"BACKEND": "memory"}, "EMBEDDINGS": {"default": {"BACKEND": "hashing"}}}


def text_of(instance):
    config = get_config()
    plan = get_plan(config.model_config("shop.Product"))
    return build_documents(plan, list(plan.queryset().filter(pk=instance.pk)), config)[0].text


def test_classic_text_orders_by_weight_and_never_repeats_heavy_sections():
    # Text format 2: repeating a weighted section (format 1) showed it twice to users and measured no
    # better for the embedder (docs/search_quality.md, "Text for the embedder").
    data = make_catalogue()
    with override_settings(GRAPH_SEARCH={"MODELS": MODELS, **BACKENDS}):
        assert text_of(data["phone"]) == (
            "Rugged outdoor gear. Acme X1 smartphone. A phone with a great camera. Phones. red, 5G"
        )


def test_smart_text_uses_labels_and_a_title_line():
    data = make_catalogue()
    with override_settings(GRAPH_SEARCH={"MODELS": MODELS, "SMART_INDEXING": {"ENABLED": True}, **BACKENDS}):
        assert text_of(data["phone"]).splitlines() == [
            "Acme X1 smartphone",
            "Brand description: Rugged outdoor gear",
            "Description: A phone with a great camera",
            "Category: Phones",
            "Tag: red, 5G",
        ]


def test_smart_template_sections_with_classic_safety_net():
    data = make_catalogue()
    templates = {"shop.Product": {"title": "name", "sections": {"Made by": ["brand__description"],
                                                               "Filed under": ["category__name", "tags__name"]}}}
    with override_settings(GRAPH_SEARCH={"MODELS": MODELS, "SMART_INDEXING": {"ENABLED": True, "TEMPLATES": templates},
                                         **BACKENDS}):
        head, classic = text_of(data["phone"]).split("\n\n")
    assert head.splitlines() == ["Acme X1 smartphone", "Made by: Rugged outdoor gear", "Filed under: Phones, red, 5G"]
    assert classic.startswith("Rugged outdoor gear. Acme X1 smartphone")
