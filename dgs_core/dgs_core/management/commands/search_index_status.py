from django.core.management import BaseCommand, CommandError

from dgs_core import engine
from dgs_core.exceptions import GraphSearchError
from dgs_core.indexing import outbox
from dgs_core.indexing.indexer import coverage

from ._util import format_table, selected_models


class Command(BaseCommand):
    help = (
        "Per configured model: rows in the database, vectors in the store, missing and stale vectors, and "
        "automatic-indexing changes waiting in the outbox (pending) or failed and being retried (failed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", action="append", metavar="app.Model", help="Only this model (repeatable).")

    def handle(self, *args, **options):
        models = selected_models(options["model"])
        try:
            store = engine.get_vector_store()
            store.health()  # a built index that vanished or is damaged is an error, not an empty index
            table = []
            changes = outbox.counts_by_model()
            for model_config in models:
                c = coverage(model_config, store)
                waiting = changes.get(model_config.model_label, {"pending": 0, "failed": 0})
                table.append([model_config.label, c["rows"], c["vectors"], c["missing"], c["stale"],
                              waiting["pending"], waiting["failed"]])
        except GraphSearchError as exc:
            raise CommandError(str(exc)) from exc
        headers = ["model", "rows in DB", "vectors in store", "missing", "stale", "pending", "failed"]
        self.stdout.write(format_table(headers, table))
        if any(row[3] or row[4] for row in table):
            self.stdout.write("Run `manage.py build_search_index` to index missing rows and prune stale vectors.")
        if any(row[6] for row in table):
            failures = outbox.recent_failures([m.model_label for m in models])
            self.stdout.write("Failed changes are retried automatically with backoff (ASYNC_INDEXING MAX_RETRIES); "
                              "apply them now with `manage.py build_search_index --retry-failed`. Latest errors:")
            for change in failures:
                self.stdout.write(f"  {change.document_id} (attempt {change.attempts}): {change.last_error}")
