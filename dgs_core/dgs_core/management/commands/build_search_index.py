from django.core.management import BaseCommand, CommandError
from tqdm import tqdm

from dgs_core import engine
from dgs_core.exceptions import GraphSearchError
from dgs_core.indexing.indexer import Indexer, IndexStats

from ._util import format_table, selected_models


class Command(BaseCommand):
    help = (
        "Index the configured models. Unchanged objects (same text, same embedder) are skipped without "
        "embedding, so an interrupted build resumes where it stopped; vectors of deleted rows are pruned."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", action="append", metavar="app.Model",
                            help="Index only this model (repeatable). Default: every configured model.")
        parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                            help="Rows read, embedded and stored per batch (default: 1000).")
        parser.add_argument("--force", action="store_true", help="Re-embed every object, changed or not.")
        parser.add_argument("--no-progress", action="store_true", help="Do not draw progress bars.")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--rebuild", action="store_true",
                           help="Fill a new collection while searches use the current one, then switch to it.")
        group.add_argument("--resume", action="store_true", help="Continue an interrupted --rebuild.")
        group.add_argument("--retry-failed", action="store_true",
                           help="Only apply the automatic-indexing changes waiting in the outbox, failed ones "
                                "included (past their backoff and MAX_RETRIES), then exit.")

    def handle(self, *args, **options):
        batch_size = options["batch_size"]
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be a positive integer.")
        models = selected_models(options["model"])
        if not models:
            raise CommandError("GRAPH_SEARCH['MODELS'] is empty: configure at least one model to index.")
        if options["retry_failed"]:
            return self.retry_failed(models)
        rebuilding = options["rebuild"] or options["resume"]
        if rebuilding and options["model"]:
            raise CommandError("--rebuild and --resume rebuild every configured model; drop --model.")
        try:
            router = engine.get_vector_store()
            target = None
            if options["rebuild"]:
                target = router.start_rebuild()
            elif options["resume"]:
                target = router.pending_store()
                if target is None:
                    raise CommandError("No rebuild is in progress; start one with --rebuild.")
            indexer = Indexer(store=target)
        except (GraphSearchError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        if rebuilding:
            self.stdout.write(f"Rebuilding into collection {router.state()[1]!r}; searches use the current one.")
        rows, total = [], IndexStats()
        usage = getattr(indexer.embedder, "usage", None)
        usage_before = (usage.requests, usage.texts, usage.tokens) if usage is not None else None
        for model_config in models:
            rows_in_db = model_config.model._default_manager.count()
            # tqdm writes carriage returns itself; Django's OutputWrapper would add a newline per update.
            with tqdm(total=rows_in_db, desc=model_config.label, unit="obj", disable=options["no_progress"],
                      file=self.stderr._out, leave=True) as bar:
                try:
                    stats = indexer.index_queryset(
                        model_config, batch_size=batch_size, force=options["force"],
                        on_batch=lambda n, s, bar=bar: (bar.update(n), bar.set_postfix(failed=s.failed)),
                    )
                    stats.pruned = indexer.prune(model_config)
                except GraphSearchError as exc:
                    again = "--resume" if rebuilding else "the command again"
                    raise CommandError(
                        f"{exc}\nIndexing {model_config.label} stopped; what was stored is kept. Fix the cause, then "
                        f"run {again}: unchanged objects are skipped."
                    ) from exc
            total.add(stats)
            rows.append([model_config.label, stats.indexed, stats.skipped, stats.failed, stats.pruned,
                         stats.chunked])
        headers = ["model", "indexed", "skipped (unchanged)", "failed", "pruned (deleted rows)", "extra chunks"]
        rows.append(["total", total.indexed, total.skipped, total.failed, total.pruned, total.chunked])
        self.stdout.write(format_table(headers, rows))
        if total.indexed:
            self.stdout.write(
                f"Texts embedded: {total.embedded}; vectors taken from the embedding cache: {total.cached}."
            )
        usage = getattr(indexer.embedder, "usage", None)  # cloud embedders count what they send
        if usage is not None and usage_before is not None:
            self.stdout.write(
                f"Sent to {indexer.embedder.id}: {usage.requests - usage_before[0]} requests, "
                f"{usage.texts - usage_before[1]} texts, {usage.tokens - usage_before[2]} tokens."
            )
        if total.chunked:
            self.stdout.write(
                f"Documents longer than {indexer.chunker.max_tokens} tokens of {indexer.embedder.id} were split into "
                f"chunks ({total.chunked} beyond one per document), each embedded; see GRAPH_SEARCH['CHUNKING']."
            )
        if total.failed:
            sample = ", ".join(total.failed_ids[:10])
            again = "--resume" if rebuilding else "again"
            raise CommandError(
                f"{total.failed} objects failed to index (e.g. {sample}); see the log, then run {again}."
            )
        if rebuilding:
            live = router.finish_rebuild(engine.embedder_config())
            self.stdout.write(f"Switched searches to collection {live!r}; the previous one was dropped.")

    def retry_failed(self, models) -> None:
        from dgs_core.indexing import outbox

        try:
            result = outbox.drain(models=[m.model_label for m in models], retry_failed=True)
        except GraphSearchError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Outbox: {result.applied} applied, {result.failed} failed.")
        if result.failed:
            for change in outbox.recent_failures([m.model_label for m in models]):
                self.stdout.write(f"  {change.document_id}: {change.last_error}")
            raise CommandError(
                f"{result.failed} changes still fail; fix the cause above, then run --retry-failed again."
            )
