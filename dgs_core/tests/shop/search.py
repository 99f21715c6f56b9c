"""The row-level hook of the access-control tests: out-of-stock products are for superusers only."""


def visible_products(request, queryset):
    """``search_queryset`` hook: superusers see every product, everyone else only those in stock."""
    if request.user.is_superuser:
        return queryset
    return queryset.filter(in_stock=True)
