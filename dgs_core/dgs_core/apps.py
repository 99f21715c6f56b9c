from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DgsCoreConfig(AppConfig):
    name = "dgs_core"
    verbose_name = _("Graph search")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dgs_core import checks  # noqa: F401  (registers the system checks)
        from dgs_core.indexing import signals

        signals.connect()  # AUTO_INDEX: keep the index current as models change
