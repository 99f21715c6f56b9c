"""Builders of a small, realistic shop graph for traversal and search tests."""

from tests.shop.models import Brand, Category, Manual, Product, Review, Tag


def make_catalogue():
    phones = Category.objects.create(name="Phones", parent=Category.objects.create(name="Electronics"))
    garden = Category.objects.create(name="Garden")
    acme = Brand.objects.create(name="Acme", description="Rugged outdoor gear", support_email="help@acme.test",
                                api_token="tok-123")
    red, fast = Tag.objects.create(name="red"), Tag.objects.create(name="5G")
    phone = Product.objects.create(name="Acme X1 smartphone", description="A phone with a great camera",
                                   category=phones, brand=acme, internal_note="supplier margin 40%")
    phone.tags.set([red, fast])
    Manual.objects.create(product=phone, body="Hold the power button for three seconds")
    Review.objects.create(product=phone, title="Brilliant", body="Battery lasts two days")
    hose = Product.objects.create(name="Garden hose", description="Twenty metres of green hose", category=garden)
    return {"phone": phone, "hose": hose, "phones": phones, "acme": acme, "red": red}
