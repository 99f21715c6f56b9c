import os

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand

DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "dgs-demo"


class Command(BaseCommand):
    help = (
        "Create or reset the demo's superuser and print its credentials (DGS_DEMO_ADMIN_USERNAME and "
        "DGS_DEMO_ADMIN_PASSWORD override the defaults). For the local demo only."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DGS_DEMO_ADMIN_USERNAME", DEFAULT_USERNAME)
        password = os.environ.get("DGS_DEMO_ADMIN_PASSWORD", DEFAULT_PASSWORD)
        user, created = get_user_model()._default_manager.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)  # reset on every run, so the printed password always works
        user.save()
        action = "Created" if created else "Reset"
        self.stdout.write(f"{action} the demo admin user: username {username!r}, password {password!r}")
