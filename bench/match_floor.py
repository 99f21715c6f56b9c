"""Where an embedder's match floor belongs: ``python bench/match_floor.py`` (after ``make demo`` built the index).

    OMP_NUM_THREADS=1 python bench/match_floor.py              # the demo site's index and model
    python bench/match_floor.py --settings mysite.settings --judgments my.jsonl --path .

A hit's ``matched`` names a value that shares a query word or, failing that, the value closest to the query
by meaning if its cosine similarity reaches the match floor (:mod:`dgs_core.searching.explain`). This runs
the judged queries (JSONL lines with ``query`` and ``relevant``: ``{"app.model:pk": grade}``, as
``manage.py search_eval`` reads) and made-up or off-topic queries through ``dgs_core.search`` and prints,
per query kind, the similarity of each top-10 hit's closest value (hits already explained by a shared word
left out) as percentiles, then how many hits of each kind a floor explains. A good floor explains nearly
every relevant hit and no hit of a nonsense query; put it in ``GRAPH_SEARCH["EXPLAIN_MIN_SIMILARITY"]`` or
in the embedder class's ``match_floor``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Queries no catalogue should answer: made-up words, and questions from far outside a music store.
NONSENSE = ["xqzzv plorf", "qwrtp zxcvb", "blorptang wuzzle", "fnord glimph", "vrrk tlon snee", "zzyzx quux",
            "kjhgf dsapoiu", "mmph grak oolf", "trebnik saljuf", "ploo wexxit"]
OFF_TOPIC = ["income tax return deadline", "how to bake sourdough bread", "kubernetes pod eviction policy",
             "mitochondria ATP synthesis", "replace a bicycle inner tube", "mortgage interest rates",
             "python list comprehension", "symptoms of vitamin D deficiency"]
FLOORS = [0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]


def similarities(query: str, relevant: set[str] | None, limit: int) -> tuple[list[float], list[float]]:
    """Closest-value similarities of the first ``limit`` hits (1.0 for a hit that shares a query word):
    (judged relevant hits, the rest)."""
    import dgs_core
    from dgs_core import engine
    from dgs_core.searching.explain import closest_values, explain

    hits = list(dgs_core.search(query, limit=limit))
    embedder = engine.get_search_embedder(engine.get_vector_store())
    by_words = explain(hits, query, "lexical")
    found, other = [], []
    for hit, words, closest in zip(hits, by_words, closest_values(hits, query, embedder), strict=True):
        similarity = 1.0 if words is not None else closest[2] if closest is not None else 0.0
        (found if relevant is not None and hit.id in relevant else other).append(similarity)
    return found, other


def row(name: str, values: list[float]) -> str:
    shares = [sum(v >= f for v in values) / len(values) for f in FLOORS]
    return f"{name:<34} {len(values):>4} " + " ".join(f"{s:>5.2f}" for s in shares)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="demo_site.settings")
    parser.add_argument("--path", default=str(REPO_ROOT / "example"), help="added to sys.path (the site's root)")
    parser.add_argument("--judgments", default=str(REPO_ROOT / "example" / "judgments" / "chinook.jsonl"))
    parser.add_argument("--limit", type=int, default=20, help="hits per query (the demo page shows 20)")
    args = parser.parse_args()
    sys.path.insert(0, args.path)
    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    import django

    django.setup()
    hits: dict[str, list[float]] = {"judged queries, relevant hits": [], "judged queries, other hits": [],
                                    "nonsense queries, every hit": [], "off-topic queries, every hit": []}
    best: dict[str, list[float]] = {"judged queries": [], "nonsense queries": [], "off-topic queries": []}
    for line in Path(args.judgments).read_text().splitlines():
        if line.strip():
            judged = json.loads(line)
            relevant = {key for key, grade in judged["relevant"].items() if grade > 0}
            found, other = similarities(judged["query"], relevant, args.limit)
            hits["judged queries, relevant hits"] += found
            hits["judged queries, other hits"] += other
            best["judged queries"].append(max(found + other, default=0.0))
    for kind, queries in (("nonsense queries", NONSENSE), ("off-topic queries", OFF_TOPIC)):
        for query in queries:
            _, every = similarities(query, None, args.limit)
            hits[f"{kind}, every hit"] += every
            best[kind].append(max(every, default=0.0))

    header = " ".join(f"{f:>5}" for f in FLOORS)
    print(f"Hits explained (a shared word, or similarity >= floor), first {args.limit} hits of each query")
    print(f"{'floor':<34} {'n':>4} {header}")
    for name, values in hits.items():
        print(row(name, values))
    print()
    print("Queries with at least one hit explained (the others show as 'no close match')")
    print(f"{'floor':<34} {'n':>4} {header}")
    for name, values in best.items():
        print(row(name, values))
    nonsense = [v for v in hits["nonsense queries, every hit"] if v < 1.0]
    print(f"\nClosest values of nonsense queries' hits: p50 {np.percentile(nonsense, 50):.3f}, "
          f"p90 {np.percentile(nonsense, 90):.3f}, max {max(nonsense):.3f}")


if __name__ == "__main__":
    main()
