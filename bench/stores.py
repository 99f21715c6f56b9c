"""The same workload on every vector store, one table: ``python bench/stores.py [--quick] [--stores ...]``.

1. Chinook: the Track documents dgs builds (text + filter metadata), embedded once by all-MiniLM-L6-v2
   (cached in /tmp between runs), upserted into each store; then 30 queries, plain and filtered.
2. Synthetic: 384-d random vectors filled up to 100k (bounded by time), then single upserts and deletes.

Only store calls are timed. See bench/README.md ("stores.py") for every column.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch load: comparable between machines
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.common import QUERIES, percentile, setup_paths, synthetic_vectors, timed_ops

STORES = ("faiss", "chroma", "qdrant", "pgvector")
TRACK = "chinook.track"
LIMIT = 10
BATCH = 500  # documents per upsert (build_search_index sends 1,000; smaller keeps the time budgets tight)
CACHE_DIR = Path(tempfile.gettempdir()) / "dgs-bench-stores"
#: Filters cycled over the queries: a scalar, a list of values, related paths, a range, a many-valued path.
FILTERS = (
    {"genre__name": "Rock"},
    {"genre__name__in": ["Jazz", "Blues", "Latin"]},
    {"album__artist__name": "Iron Maiden"},
    {"milliseconds__gte": 300000},
    {"playlist__name": "Grunge"},
    {"genre__name": "Rock", "milliseconds__lt": 240000},
)
SYNTHETIC_GENRES = 25  # synthetic documents carry genre__name "g0".."g24": a filter keeps 4 %
#: Sizes of the synthetic fill at which plain and filtered search are also timed (filtered/plain per scale).
CHECKPOINTS = (40_000,)


@dataclasses.dataclass(frozen=True)
class Workload:
    """How much each store is asked to do; every phase stops at its time budget (slow stores get fewer samples)."""

    tracks: int | None  # Chinook tracks (None: all 3,503)
    rounds: int  # times each query runs (at least once)
    synthetic: int  # target size of the synthetic store
    fill_budget_s: float  # per store, for Chinook indexing and again for the synthetic fill
    search_budget_s: float  # per store, for the Chinook search rounds
    ops: int  # single writes timed per kind
    op_budget_s: float  # per store and kind of single write

    @classmethod
    def for_mode(cls, quick: bool) -> Workload:
        if quick:
            return cls(500, 1, 10_000, 15.0, 10.0, 10, 3.0)
        return cls(None, 3, 100_000, 45.0, 20.0, 20, 5.0)


@dataclasses.dataclass
class Corpus:
    documents: list[Any]  # StoredDocument
    unit: np.ndarray  # the documents' unit vectors, row i = documents[i]
    queries: np.ndarray
    texts: tuple[str, ...]  # the queries as typed, for the keyword leg
    filters: list[list[Any]]  # Condition lists, parsed by dgs_core like a search() call
    embedder_id: str


def ms(samples_s: list[float], q: float) -> float:
    """The ``q`` percentile of samples in seconds, in milliseconds."""
    return percentile(samples_s, q) * 1000.0


def analyze(store: Any) -> None:
    """ANALYZE a pgvector store's table after the bulk load, as autovacuum would on a live server (a benchmark
    server may run without it): the store plans filtered searches by these statistics. Other stores need nothing."""
    if not type(store).__module__.startswith("dgs_pgvector"):
        return
    from django.db import connections

    with connections[store.database].cursor() as cursor:
        cursor.execute(f'ANALYZE "{store.table}"')


# -- Chinook ------------------------------------------------------------------------------------------


def prepare_chinook() -> None:
    from django.core.management import call_command

    from chinook.fixture import chinook_fixture_path

    call_command("migrate", verbosity=0)
    call_command("loaddata", str(chinook_fixture_path()), verbosity=0)


def cached_embeddings(kind: str, embedder: Any, texts: list[str], embed: Callable[[list[str]], np.ndarray]):
    """``embed(texts)``, kept in /tmp under a hash of the embedder and the texts."""
    key = hashlib.sha256("\0".join([embedder.id, *texts]).encode()).hexdigest()[:16]
    path = CACHE_DIR / f"{kind}-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = np.asarray(embed(texts), dtype=np.float32)
    CACHE_DIR.mkdir(exist_ok=True)
    np.save(path, vectors)
    return vectors


def build_corpus(workload: Workload) -> Corpus:
    from chinook.models import Track
    from dgs_core import engine
    from dgs_core.base import StoredDocument, normalize_rows
    from dgs_core.indexing.indexer import build_documents, get_plan, model_config_for
    from dgs_core.searching.filters import parse_filters

    config = model_config_for(TRACK)
    plan = get_plan(config)
    queryset = Track.objects.filter(pk__lte=workload.tracks) if workload.tracks else None
    documents = [doc for batch in plan.iter_batches(queryset, BATCH) for doc in build_documents(plan, batch)]
    embedder = engine.get_embedder()
    print(f"Embedding {len(documents)} tracks and {len(QUERIES)} queries (cached in {CACHE_DIR}) ...", flush=True)
    vectors = cached_embeddings("tracks", embedder, [d.text for d in documents], embedder.embed_documents)
    queries = cached_embeddings(
        "queries", embedder, list(QUERIES), lambda texts: np.stack([embedder.embed_query(t) for t in texts])
    )
    stored = [
        StoredDocument(d.id, d.model, d.pk, d.text, vectors[i], d.content_hash(embedder.id), d.metadata)
        for i, d in enumerate(documents)
    ]
    filters = [parse_filters(f, [config])[0] for f in FILTERS]
    return Corpus(stored, normalize_rows(vectors), normalize_rows(queries), tuple(QUERIES), filters, embedder.id)


def resident_bytes() -> int:
    """This process's resident memory (Linux); 0 where /proc is missing."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def hybrid(store: Any, query: np.ndarray, text: str, depth: int) -> list[Any]:
    """The store calls of a default-mode (hybrid) search, as core's pipeline makes them: both legs ``depth``
    deep under the models restriction, fused by reciprocal rank fusion."""
    from dgs_core.searching.fusion import reciprocal_rank_fusion

    lists = [store.search(query, depth, models=[TRACK]), store.keyword_search(text, depth, models=[TRACK])]
    return reciprocal_rank_fusion(lists, LIMIT)


