"""Which embedder input format ranks best: vector-mode nDCG@10 of text-format variants on two judged sets.

    OMP_NUM_THREADS=1 python bench/textformat.py                       # every variant, both sets
    python bench/textformat.py --variants v1,plain --sets stdlib       # a subset

For each judged set (Chinook: ``example/judgments/chinook.jsonl``; the standard library:
``example/judgments/stdlib.jsonl`` over ``bench/stdlib_api``) it reads every document's sections with
dgs's traversal (the demo site's fields for Chinook, :data:`STDLIB_MODELS` for the standard library),
turns them into embedder inputs by each *variant* (chunked as the indexer chunks), embeds them with
all-MiniLM-L6-v2, and ranks the documents of each judged query by exact cosine (an object's best chunk),
as vector mode does on an exact store. Only the embedder input differs between variants, so the
differences are the format's. Chinook is cut to every artist and album, every judged track and a seeded
sample of 1,000 other tracks, to keep a run to a few thousand texts; vectors are cached by text in
``/tmp/dgs-bench-textformat`` so a variant already measured costs nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.common import REPO_ROOT, model_path, setup_paths

CACHE = Path(tempfile.gettempdir()) / "dgs-bench-textformat"
CHINOOK_MODELS = [
    {"model": "chinook.Track",
     "fields": ["name", "composer", "album__title", "album__artist__name", "genre__name", "mediatype__name",
                "playlist__name"],
     "weight_fields": {"name": 2.0}},
    {"model": "chinook.Album", "fields": ["title", "artist__name", "track__genre__name"],
     "weight_fields": {"title": 2.0}},
    {"model": "chinook.Artist", "fields": ["name", "album__title"], "weight_fields": {"name": 2.0}},
]
#: The standard-library set's search configuration (also ``bench/quality.py --dataset stdlib``).
STDLIB_MODELS = [
    {"model": "stdlib_api.Function", "fields": ["name", "summary", "owner__name", "module__name"],
     "weight_fields": {"name": 2.0}},
    {"model": "stdlib_api.Klass", "fields": ["name", "summary", "module__name", "bases__name", "function__name"],
     "weight_fields": {"name": 2.0}},
    {"model": "stdlib_api.Module", "fields": ["name", "summary", "klass__name", "function__name"],
     "weight_fields": {"name": 2.0}},
]
SETS = {"chinook": ("chinook.jsonl", CHINOOK_MODELS), "stdlib": ("stdlib.jsonl", STDLIB_MODELS)}


# -- variants: sections -> (display text, [embedder input per chunk]) ------------------------------------


def repeat(section: Any) -> int:
    return min(3, max(1, round(section.weight)))


def v1(sections):  # the format before: ". " between sections, ", " between values, heavy sections repeated
    return ". ".join(p for s in sections for p in [s.text] * repeat(s))


def plain(sections):  # the same without repetition
    return ". ".join(s.text for s in sections)


def space(sections):
    return " ".join(" ".join(s.values) for s in sections)


def space_rep(sections):
    return " ".join(" ".join(s.values) for s in sections for _ in range(repeat(s)))


def lines(sections):  # one section per line, values joined by ", "
    return "\n".join(s.text for s in sections)


def labels(sections):  # "Label: values" lines, the title bare
    head, *rest = sections
    return "\n".join([head.text, *(f"{s.label}: {s.text}" for s in rest)])


def labels_space(sections):
    head, *rest = sections
    return " ".join([" ".join(head.values), *(f"{s.label} {' '.join(s.values)}" for s in rest)])


def labels_rep(sections):
    head, *rest = sections
    return "\n".join([*[head.text] * repeat(head), *(f"{s.label}: {s.text}" for s in rest)])


def plain_comma(sections):  # ", " between sections too
    return ", ".join(s.text for s in sections)


def title_colon(sections):  # "Title: rest"
    head, *rest = sections
    return f"{head.text}: " + ". ".join(s.text for s in rest) if rest else head.text


VARIANTS: dict[str, Callable] = {f.__name__: f for f in (v1, plain, space, space_rep, lines, labels,
                                                          labels_space, labels_rep, plain_comma, title_colon)}
#: Variants that also put a context line before every chunk after the first (``plain`` text otherwise):
#: ``carry_title``: the heaviest section; ``carry_own``: every single-valued section (name, summary, FKs).
CARRY = {"carry_title": lambda sections: sections[0].text,
         "carry_own": lambda sections: ". ".join(s.text for s in sections if len(s.values) == 1)}
VARIANTS.update({name: plain for name in CARRY})
#: Variants that weigh by vectors instead of repeated words: the ``plain`` text's vector plus ``alpha`` x
#: (weight - 1) x the vector of each section weighted more than 1, normalised.
VECTOR_WEIGHTS = {"vecsum_05": 0.5, "vecsum_1": 1.0, "vecsum_03": 0.3}
VARIANTS.update({name: plain for name in VECTOR_WEIGHTS})


def title_end(sections):  # the heaviest section first and last
    return ". ".join([s.text for s in sections] + ([sections[0].text] if sections[0].weight > 1 else []))


def dot_space_rep(sections):  # sections by ". ", values by " ", heavy sections repeated
    return ". ".join(" ".join(s.values) for s in sections for _ in range(repeat(s)))


def space_comma_rep(sections):  # sections by " ", values by ", ", heavy sections repeated
    return " ".join(s.text for s in sections for _ in range(repeat(s)))


VARIANTS.update({f.__name__: f for f in (title_end, dot_space_rep, space_comma_rep)})


# -- the run ----------------------------------------------------------------------------------------------


class Vectors:
    """all-MiniLM-L6-v2 vectors by text, cached on disk."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.path = CACHE / f"{hashlib.sha256(embedder.id.encode()).hexdigest()[:12]}.pickle"
        self.known: dict[str, np.ndarray] = pickle.loads(self.path.read_bytes()) if self.path.exists() else {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.known))
        for start in range(0, len(missing), 500):
            part = missing[start:start + 500]
            self.known.update(zip(part, self.embedder.embed_documents(part), strict=True))
            self.save()
        return np.stack([self.known[t] for t in texts]) if texts else np.zeros((0, self.embedder.dimension))

    def save(self) -> None:
        CACHE.mkdir(exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(self.known))
        tmp.replace(self.path)


