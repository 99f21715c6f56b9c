from django.core.management import BaseCommand, CommandError

from dgs_core import engine
from dgs_core.exceptions import GraphSearchError

from ._util import selected_models


class Command(BaseCommand):
    help = "Remove the vectors of every configured model (or of --model) from the vector store."

    def add_arguments(self, parser):
        parser.add_argument("--model", action="append", metavar="app.Model", help="Clear only this model (repeatable).")

    def handle(self, *args, **options):
        models = selected_models(options["model"])
        try:
            store = engine.get_vector_store()
            for model_config in models:
                before = store.count([model_config.model_label])
                store.clear([model_config.model_label])
                self.stdout.write(f"{model_config.label}: removed {before} vectors")
        except GraphSearchError as exc:
            raise CommandError(str(exc)) from exc
