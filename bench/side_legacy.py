"""The ``django-graph-search==0.3.7`` side (runs after ``django.setup()`` with ``bench.settings_legacy``).

Same workload as :mod:`bench.side_dgs`, through the old package's public entry points
(``Indexer.index_queryset``, ``search``, ``get_similar``) and its ``FaissBackend``.
"""

from __future__ import annotations

import math
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.common import (
    QUERIES,
    RESULT_LIMIT,
    QueryCounter,
    Workload,
    chinook_querysets,
    directory_size,
    record,
    similar_sample_pks,
    summarize,
    synthetic_vectors,
    timed,
    timed_ops,
)

SYNTHETIC_MODEL = "bench.Synthetic"
#: Every old-store write pickles the whole store, so it is filled in few, large batches.
SYNTHETIC_BATCH = 5_000


def _build_documents(indexer, config, querysets, counter: QueryCounter) -> dict[str, Any]:
    """Section 1: the text step of the old ``Indexer._index_batch``, on its own prefetch plan."""
    per_model = {}
    for model_config in config.models:
        queryset = indexer._apply_prefetch(querysets[model_config.model.lower()], model_config)
        with counter.counting():
            seconds, texts = timed(lambda qs=queryset, mc=model_config: [
                indexer.resolver.build_searchable_text(instance, mc) for instance in qs.iterator(chunk_size=100)
            ])
        per_model[model_config.model.lower()] = {"objects": len(texts), "queries": counter.count, "seconds": seconds}
    return per_model


def _index(indexer, config, querysets, counter: QueryCounter) -> dict[str, Any]:
    """Section 2: the old ``Indexer.index_queryset`` (traversal + embedding + FAISS add + pickle)."""
    per_model = {}
    for model_config in config.models:
        with counter.counting():
            seconds, indexed = timed(
                lambda mc=model_config: indexer.index_queryset(querysets[mc.model.lower()], mc)
            )
        per_model[model_config.model.lower()] = {
            "indexed": indexed, "failed": 0, "queries": counter.count, "seconds": seconds,
            "docs_per_s": indexed / seconds if seconds else math.nan,
        }
    return per_model


def _search(indexer, workload: Workload, counter: QueryCounter) -> dict[str, Any]:
    """Section 3: query embedding, store probe, and the old ``search()`` (which loads the objects)."""
    from django_graph_search import search

    embedder, store = indexer.embedding_backend, indexer.vector_store
    search(QUERIES[0], limit=RESULT_LIMIT)  # warm-up
    embed_s, probe_s, full_s, rest_s, queries, top_hits = [], [], [], [], [], {}
    for round_number in range(workload.search_rounds):
        for query in QUERIES:
            t_embed, vector = timed(lambda query=query: embedder.embed(query, is_query=True))
            t_probe, _ = timed(lambda vector=vector: store.search(vector, limit=RESULT_LIMIT))
            with counter.counting():
                t_full, hits = timed(lambda query=query: search(query, limit=RESULT_LIMIT))
            embed_s.append(t_embed)
            probe_s.append(t_probe)
            full_s.append(t_full)
            rest_s.append(t_full - t_embed - t_probe)
            queries.append(counter.count)
            if round_number == 0:
                top_hits[query] = [f"{h['model']}:{h['pk']} {h['score']:.3f} {h['text'][:60]}" for h in hits[:3]]
    return {
        "embed": summarize(embed_s), "probe": summarize(probe_s), "rest": summarize(rest_s),
        "full": summarize(full_s), "sql_mean": sum(queries) / len(queries), "sql_max": max(queries),
        "top_hits": top_hits,
    }


def _similar(querysets, workload: Workload, counter: QueryCounter) -> dict[str, Any]:
    """Section 4: the old ``get_similar`` (rebuilds the text, embeds it, searches, loads objects)."""
    from django_graph_search import get_similar

    tracks = querysets["chinook.track"]
    pks = similar_sample_pks(list(tracks.order_by("pk").values_list("pk", flat=True)), workload.similar_samples)
    instances = list(tracks.filter(pk__in=pks).order_by("pk"))
    get_similar(instances[0], limit=RESULT_LIMIT)  # warm-up
    seconds, queries = [], []
    for instance in instances:
        with counter.counting():
            elapsed, _ = timed(lambda instance=instance: get_similar(instance, limit=RESULT_LIMIT))
        seconds.append(elapsed)
        queries.append(counter.count)
    return {"full": summarize(seconds), "sql_mean": sum(queries) / len(queries), "sql_max": max(queries)}


def _store_ops(work_dir: Path, workload: Workload) -> dict[str, Any]:
    """Section 5 on the old ``FaissBackend``, at the bounded ``legacy_store_size``."""
    from django_graph_search.backends.base import Document
    from django_graph_search.backends.faiss import FaissBackend

    size, ops, budget = workload.legacy_store_size, workload.single_ops, workload.legacy_op_budget_s
    path = work_dir / f"legacy-synthetic-{size}" / "index.pkl"
    store = FaissBackend(persist_path=str(path))
    vectors = synthetic_vectors(size, seed=size)
    fresh = synthetic_vectors(2 * ops, seed=size + 1)

    def document(number: int, vector) -> Document:
        text = f"synthetic document {number}"
        return Document(id=f"{SYNTHETIC_MODEL}:{number}", embedding=vector.tolist(),
                        metadata={"model": SYNTHETIC_MODEL, "pk": number, "text": text}, text=text)

    start = time.perf_counter()
    for first in range(0, size, SYNTHETIC_BATCH):
        store.add_documents([document(n, vectors[n]) for n in range(first, min(first + SYNTHETIC_BATCH, size))])
    build_s = time.perf_counter() - start
    step = max(1, size // (2 * ops))
    replace = timed_ops(lambda i: store.add_documents([document(i * step, fresh[i])]), ops, budget)
    insert = timed_ops(lambda i: store.add_documents([document(size + i, fresh[ops + i])]), ops, budget)
    remove = timed_ops(lambda i: store.delete([f"{SYNTHETIC_MODEL}:{i * step + 1}"]), ops, budget)
    return {
        "size": size, "build_s": build_s, "build_vectors_per_s": size / build_s,
        "upsert_existing": summarize(replace), "upsert_new": summarize(insert), "delete": summarize(remove),
        "count_after": store.count_documents(), "disk_bytes": directory_size(path.parent),
        "budget_s": budget,
    }


def run(workload: Workload, work_dir: Path) -> dict[str, Any]:
    """Every measurement of the old package, as JSON-ready data."""
    from django_graph_search.indexer import Indexer
    from django_graph_search.settings import get_settings

    config = get_settings()
    counter = QueryCounter()
    querysets = chinook_querysets(workload)
    indexer = Indexer(config=config)
    load_s, _ = timed(lambda: indexer.embedding_backend.embed_batch(["warm up the model"]))
    result: dict[str, Any] = {
        "library": "django-graph-search", "versions": {"django-graph-search": version("django-graph-search")},
        "store": "FaissBackend (IndexFlatL2 + pickle)", "embedder": "SentenceTransformerBackend",
        "model_load_s": load_s,
    }
    record(result, "build_documents", lambda: _build_documents(indexer, config, querysets, counter))
    record(result, "index", lambda: _index(indexer, config, querysets, counter))
    record(result, "search", lambda: _search(indexer, workload, counter))
    record(result, "similar", lambda: _similar(querysets, workload, counter))
    result["store_ops"] = {}
    record(result["store_ops"], str(workload.legacy_store_size), lambda: _store_ops(work_dir, workload))
    return result
