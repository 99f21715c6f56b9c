from django.apps import AppConfig


class ChinookConfig(AppConfig):
    name = "chinook"
    verbose_name = "Chinook music store"
    default_auto_field = "django.db.models.AutoField"
