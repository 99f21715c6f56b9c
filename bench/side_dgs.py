"""The dgs side of the benchmark (runs after ``django.setup()`` with ``bench.settings``)."""

from __future__ import annotations

import math
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.common import (
    QUERIES,
    RESULT_LIMIT,
    QueryCounter,
    Workload,
    chinook_querysets,
    directory_size,
    model_path,
    record,
    similar_sample_pks,
    summarize,
    synthetic_vectors,
    timed,
    timed_ops,
)

SYNTHETIC_MODEL = "bench.synthetic"
SYNTHETIC_BATCH = 10_000


def _installed_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def _build_documents(config, querysets, counter: QueryCounter, track_texts: list[str]) -> dict[str, Any]:
    """Section 1: SQL to turn every configured row into a document, without embedding; fills
    ``track_texts`` with the Track texts for the raw-encode baseline."""
    from dgs_core.indexing.indexer import build_documents, get_plan

    per_model = {}
    for model_config in config.models:
        plan = get_plan(model_config)
        queryset = querysets[model_config.model_label]
        with counter.counting():
            seconds, documents = timed(lambda plan=plan, queryset=queryset: [
                doc
                for batch in plan.iter_batches(queryset, config.index_batch_size)
                for doc in build_documents(plan, batch, config)
            ])
        per_model[model_config.model_label] = {"objects": len(documents), "queries": counter.count,
                                               "seconds": seconds}
        if model_config.model_label == "chinook.track":
            track_texts.extend(d.text for d in documents)
    return per_model


def _index(config, querysets, counter: QueryCounter) -> dict[str, Any]:
    """Section 2: full ``Indexer.index_queryset`` (traversal + embedding + upsert) per model."""
    from dgs_core.indexing.indexer import Indexer

    indexer = Indexer(config)
    per_model = {}
    for model_config in config.models:
        queryset = querysets[model_config.model_label]
        with counter.counting():
            seconds, stats = timed(lambda mc=model_config, qs=queryset: indexer.index_queryset(mc, qs))
        per_model[model_config.model_label] = {
            "indexed": stats.indexed, "failed": stats.failed, "queries": counter.count, "seconds": seconds,
            "docs_per_s": stats.indexed / seconds if seconds else math.nan,
        }
    return per_model