def copies(documents: list[Any]) -> list[Any]:
    """Fresh documents (stores may normalise vectors in place), made before the clock starts."""
    return [dataclasses.replace(doc, vector=doc.vector.copy()) for doc in documents]


def bench_chinook(store: Any, corpus: Corpus, workload: Workload) -> dict[str, Any]:
    from dgs_core.base import cosine_to_score
    from dgs_core.conf import get_config
    from dgs_core.filters import matches

    if "filters" not in store.capabilities:
        raise RuntimeError("the store does not declare the 'filters' capability that dgs needs for filtered search")
    batches = [copies(corpus.documents[i : i + BATCH]) for i in range(0, len(corpus.documents), BATCH)]
    memory_before = resident_bytes()
    store.record_embedder(corpus.embedder_id, corpus.unit.shape[1])  # what dgs does before the first write
    indexed, start = 0, time.perf_counter()
    for batch in batches:
        if time.perf_counter() - start > workload.fill_budget_s:
            break
        store.upsert(batch)
        indexed += len(batch)
    result: dict[str, Any] = {"docs": indexed, "index_docs_s": indexed / (time.perf_counter() - start)}
    analyze(store)

    # Correctness is judged on what was indexed: exact neighbours by numpy, filter matches by dgs_core.
    documents, unit = corpus.documents[:indexed], corpus.unit[:indexed]
    position = {doc.id: i for i, doc in enumerate(documents)}
    matching = [{d.id for d in documents if matches(d.metadata, conditions)} for conditions in corpus.filters]
    # First searches excluded: loading indexes, opening connections, per-field filter columns (faiss).
    for conditions in [None, *corpus.filters]:
        store.search(corpus.queries[0], LIMIT, models=[TRACK], filters=conditions)
    plain, filtered, recalls, score_errors, filter_errors = [], [], [], [0.0], 0
    start = time.perf_counter()
    for round_number in range(workload.rounds):
        if round_number and time.perf_counter() - start > workload.search_budget_s:
            break
        for number, query in enumerate(corpus.queries):
            conditions = corpus.filters[number % len(corpus.filters)]
            started = time.perf_counter()
            hits = store.search(query, LIMIT, models=[TRACK])
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            filtered_hits = store.search(query, LIMIT, models=[TRACK], filters=conditions)
            filtered.append(time.perf_counter() - started)
            if round_number:
                continue
            cosines = unit @ query
            exact = {documents[i].id for i in np.argsort(-cosines)[:LIMIT]}
            recalls.append(len(exact & {h.id for h in hits}) / LIMIT)
            score_errors += [abs(h.score - cosine_to_score(cosines[position[h.id]])) for h in hits + filtered_hits]
            expected = matching[number % len(corpus.filters)]
            found = {h.id for h in filtered_hits}
            if not (found <= expected and len(found) == min(LIMIT, len(expected))):
                filter_errors += 1
    # The other searches of a site: keyword and default-mode (hybrid) legs as deep as the pipeline asks, and
    # "more like this" (the object's stored vector, then its neighbours).
    depth = max(LIMIT, get_config().hybrid.candidates)
    texts, ids = corpus.texts, [documents[(n * 97) % indexed].id for n in range(len(corpus.queries))]
    store.keyword_search(texts[0], depth, models=[TRACK])
    keyword = timed_ops(lambda n: store.keyword_search(texts[n], depth, models=[TRACK]), len(texts))
    mixed = timed_ops(lambda n: hybrid(store, corpus.queries[n], texts[n], depth), len(texts))

    def similar(n: int) -> None:
        vector = store.get_vectors([ids[n]])[ids[n]]
        store.search(vector, LIMIT + 1, models=[TRACK])

    alike = timed_ops(similar, len(ids))
    result.update(
        keyword_p50=ms(keyword, 50), hybrid_p50=ms(mixed, 50), hybrid_p95=ms(mixed, 95), similar_p50=ms(alike, 50),
        memory=resident_bytes() - memory_before,
        search_p50=ms(plain, 50), search_p95=ms(plain, 95), filtered_p50=ms(filtered, 50),
        filtered_p95=ms(filtered, 95),
        recall=float(np.mean(recalls)), score_error=max(score_errors), filter_errors=filter_errors,
        filtered_searches=len(corpus.queries),
    )
    return result


