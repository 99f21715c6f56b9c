from django.core.management import BaseCommand, CommandError

from dgs_core.conf import get_config
from dgs_core.exceptions import GraphSearchError
from dgs_core.indexing.cache import get_embedding_cache


class Command(BaseCommand):
    help = "Delete expired entries of the embedding cache (GRAPH_SEARCH['CACHE'], TTL seconds)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count the expired entries.")

    def handle(self, *args, **options):
        try:
            cache = get_embedding_cache()
            backend = get_config().cache.backend
        except GraphSearchError as exc:
            raise CommandError(str(exc)) from exc
        if cache is None:
            self.stdout.write("DELTA_INDEXING is off: there is no embedding cache to purge.")
            return
        if cache.expires_itself:
            self.stdout.write(f"The {backend!r} cache expires entries itself (TTL); nothing to purge.")
            return
        count = cache.purge(dry_run=options["dry_run"])
        verb = "would be deleted (dry run)" if options["dry_run"] else "deleted"
        self.stdout.write(f"{count} expired embedding cache entries {verb} ({backend!r} cache).")