def _raw_encode(texts: list[str], batch_size: int) -> dict[str, Any]:
    """The floor: ``SentenceTransformer.encode`` alone on the very texts dgs indexed."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path(), device="cpu")
    model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up, not timed
    seconds, _ = timed(lambda: model.encode(texts, batch_size=batch_size))
    return {"docs": len(texts), "seconds": seconds, "docs_per_s": len(texts) / seconds, "batch_size": batch_size}


def _search(config, workload: Workload, counter: QueryCounter) -> dict[str, Any]:
    """Section 3: the parts of a search (query embedding, store probe) and the whole of it."""
    from dgs_core import engine, search

    embedder, store = engine.get_embedder(), engine.get_vector_store()
    labels = [m.model_label for m in config.models]

    def search_and_hydrate(query: str):
        hits = search(query, limit=RESULT_LIMIT)
        for hit in hits:
            hit.object  # noqa: B018 - loading the instances is part of what is measured
        return hits

    search_and_hydrate(QUERIES[0])  # warm-up
    embed_s, probe_s, full_s, rest_s, queries, top_hits = [], [], [], [], [], {}
    for round_number in range(workload.search_rounds):
        for query in QUERIES:
            t_embed, vector = timed(lambda query=query: embedder.embed_query(query))
            t_probe, _ = timed(lambda vector=vector: store.search(vector, RESULT_LIMIT, models=labels))
            with counter.counting():
                t_full, hits = timed(lambda query=query: search_and_hydrate(query))
            embed_s.append(t_embed)
            probe_s.append(t_probe)
            full_s.append(t_full)
            rest_s.append(t_full - t_embed - t_probe)
            queries.append(counter.count)
            if round_number == 0:
                top_hits[query] = [f"{h.model}:{h.pk} {h.score:.3f} {str(h.object)[:60]}" for h in hits[:3]]
    return {
        "embed": summarize(embed_s), "probe": summarize(probe_s), "rest": summarize(rest_s),
        "full": summarize(full_s), "sql_mean": sum(queries) / len(queries), "sql_max": max(queries),
        "top_hits": top_hits,
    }


def _similar(querysets, workload: Workload, counter: QueryCounter) -> dict[str, Any]:
    """Section 4: ``get_similar`` on Tracks spread over the table, objects hydrated."""
    from dgs_core import get_similar

    tracks = querysets["chinook.track"]
    pks = similar_sample_pks(list(tracks.order_by("pk").values_list("pk", flat=True)), workload.similar_samples)
    instances = list(tracks.filter(pk__in=pks).order_by("pk"))

    def similar_and_hydrate(instance):
        hits = get_similar(instance, limit=RESULT_LIMIT)
        for hit in hits:
            hit.object  # noqa: B018 - loading the instances is part of what is measured
        return hits

    similar_and_hydrate(instances[0])  # warm-up
    seconds, queries = [], []
    for instance in instances:
        with counter.counting():
            elapsed, _ = timed(lambda instance=instance: similar_and_hydrate(instance))
        seconds.append(elapsed)
        queries.append(counter.count)
    return {"full": summarize(seconds), "sql_mean": sum(queries) / len(queries), "sql_max": max(queries)}


def _store_ops(config, work_dir: Path, size: int, workload: Workload) -> dict[str, Any]:
    """Section 5: single upsert / delete on a store already holding ``size`` synthetic vectors."""
    from dgs_core.base import StoredDocument
    from dgs_core.conf import BackendConfig
    from dgs_core.engine import build_vector_store

    # A store on disk gets a directory of its own; the memory store declares no PATH option.
    path = work_dir / f"synthetic-{size}"
    on_disk = "path" in config.vector_store.options
    store = build_vector_store(BackendConfig(config.vector_store.backend, {"path": str(path)} if on_disk else {}))
    vectors = synthetic_vectors(size, seed=size)
    fresh = synthetic_vectors(2 * workload.single_ops, seed=size + 1)

    def document(number: int, vector) -> StoredDocument:
        return StoredDocument(f"{SYNTHETIC_MODEL}:{number}", SYNTHETIC_MODEL, str(number),
                              f"synthetic document {number}", vector)

    start = time.perf_counter()
    for first in range(0, size, SYNTHETIC_BATCH):
        store.upsert([document(n, vectors[n]) for n in range(first, min(first + SYNTHETIC_BATCH, size))])
    build_s = time.perf_counter() - start
    ops, step = workload.single_ops, max(1, size // (2 * workload.single_ops))
    replace = timed_ops(lambda i: store.upsert([document(i * step, fresh[i])]), ops)
    insert = timed_ops(lambda i: store.upsert([document(size + i, fresh[ops + i])]), ops)
    remove = timed_ops(lambda i: store.delete([f"{SYNTHETIC_MODEL}:{i * step + 1}"]), ops)
    count = store.count()
    store.close()
    return {
        "size": size, "build_s": build_s, "build_vectors_per_s": size / build_s,
        "upsert_existing": summarize(replace), "upsert_new": summarize(insert), "delete": summarize(remove),
        "count_after": count, "disk_bytes": directory_size(path) if path.exists() else None,
    }


def run(workload: Workload, work_dir: Path) -> dict[str, Any]:
    """Every dgs measurement of the run, as JSON-ready data."""
    from dgs_core import engine
    from dgs_core.conf import get_config

    config = get_config()
    counter = QueryCounter()
    querysets = chinook_querysets(workload)
    embedder = engine.get_embedder()
    load_s, _ = timed(lambda: embedder.embed_documents(["warm up the model"]))
    result: dict[str, Any] = {
        "library": "dgs",
        "versions": {d: _installed_version(d) for d in ("dgs-core", "dgs-faiss", "dgs-sentence-transformers")},
        "store": config.vector_store.backend, "embedder": embedder.id, "model_load_s": load_s,
    }
    track_texts: list[str] = []
    record(result, "build_documents", lambda: _build_documents(config, querysets, counter, track_texts))
    record(result, "index", lambda: _index(config, querysets, counter))
    if track_texts:
        batch_size = getattr(embedder, "batch_size", 32)
        record(result, "raw_encode", lambda: _raw_encode(track_texts, batch_size))
    record(result, "search", lambda: _search(config, workload, counter))
    record(result, "similar", lambda: _similar(querysets, workload, counter))
    result["store_ops"] = {}
    for size in workload.store_sizes:
        record(result["store_ops"], str(size), lambda size=size: _store_ops(config, work_dir, size, workload))
    return result