# -- Synthetic ----------------------------------------------------------------------------------------


def synthetic_document(number: int, vector: np.ndarray) -> Any:
    from dgs_core.base import StoredDocument

    return StoredDocument(f"bench.synthetic:{number}", "bench.synthetic", str(number), f"synthetic {number}",
                          vector.copy(), f"h{number}", {"genre__name": f"g{number % SYNTHETIC_GENRES}"})


def bench_synthetic(store: Any, workload: Workload) -> dict[str, Any]:
    from dgs_core.filters import Condition

    spare = 2 * workload.ops + 20
    vectors = synthetic_vectors(workload.synthetic + spare, seed=7)
    store.record_embedder("bench:synthetic", vectors.shape[1])
    queries, genre = vectors[-10:], [Condition("genre__name", "exact", "g3")]

    def plain_and_filtered() -> tuple[float, float]:
        analyze(store)
        store.search(queries[0], LIMIT)  # first searches excluded, as above
        store.search(queries[0], LIMIT, filters=genre)
        return (ms(timed_ops(lambda n: store.search(queries[n], LIMIT), 10), 50),
                ms(timed_ops(lambda n: store.search(queries[n], LIMIT, filters=genre), 10), 50))

    result: dict[str, Any] = {}
    size, filling = 0, 0.0
    while size < workload.synthetic and filling < workload.fill_budget_s:
        started = time.perf_counter()
        store.upsert([synthetic_document(n, vectors[n]) for n in range(size, min(size + BATCH, workload.synthetic))])
        size = min(size + BATCH, workload.synthetic)
        filling += time.perf_counter() - started
        for checkpoint in CHECKPOINTS:
            if size == checkpoint < workload.synthetic:  # timed apart from the fill
                result[f"search_p50@{checkpoint}"], result[f"filtered_p50@{checkpoint}"] = plain_and_filtered()
    result.update(vectors=size, fill_s=size / filling)
    result["search_p50"], result["filtered_p50"] = plain_and_filtered()

    def replace(n: int) -> None:
        store.upsert([synthetic_document((n * 7919) % size, vectors[size + n])])

    def add(n: int) -> None:
        store.upsert([synthetic_document(size + n, vectors[size + workload.ops + n])])

    def delete(n: int) -> None:
        store.delete([f"bench.synthetic:{(n * 104729 + 1) % size}"])

    for key, operation in (("replace_p50", replace), ("add_p50", add), ("delete_p50", delete)):
        result[key] = ms(timed_ops(operation, workload.ops, workload.op_budget_s), 50)
    return result


