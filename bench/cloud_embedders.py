"""What a cloud embedder is sent: a full index of the Chinook tracks, then re-indexes after relation changes.

    python bench/cloud_embedders.py            # all 3,503 tracks
    python bench/cloud_embedders.py --quick    # the first 500

The ``openai`` embedder talks to the fake OpenAI API of ``plugins/dgs_openai/tests`` on 127.0.0.1, which
counts every request; nothing leaves the machine. Each step runs ``build_search_index`` and prints what
dgs reported (texts embedded / taken from the embedding cache) and what the API received (requests, texts,
tokens). The fake counts *words* as tokens; OpenAI bills tiktoken tokens, about 1.3 per English word, so
read the token column as relative. Timings are not printed: a local fake says nothing about OpenAI's latency.

Steps, each with the embedding cache (``DELTA_INDEXING: True``) and without it:

1. full index of an empty store;
2. the "Jazz" genre renamed: only the documents of its tracks change;
3. the rename undone: those texts are the ones embedded in step 1;
4. ``--rebuild`` into a new collection (e.g. after adding a field to the settings and removing it again).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from io import StringIO
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FAKE_SERVER = REPO_ROOT / "plugins" / "dgs_openai" / "tests" / "fake_openai.py"


def load_fake_server():
    """The fake API module, by path (its package is called ``tests``, like the repository's own folder)."""
    spec = importlib.util.spec_from_file_location("dgs_bench_fake_openai", FAKE_SERVER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def configure(work_dir: Path, server_url: str) -> None:
    from django.conf import settings

    sys.path.insert(0, str(REPO_ROOT / "example"))
    settings.configure(
        SECRET_KEY="dgs-bench-cloud",
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "dgs_core", "chinook"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": work_dir / "db.sqlite3"}},
        MIGRATION_MODULES={"chinook": None},  # tables straight from the models (migrate --run-syncdb)
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        GRAPH_SEARCH=graph_search(work_dir, server_url, cache=True),
    )
    import django

    django.setup()


def graph_search(work_dir: Path, server_url: str, cache: bool) -> dict:
    return {
        "MODELS": [{"model": "chinook.Track", "weight_fields": {"name": 2.0},
                    "fields": ["name", "composer", "album__title", "album__artist__name", "genre__name",
                               "playlist__name"]}],
        "VECTOR_STORE": {"BACKEND": "memory", "OPTIONS": {"LOCATION": f"bench-{'cache' if cache else 'nocache'}"}},
        "EMBEDDINGS": {"default": {"BACKEND": "openai", "MODEL_NAME": "text-embedding-3-small", "API_KEY": "sk-bench",
                                   "BASE_URL": server_url, "DIMENSIONS": 256, "TOKENIZER": "estimate"}},
        "DELTA_INDEXING": cache,
        "CACHE": {"BACKEND": "file", "OPTIONS": {"PATH": str(work_dir / f"cache-{cache}")}},
        "AUTO_INDEX": False,
    }


def build(fake, server, *args: str) -> list:
    """One ``build_search_index`` run: dgs's own counts and what the API received."""
    from django.core.management import call_command

    server.reset()
    out = StringIO()
    call_command("build_search_index", "--no-progress", *args, stdout=out, stderr=StringIO())
    report = next((line for line in out.getvalue().splitlines() if line.startswith("Texts embedded")), "")
    embedded, cached = (part.split(": ")[1].rstrip(".") for part in report.split("; ")) if report else ("0", "0")
    texts = [text for request in server.requests for text in request.inputs]
    return [embedded, cached, len(server.requests), len(texts), fake.count_tokens(texts)]


def run(quick: bool) -> None:
    fake = load_fake_server()
    with tempfile.TemporaryDirectory(prefix="dgs-bench-cloud-") as work, fake.FakeOpenAI(api_key="sk-bench") as server:
        configure(Path(work), server.url)
        from django.core.management import call_command
        from django.test.utils import override_settings

        from chinook.fixture import chinook_fixture_path
        from chinook.models import Genre, Track

        call_command("migrate", run_syncdb=True, verbosity=0)
        call_command("loaddata", str(chinook_fixture_path()), verbosity=0)
        if quick:
            Track.objects.filter(pk__gt=500).delete()
        jazz = Genre.objects.get(name="Jazz")
        rows = []
        for cache in (True, False):
            with override_settings(GRAPH_SEARCH=graph_search(Path(work), server.url, cache)):
                label = "with cache" if cache else "without cache"
                rows.append([label, "1. full index", *build(fake, server)])
                Genre.objects.filter(pk=jazz.pk).update(name="Jazz & Fusion")
                rows.append([label, "2. genre renamed", *build(fake, server)])
                Genre.objects.filter(pk=jazz.pk).update(name="Jazz")
                rows.append([label, "3. rename undone", *build(fake, server)])
                rows.append([label, "4. --rebuild", *build(fake, server, "--rebuild")])
        print(f"Chinook tracks indexed: {Track.objects.count()} ({Track.objects.filter(genre=jazz).count()} Jazz)")
        headers = ["embedding cache", "step", "embedded", "from cache", "API requests", "texts sent",
                   "tokens sent (words)"]
        widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
        for row in [headers, *rows]:
            print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="index the first 500 tracks only")
    run(parser.parse_args().quick)
