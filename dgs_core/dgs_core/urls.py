"""REST endpoints; mount them with ``path("api/search/", include("dgs_core.urls"))``.

URL names live in the ``dgs_core`` namespace: ``dgs_core:search``, ``dgs_core:similar``,
``dgs_core:conversation``, ``dgs_core:stream``, ``dgs_core:schema`` and ``dgs_core:docs``. The views are
Django REST framework views: the site lists ``rest_framework``, ``drf_spectacular`` and
``drf_spectacular_sidecar`` in ``INSTALLED_APPS`` (``manage.py check`` says so when one is missing, dgs.E012).
"""

from django.urls import path

from dgs_core.rest import views

app_name = "dgs_core"

urlpatterns = [
    path("", views.SearchView.as_view(), name="search"),
    path("similar/<str:model>/<str:pk>/", views.SimilarView.as_view(), name="similar"),
    path("conversation/", views.ConversationView.as_view(), name="conversation"),
    path("stream/", views.StreamView.as_view(), name="stream"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.DocsView.as_view(), name="docs"),
]
