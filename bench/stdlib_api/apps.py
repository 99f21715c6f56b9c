from django.apps import AppConfig


class StdlibApiConfig(AppConfig):
    name = "bench.stdlib_api"
    label = "stdlib_api"
    default_auto_field = "django.db.models.AutoField"
