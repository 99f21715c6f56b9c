from django.core.management import BaseCommand, CommandError

from dgs_core.exceptions import PluginError
from dgs_core.plugins import FAMILIES, get_registry

from ._util import format_table


class Command(BaseCommand):
    help = "List installed dgs plugins, their distributions and versions, and the names each registers."
    # Listing what is installed is how users fix plugin errors, which system checks would refuse to run with.
    requires_system_checks = []

    def handle(self, *args, **options):
        registry = get_registry()
        try:
            registrations = registry.registrations()
        except PluginError as exc:
            raise CommandError(str(exc)) from exc
        names: dict[str, list[str]] = {}
        for family in FAMILIES:
            for reg in registrations[family].values():
                names.setdefault(reg.plugin, []).append(f"{family.replace('_', ' ')} {reg.name!r}")
        rows = []
        for name, plugin in sorted(registry.pm.list_name_plugin(), key=lambda item: item[0] != "core"):
            if plugin is None:  # blocked with DGS_DISABLED_PLUGINS
                rows.append([name, "-", "(blocked by DGS_DISABLED_PLUGINS)"])
                continue
            rows.append([name, registry.distribution_of(name), ", ".join(names.get(name, [])) or "(hooks only)"])
        self.stdout.write(format_table(["plugin", "distribution", "registers"], rows))