def documents(models: list[dict], judgments: list[Any]) -> list[tuple[str, list]]:
    """``[(document id, sections)]`` of the set's documents (Chinook cut as the module says)."""
    from dgs_core.conf import get_config
    from dgs_core.indexing.traversal import TraversalPlan

    judged = {ref for j in judgments for ref in j.relevant}
    out = []
    for model_config in get_config().models:
        plan = TraversalPlan(model_config)
        queryset = None
        if model_config.model_label == "chinook.track":
            pks = sorted(plan.model.objects.values_list("pk", flat=True))
            keep = {int(r.split(":")[1]) for r in judged if r.startswith("chinook.track:")}
            keep |= set(random.Random(15).sample([p for p in pks if p not in keep], 1000))
            queryset = plan.model.objects.filter(pk__in=keep)
        for batch in plan.iter_batches(queryset):
            out.extend((f"{model_config.model_label}:{obj.pk}", plan.sections(obj)) for obj in batch)
    return out


def measure(name: str, variant: Callable, docs: list, judgments: list, vectors: Vectors, chunker: Any,
            queries: dict[str, np.ndarray]) -> dict[str, list[float]]:
    from dgs_core import evaluation

    owners, inputs = [], []
    carry = CARRY.get(name)
    for doc_id, sections in docs:
        text = variant(sections)
        for n, (start, end) in enumerate(chunker.split(text)[0]):
            owners.append(doc_id)
            inputs.append(f"{carry(sections)}. {text[start:end]}" if carry and n else text[start:end])
    matrix = vectors(inputs)
    if name in VECTOR_WEIGHTS:
        heavy = {doc_id: [(s.text, s.weight - 1) for s in sections if s.weight > 1] for doc_id, sections in docs}
        texts = list(dict.fromkeys(t for parts in heavy.values() for t, _ in parts))
        by_text = dict(zip(texts, vectors(texts), strict=True))
        for i, owner in enumerate(owners):
            for text, extra in heavy[owner]:
                matrix[i] = matrix[i] + VECTOR_WEIGHTS[name] * extra * by_text[text]
        matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for j in judgments:
        scores = matrix @ queries[j.query]
        order = np.argsort(-scores)
        ranked = list(dict.fromkeys(owners[i] for i in order[:200]))[:10]
        value = evaluation.ndcg_at_k(ranked, j.relevant)
        by_kind[j.note or j.kind].append(value)
        by_kind["all"].append(value)
    return by_kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()
    names = [v for v in args.variants.split(",") if v]
    if unknown := sorted(set(names) - set(VARIANTS)):
        parser.error(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}.")
    work_dir = Path(tempfile.mkdtemp(prefix="dgs-bench-textformat-"))
    os.environ["DGS_BENCH_DIR"] = str(work_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_stores"
    setup_paths()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import override_settings

    from chinook.fixture import chinook_fixture_path
    from dgs_core import engine, evaluation
    from dgs_core.indexing.chunking import Chunker

    call_command("migrate", run_syncdb=True, verbosity=0)
    call_command("loaddata", str(chinook_fixture_path()), verbosity=0)
    call_command("loaddata", str(REPO_ROOT / "bench" / "stdlib_api" / "stdlib_api.json"), verbosity=0)
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    for set_name in [s for s in args.sets.split(",") if s]:
        file, models = SETS[set_name]
        judgments = evaluation.load_judgments(REPO_ROOT / "example" / "judgments" / file)
        settings = {"MODELS": models, "VECTOR_STORE": {"BACKEND": "memory"}, "AUTO_INDEX": False,
                    "EMBEDDINGS": {"default": {"BACKEND": "sentence-transformers", "MODEL_NAME": model_path()}}}
        with override_settings(GRAPH_SEARCH=settings):
            engine.reset()
            from dgs_core.conf import get_config

            embedder = engine.get_embedder()
            chunker = Chunker.for_embedder(embedder, get_config().chunking)
            vectors = Vectors(embedder)
            docs = documents(models, judgments)
            queries = {j.query: embedder.embed_query(j.query) for j in judgments}
            for name in names:
                started = time.perf_counter()
                results.setdefault(set_name, {})[name] = measure(name, VARIANTS[name], docs, judgments, vectors,
                                                                  chunker, queries)
                print(f"{set_name} {name}: {np.mean(results[set_name][name]['all']):.3f} "
                      f"({len(docs):,} documents, {time.perf_counter() - started:.0f} s)", flush=True)
    for set_name, by_variant in results.items():
        kinds = list(dict.fromkeys(k for r in by_variant.values() for k in r if k != "all")) + ["all"]
        print(f"\n{set_name}: vector nDCG@10 by embedder input format (exact cosine, all-MiniLM-L6-v2)\n")
        print("| variant | " + " | ".join(f"{k} ({len(next(iter(by_variant.values()))[k])})" for k in kinds)
              + " | all / v1 |")
        print("|---" * (len(kinds) + 2) + "|")
        base = np.mean(by_variant["v1"]["all"]) if "v1" in by_variant else None
        for name, r in by_variant.items():
            ratio = f"{np.mean(r['all']) / base:.3f}" if base else "n/a"
            print(f"| {name} | " + " | ".join(f"{np.mean(r[k]):.3f}" for k in kinds) + f" | {ratio} |")


if __name__ == "__main__":
    main()
