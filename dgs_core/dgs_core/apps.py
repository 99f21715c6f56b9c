from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DgsCoreConfig(AppConfig):
    name = "dgs_core"
    verbose_name = _("Graph search")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dgs_core import (
            checks,  # noqa: F401  (registers the system checks)
            conf,
            plugins,
            warmup,
        )
        from dgs_core.indexing import signals

        # GRAPH_SEARCH holds the settings sections of the installed plugins, parsed by conf's parser.
        conf.connect_plugins(conf.InstalledPlugins(
            sections=lambda: plugins.get_registry().registered("settings_section"),
            install_hint=plugins.install_hint,
        ))

        signals.connect()  # AUTO_INDEX: keep the index current as models change
        warmup.start_if_serving()  # a server loads the model as it starts, not on its first search