# -- Stores -------------------------------------------------------------------------------------------


def open_store(name: str, label: str, work_dir: Path) -> Any:
    from dgs_core.conf import BackendConfig
    from dgs_core.engine import build_vector_store

    options = {"database": "vectors", "table": f"bench_{label}"} if name == "pgvector" else {
        "path": str(work_dir / name / label)}
    return build_vector_store(BackendConfig(name, options))


def disk_bytes(name: str, label: str, work_dir: Path) -> int:
    """Bytes the store keeps: its directory, or for pgvector its tables with their indexes and TOAST."""
    if name != "pgvector":
        # Allocated blocks, as du counts them: Qdrant Edge preallocates its write-ahead log (2 x 32 MB) and
        # memory-mapped chunks as sparse files, whose apparent size says nothing about the disk they take.
        return sum(f.stat().st_blocks * 512 for f in (work_dir / name / label).rglob("*") if f.is_file())
    from django.db import connections

    with connections["vectors"].cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(pg_total_relation_size(oid)), 0) FROM pg_class "
                       "WHERE relkind = 'r' AND relname LIKE %s", [f"bench\\_{label}%"])
        return int(cursor.fetchone()[0])


def measure(name: str, label: str, work_dir: Path, run: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """``run(store)`` on a fresh store, then the disk it used; ``{"error": reason}`` if anything fails."""
    try:
        store = open_store(name, label, work_dir)
        try:
            result = run(store)
        finally:
            store.close()
        result["disk"] = disk_bytes(name, label, work_dir)
        return result
    except Exception as exc:
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]}


def missing_plugin(name: str) -> str | None:
    from dgs_core.plugins import get_registry

    if name in get_registry().registrations()["vector_store"]:
        return None
    return f"plugin not installed: pip install -e plugins/dgs_{name}"


