from django.urls import include, path

urlpatterns = [path("api/search/", include("dgs_core.urls"))]
