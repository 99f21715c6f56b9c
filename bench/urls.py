"""No views: the benchmark calls the Python APIs. The old package reverses admin URLs per hit."""

urlpatterns: list = []