@contextlib.contextmanager
def scratch_database(enabled: bool) -> Iterator[str | None]:
    """Create the scratch PostgreSQL database (with the vector extension) and drop it afterwards.

    Yields ``None``, or the reason PostgreSQL cannot be used (pgvector is then reported as n/a).
    """
    if not enabled:
        yield None
        return
    import psycopg
    from django.conf import settings
    from django.db import connections

    db = settings.DATABASES["vectors"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", db["NAME"]):
        raise SystemExit(f"DGS_BENCH_PG_NAME must be a plain lower-case identifier, not {db['NAME']!r}.")
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"] or None}
    try:
        admin = psycopg.connect(dbname="postgres", autocommit=True, **params)
    except psycopg.Error as exc:
        yield f"PostgreSQL at {db['HOST']}:{db['PORT']} unreachable: {str(exc).strip().splitlines()[0]}"
        return
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {db['NAME']} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {db['NAME']}")
        problem = None
        try:
            with psycopg.connect(dbname=db["NAME"], autocommit=True, **params) as scratch:
                scratch.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            problem = f"PostgreSQL has no pgvector extension: {str(exc).strip().splitlines()[0]}"
        try:
            yield problem
        finally:
            connections["vectors"].close()
            admin.execute(f"DROP DATABASE IF EXISTS {db['NAME']} WITH (FORCE)")


# -- Output -------------------------------------------------------------------------------------------


def number(value: Any, digits: int = 1) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def megabytes(value: int) -> str:
    return f"{value / 1e6:,.1f} MB"


def table(title: str, header: list[str], rows: list[tuple[str, dict[str, Any]]], cells) -> list[str]:
    lines = [title, "", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    notes = []
    for name, result in rows:
        if "error" in result:
            lines.append("| " + " | ".join([name] + ["n/a"] * (len(header) - 1)) + " |")
            notes.append(f"- {name}: n/a because {result['error']}")
        else:
            lines.append("| " + " | ".join([name, *cells(result)]) + " |")
    return lines + [""] + notes + ([""] if notes else [])


def report(chinook: list[tuple[str, dict]], synthetic: list[tuple[str, dict]], tracks: int, workload: Workload) -> str:
    faiss_hybrid = dict(chinook).get("faiss", {}).get("hybrid_p50")
    first = table(
        f"Chinook: {tracks:,} tracks, all-MiniLM-L6-v2 (384-d), k={LIMIT}, {len(QUERIES)} queries x up to "
        f"{workload.rounds} rounds; times in ms",
        ["store", "indexed", "index docs/s", "search p50", "search p95", "filtered p50", "filtered p95",
         "filtered/plain", "keyword p50", "hybrid p50", "hybrid p95", "hybrid/faiss", "similar p50", "recall@10",
         "max score diff", "filtered k ok", "memory", "disk"],
        chinook,
        lambda r: [number(r["docs"]), number(r["index_docs_s"], 0), number(r["search_p50"], 2),
                   number(r["search_p95"], 2), number(r["filtered_p50"], 2), number(r["filtered_p95"], 2),
                   f"{r['filtered_p50'] / r['search_p50']:.2f}", number(r["keyword_p50"], 2),
                   number(r["hybrid_p50"], 2), number(r["hybrid_p95"], 2),
                   f"{r['hybrid_p50'] / faiss_hybrid:.2f}" if faiss_hybrid else "n/a", number(r["similar_p50"], 2),
                   f"{r['recall']:.2f}", f"{r['score_error']:.4f}",
                   f"{r['filtered_searches'] - r['filter_errors']}/{r['filtered_searches']}", megabytes(r["memory"]),
                   megabytes(r["disk"])],
    )
    second = table(
        f"Synthetic 384-d vectors, filled up to {workload.synthetic:,} (at most {workload.fill_budget_s:.0f} s); "
        "single writes at that size; times in ms",
        ["store", "vectors", "fill vectors/s", *[f"filtered/plain @{c:,}" for c in CHECKPOINTS], "search p50",
         "filtered p50 (4 %)", "filtered/plain", "upsert existing p50", "upsert new p50", "delete p50", "disk"],
        synthetic,
        lambda r: [number(r["vectors"]), number(r["fill_s"], 0),
                   *[f"{r[f'filtered_p50@{c}'] / r[f'search_p50@{c}']:.2f}" if f"search_p50@{c}" in r else "n/a"
                     for c in CHECKPOINTS],
                   number(r["search_p50"], 2), number(r["filtered_p50"], 2),
                   f"{r['filtered_p50'] / r['search_p50']:.2f}",
                   number(r["replace_p50"], 2), number(r["add_p50"], 2), number(r["delete_p50"], 2),
                   megabytes(r["disk"])],
    )
    return "\n".join(first + second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI smoke: 500 tracks, 10k synthetic vectors.")
    parser.add_argument("--stores", default=",".join(STORES), help=f"comma list out of {', '.join(STORES)}")
    parser.add_argument("--fill-seconds", type=float, metavar="S",
                        help="upsert time each store gets for the synthetic fill (default 45, quick 15): raise it "
                             "to take slow stores to 40k and 100k vectors")
    args = parser.parse_args()
    names = [n.strip() for n in args.stores.split(",") if n.strip()]
    if unknown := sorted(set(names) - set(STORES)):
        parser.error(f"--stores: unknown {', '.join(unknown)}; choose from {', '.join(STORES)}.")
    workload = Workload.for_mode(args.quick)
    if args.fill_seconds:
        workload = dataclasses.replace(workload, fill_budget_s=args.fill_seconds)

    work_dir = Path(tempfile.mkdtemp(prefix="dgs-bench-stores-"))
    os.environ["DGS_BENCH_DIR"] = str(work_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_stores"
    setup_paths()
    import django

    django.setup()
    started = time.perf_counter()
    try:
        prepare_chinook()
        corpus = build_corpus(workload)
        print(f"Chinook loaded and embedded in {time.perf_counter() - started:.0f} s.", flush=True)
        chinook, synthetic = [], []
        with scratch_database("pgvector" in names) as postgres_problem:
            for name in names:
                problem = missing_plugin(name) or (postgres_problem if name == "pgvector" else None)
                print(f"{name}: Chinook ...", flush=True)
                chinook.append((name, {"error": problem} if problem else measure(
                    name, "chinook", work_dir, lambda store: bench_chinook(store, corpus, workload))))
                print(f"{name}: synthetic ...", flush=True)
                synthetic.append((name, {"error": problem} if problem else measure(
                    name, "synthetic", work_dir, lambda store: bench_synthetic(store, workload))))
        print()
        print(report(chinook, synthetic, len(corpus.documents), workload))
        print(f"Total {time.perf_counter() - started:.0f} s.")
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
