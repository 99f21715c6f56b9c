"""Index the Chinook data with dgs and query it; compare with django-graph-search 0.3.7 when installed.

    OMP_NUM_THREADS=1 python bench/index_and_query.py [--quick] [--json out.json]

Each library runs in its own subprocess (both read ``settings.GRAPH_SEARCH``, in different dialects)
on the same SQLite copy of Chinook, one after the other; this process merges their JSON and prints
the tables described in bench/README.md. Every step has a time limit; a step that fails or times out
is printed as "n/a" with its reason.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LEGACY_DISTRIBUTION, REPO_ROOT, Workload
from bench.report import print_report

#: Wall-clock limit per step (seconds), full run / --quick.
STEP_TIMEOUT = {"prepare": (300, 300), "dgs": (1200, 600), "legacy": (1200, 600)}


def legacy_unavailable() -> str | None:
    """Why the old package cannot be compared, or ``None`` when it can."""
    wanted = LEGACY_DISTRIBUTION.split("==")[1]
    try:
        installed = version("django-graph-search")
    except PackageNotFoundError:
        return f"django-graph-search is not installed (pip install --no-deps {LEGACY_DISTRIBUTION})"
    if installed != wanted:
        return f"django-graph-search {installed} is installed; this comparison is written for {wanted}"
    if importlib.util.find_spec("faiss") is None:
        return "faiss is not importable (pip install faiss-cpu); the old FaissBackend needs it"
    return None


def load_average() -> str:
    """The machine's load (1/5/15 min): on a shared machine it says how noisy the timings are."""
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def run_step(side: str, args: argparse.Namespace, work_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run ``bench.worker <side>`` and return its JSON, or ``{"error": reason}``."""
    out = work_dir / f"{side}.json"
    log = work_dir / f"{side}.log"
    timeout = STEP_TIMEOUT[side][1 if args.quick else 0]
    command = [sys.executable, "-m", "bench.worker", side, "--work-dir", str(work_dir), "--out", str(out)]
    if args.quick:
        command.append("--quick")
    print(f"[bench] {side}: running (limit {timeout} s) ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    try:
        with log.open("w") as log_file:
            completed = subprocess.run(command, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                       timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    print(f"[bench] {side}: done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    if completed.returncode != 0 or not out.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit code {completed.returncode}: {tail[0][:200]}"}
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI smoke subset: 500 tracks, 5k/10k vectors")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every number to this JSON file")
    parser.add_argument("--store", default="faiss", help="dgs vector store plugin name (default: faiss)")
    parser.add_argument("--embedder", default="sentence-transformers",
                        help="dgs embedder plugin name (default: sentence-transformers)")
    parser.add_argument("--no-legacy", action="store_true", help="skip django-graph-search")
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               DGS_BENCH_STORE=args.store, DGS_BENCH_EMBEDDER=args.embedder)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dgs-bench-") as tmp:
        work_dir = Path(tmp)
        results: dict[str, Any] = {
            "meta": {"workload": Workload.for_mode(args.quick).as_dict(), "omp_num_threads": env["OMP_NUM_THREADS"],
                     "store": args.store, "embedder": args.embedder, "python": sys.version.split()[0],
                     "load_before": load_average()},
        }
        results["prepare"] = run_step("prepare", args, work_dir, env)
        if "error" in results["prepare"]:
            failed = {"error": f"Chinook could not be loaded: {results['prepare']['error']}"}
            results["dgs"] = results["legacy"] = failed
        else:
            results["dgs"] = run_step("dgs", args, work_dir, env)
            reason = "skipped (--no-legacy)" if args.no_legacy else legacy_unavailable()
            results["legacy"] = {"error": reason} if reason else run_step("legacy", args, work_dir, env)
    results["meta"]["total_s"] = time.perf_counter() - started
    results["meta"]["load_after"] = load_average()
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"\nJSON written to {args.json}")


if __name__ == "__main__":
    main()
