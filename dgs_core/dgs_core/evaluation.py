"""Search quality: relevance judgments, the metrics (recall@k, MRR, nDCG@10) and running them per search mode.

A judgments file is JSON Lines, one judged query per line::

    {"query": "songs by Audioslave", "kind": "related", "relevant": {"chinook.track:12": 2, "chinook.album:5": 1}}
    {"query": "Bohemian Rhapsody", "kind": "name", "relevant": ["chinook.track:2254"]}

``relevant`` maps document ids (``app_label.model:pk``, as :attr:`dgs_core.SearchHit.id`) to a grade: 2 = what
was asked for, 1 = useful, 0 = judged and not relevant (the same as not listed); a plain list gives every id
grade 1. ``kind`` is one of :data:`KINDS`; ``rule`` and ``note`` are free text (how the relevant set was made).
Blank lines and lines starting with ``#`` are skipped. See ``docs/search_quality.md``.

The first part of this module (parsing and metrics) is plain Python with no Django; the last part
(:func:`plan_modes`, :func:`run_evaluation`) runs judgments through :class:`dgs_core.searching.searcher.Searcher`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from dgs_core.conf import SEARCH_MODES
from dgs_core.ids import DocumentRef

#: What a judged query tests: by meaning (paraphrase), by a name or rare word, by facts on related rows.
KINDS = ("meaning", "name", "related")
#: The row of all kinds together in a summary.
ALL = "all"
#: Search modes :func:`plan_modes` knows: the three of ``dgs_core.search(mode=...)``, and ``reranked``: the
#: default mode's candidates reranked by the plugin that answers ``dgs_reranked_search``.
MODES = (*SEARCH_MODES, "reranked")
#: nDCG is reported at this cutoff whatever ``k`` is.
NDCG_CUTOFF = 10
#: Keys a judgment line may have.
KEYS = ("query", "kind", "relevant", "rule", "note")
_DOC_ID = re.compile(r"^(?P<model>[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*):(?P<pk>\S(?:.*\S)?)$")


class JudgmentError(ValueError):
    """A judgments file that cannot be used; the message names the file, the line and the key."""

    def __init__(self, message: str, line: Optional[int] = None, key: Optional[str] = None) -> None:
        super().__init__(message)
        self.line = line
        self.key = key


@dataclass(frozen=True)
class Judgment:
    """One judged query: the grade of each relevant document id (all grades >= 1)."""

    query: str
    kind: str
    relevant: Mapping[str, int]
    line: int = 0
    rule: Optional[str] = None
    note: Optional[str] = None


# -- Parsing ----------------------------------------------------------------------------------------


def normalize_id(value: str) -> Optional[str]:
    """``app_label.model:pk`` with the model label lower-cased (as hits carry it), or ``None`` if malformed."""
    match = _DOC_ID.match(value) if isinstance(value, str) else None
    return str(DocumentRef(match["model"], match["pk"])) if match else None


def _grades(raw: Any, where: str, line: int) -> dict[str, int]:
    def fail(message: str) -> JudgmentError:
        return JudgmentError(f"{where}: 'relevant': {message}", line, "relevant")

    if isinstance(raw, list):
        raw = dict.fromkeys(raw, 1) if all(isinstance(i, str) for i in raw) else raw
    if not isinstance(raw, dict):
        raise fail(f"must be an object of document id -> grade, or a list of document ids, "
                   f"not {type(raw).__name__}" + (" holding something other than strings" if isinstance(raw, list)
                                                  else ""))
    grades: dict[str, int] = {}
    for key, grade in raw.items():
        doc_id = normalize_id(key)
        if doc_id is None:
            raise fail(f"{key!r} is not a document id; write 'app_label.model:pk', e.g. 'chinook.track:12'")
        if isinstance(grade, bool) or not isinstance(grade, int) or grade < 0:
            raise fail(f"the grade of {key!r} must be a whole number >= 0 (2 = what was asked for, "
                       f"1 = useful, 0 = not relevant), not {grade!r}")
        if doc_id in grades:
            raise fail(f"{key!r} is listed twice")
        grades[doc_id] = grade
    relevant = {doc_id: grade for doc_id, grade in grades.items() if grade > 0}
    if not relevant:
        raise fail("lists no document with a grade above 0; every judged query needs at least one relevant document")
    return relevant


def parse_judgment(raw_line: str, line: int, source: str = "<judgments>") -> Judgment:
    """One judgment from the text of line number ``line`` (1-based) of ``source``."""
    where = f"{source}, line {line}"
    try:
        data = json.loads(raw_line)
    except json.JSONDecodeError as exc:
        raise JudgmentError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})", line) from None
    if not isinstance(data, dict):
        raise JudgmentError(f"{where}: must be a JSON object with 'query', 'kind' and 'relevant', "
                            f"not {type(data).__name__}", line)
    for key in data:
        if key not in KEYS:
            raise JudgmentError(f"{where}: unknown key {key!r} (known: {', '.join(KEYS)})", line, key)
    for key in ("query", "kind", "relevant"):
        if key not in data:
            raise JudgmentError(f"{where}: the key {key!r} is missing", line, key)
    query = data["query"]
    if not isinstance(query, str) or not query.strip():
        raise JudgmentError(f"{where}: 'query' must be a non-empty string, not {query!r}", line, "query")
    kind = data["kind"]
    if kind not in KINDS:
        raise JudgmentError(f"{where}: 'kind' is {kind!r}; use one of: {', '.join(KINDS)}", line, "kind")
    for key in ("rule", "note"):
        if not isinstance(data.get(key, ""), str):
            raise JudgmentError(f"{where}: {key!r} must be a string", line, key)
    return Judgment(query.strip(), kind, _grades(data["relevant"], where, line), line, data.get("rule"),
                    data.get("note"))


def parse_judgments(lines: Iterable[str], source: str = "<judgments>") -> list[Judgment]:
    """Every judgment of ``lines`` (JSON Lines text); a query may be judged once per kind only."""
    judgments: list[Judgment] = []
    seen: dict[tuple[str, str], int] = {}
    for number, text in enumerate(lines, start=1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        judgment = parse_judgment(text, number, source)
        key = (judgment.query.lower(), judgment.kind)
        if key in seen:
            raise JudgmentError(f"{source}, line {number}: 'query': {judgment.query!r} ({judgment.kind}) is already "
                                f"judged on line {seen[key]}", number, "query")
        seen[key] = number
        judgments.append(judgment)
    if not judgments:
        raise JudgmentError(f"{source}: no judged queries (one JSON object per line)")
    return judgments


def load_judgments(path: Union[str, Path]) -> list[Judgment]:
    """The judgments of a JSON Lines file (UTF-8)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise JudgmentError(f"{path}: cannot read the judgments file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        line = text_line_of(path.read_bytes(), exc.start)
        raise JudgmentError(f"{path}, line {line}: not UTF-8 text", line) from None
    return parse_judgments(text.splitlines(), str(path))


def text_line_of(data: bytes, offset: int) -> int:
    """The 1-based line number of byte ``offset`` in ``data``."""
    return data.count(b"\n", 0, offset) + 1


# -- Metrics ----------------------------------------------------------------------------------------
# ``ranked`` is the result list as document ids, best first, one entry per object; ``relevant`` maps
# ids to grades >= 1 (anything missing is grade 0).


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Relevant documents among the first ``k`` over ``min(k, number relevant)``.

    Capped so that 1.0 means "the first k could not have held more relevant documents"; for a query
    with at most ``k`` relevant documents this is plain recall.
    """
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    if not wanted or k < 1:
        return 0.0
    found = len(wanted.intersection(ranked[:k]))
    return found / min(k, len(wanted))


def reciprocal_rank(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document within the first ``k`` (rank 1 = first), else 0."""
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def dcg(grades: Sequence[int], cutoff: int = NDCG_CUTOFF) -> float:
    """Discounted cumulative gain: sum of (2^grade - 1) / log2(rank + 1) over ranks 1..cutoff."""
    return sum((2 ** grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(grades[:cutoff], start=1))


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], cutoff: int = NDCG_CUTOFF) -> float:
    """DCG of ``ranked`` over the DCG of the ideal order of the judged grades, both cut at ``cutoff``."""
    ideal = dcg(sorted(relevant.values(), reverse=True), cutoff)
    return dcg([relevant.get(doc, 0) for doc in ranked], cutoff) / ideal if ideal > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` percentile (0-100), linear between samples (numpy's default); NaN for none."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def unique(ids: Iterable[str]) -> list[str]:
    """``ids`` without repeats, first occurrence kept (an object found twice counts once)."""
    return list(dict.fromkeys(ids))


# -- Scoring results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    """One judged query searched in one mode."""

    mode: str
    judgment: Judgment
    ranked: tuple[str, ...]  # what the search returned, best first
    recall: float
    mrr: float
    ndcg: float
    seconds: float
    error: Optional[str] = None  # the search failed: ranked is empty and every metric 0

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "query": self.judgment.query, "kind": self.judgment.kind, "line": self.judgment.line,
                "recall": self.recall, "mrr": self.mrr, "ndcg": self.ndcg, "ms": self.seconds * 1000.0,
                "ranked": list(self.ranked), "relevant": len(self.judgment.relevant), "error": self.error}


@dataclass(frozen=True)
class Summary:
    """The averages of one mode over one kind of query (or :data:`ALL`)."""

    mode: str
    kind: str
    queries: int
    recall: float
    mrr: float
    ndcg: float
    p50_ms: float
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def score(mode: str, judgment: Judgment, ranked: Sequence[str], k: int, seconds: float = 0.0,
          error: Optional[str] = None) -> QueryResult:
    """The metrics of one result list (ids, best first; repeats are dropped)."""
    ranked = unique(ranked)
    relevant = judgment.relevant
    return QueryResult(mode, judgment, tuple(ranked), recall_at_k(ranked, relevant, k),
                       reciprocal_rank(ranked, relevant, k), ndcg_at_k(ranked, relevant), seconds, error)


def evaluate(judgments: Sequence[Judgment], search: Callable[[str], Sequence[str]], k: int = 10,
             mode: str = "") -> list[QueryResult]:
    """Run every judged query through ``search`` (query -> ids, best first) and score it; timed per query."""
    results = []
    for judgment in judgments:
        started = time.perf_counter()
        ranked = search(judgment.query)
        results.append(score(mode, judgment, ranked, k, time.perf_counter() - started))
    return results


def summarize(results: Sequence[QueryResult]) -> list[Summary]:
    """Per mode (first-seen order), one row per kind present (in :data:`KINDS` order) and one for :data:`ALL`."""
    rows = []
    for mode in unique(r.mode for r in results):
        mine = [r for r in results if r.mode == mode]
        groups = [(kind, [r for r in mine if r.judgment.kind == kind]) for kind in KINDS]
        for kind, group in [*(g for g in groups if g[1]), (ALL, mine)]:
            n = len(group)
            rows.append(Summary(mode, kind, n, sum(r.recall for r in group) / n, sum(r.mrr for r in group) / n,
                                sum(r.ndcg for r in group) / n,
                                percentile([r.seconds * 1000.0 for r in group if r.error is None], 50),
                                sum(1 for r in group if r.error is not None)))
    return rows


SUMMARY_HEADERS = ("mode", "kind", "queries", "recall@{k}", "MRR", "nDCG@10", "p50 ms")


def summary_table(rows: Sequence[Summary], k: int) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells of a summary (metrics to 3 decimals, latency to 1)."""
    headers = [h.format(k=k) for h in SUMMARY_HEADERS]
    cells = []
    for row in rows:
        latency = "n/a" if math.isnan(row.p50_ms) else f"{row.p50_ms:.1f}"
        queries = f"{row.queries}" + (f" ({row.errors} failed)" if row.errors else "")
        cells.append([row.mode, row.kind, queries, f"{row.recall:.3f}", f"{row.mrr:.3f}", f"{row.ndcg:.3f}",
                      latency])
    return headers, cells


# -- Running judgments through dgs ------------------------------------------------------------------


@dataclass
class ModePlan:
    """How one mode is searched here, or why it cannot be (``skipped``)."""

    mode: str
    search: Optional[Callable[[str], Sequence[str]]] = None
    skipped: Optional[str] = None
    note: Optional[str] = None  # what the mode means here, e.g. which reranker


@dataclass
class Evaluation:
    """Everything :func:`run_evaluation` found: results per query, the summary, skipped modes and notes."""

    k: int
    judgments: list[Judgment]
    results: list[QueryResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> list[Summary]:
        return summarize(self.results)

    def as_dict(self) -> dict[str, Any]:
        return {"k": self.k, "ndcg_cutoff": NDCG_CUTOFF, "summary": [s.as_dict() for s in self.summary],
                "skipped": self.skipped, "notes": self.notes, "queries": [r.as_dict() for r in self.results]}


def parse_modes(value: Union[None, str, Sequence[str]]) -> Optional[list[str]]:
    """``"vector,hybrid"`` -> ``["vector", "hybrid"]``; ``None``/empty -> ``None`` (the default modes)."""
    if value is None:
        return None
    names = [m.strip().lower() for m in (value.split(",") if isinstance(value, str) else value)]
    names = [m for m in names if m]
    if not names:
        return None
    unknown = [m for m in names if m not in MODES]
    if unknown:
        raise ValueError(f"unknown mode {', '.join(map(repr, unknown))}; choose from {', '.join(MODES)}")
    return unique(names)


def _searcher_modes(searcher_cls: type) -> bool:
    """Whether ``Searcher.search`` takes ``mode`` (hybrid search is in this dgs-core)."""
    import inspect

    return "mode" in inspect.signature(searcher_cls.search).parameters


def _reranked_plan(config: Any, candidates: int) -> tuple[Optional[Any], Optional[str], Optional[str]]:
    """(configuration, note, why it cannot run) of the ``reranked`` mode; no configuration when it cannot run."""
    from dgs_core.plugins import get_registry
    from dgs_core.searching.pipeline import VectorSearchPipeline

    registry = get_registry()
    reranked = registry.hook.dgs_reranked_search(config=config, candidates=candidates)
    if reranked is None:
        return None, None, "no installed plugin reranks searches (none answers dgs_reranked_search)"
    if reranked.unavailable:
        return None, reranked.note, reranked.unavailable
    try:
        pipeline = registry.hook.dgs_search_pipeline(config=reranked.config)
    except Exception as exc:
        return None, reranked.note, f"the reranking pipeline failed to start: {type(exc).__name__}: {exc}"
    if pipeline is None or type(pipeline) is VectorSearchPipeline:
        return None, reranked.note, "no installed plugin runs a pipeline for the reranking configuration"
    return reranked.config, reranked.note, None


def plan_modes(modes: Optional[Sequence[str]], k: int, models: Any = None, config: Any = None,
               limit: Optional[int] = None) -> list[ModePlan]:
    """A search function per mode (``None``: vector, keyword, hybrid and reranked), or the reason it is skipped.

    Every mode searches ``max(k, NDCG_CUTOFF)`` results (or ``limit``). A mode of the store's keyword leg
    needs the store's ``"keyword"`` capability; ``reranked`` needs a plugin that answers
    ``dgs_reranked_search`` and whose reranker can run, and searches in the configured default mode.
    """
    from dgs_core import engine
    from dgs_core.conf import get_config
    from dgs_core.searching.searcher import Searcher

    config = config or get_config()
    limit = limit or max(k, NDCG_CUTOFF)
    has_modes = _searcher_modes(Searcher)
    store = engine.get_vector_store()
    keyword = "keyword" in store.capabilities
    default_mode = getattr(getattr(config, "hybrid", None), "default_mode", "vector")
    plans = []
    for mode in modes or MODES:
        plan = ModePlan(mode)
        if mode in ("keyword", "hybrid") and not has_modes:
            plan.skipped = "this dgs-core has no search modes yet (Searcher.search takes no 'mode')"
        elif mode in ("keyword", "hybrid") and not keyword:
            plan.skipped = (f"the vector store {config.vector_store.backend!r} has no keyword search "
                            f"(no 'keyword' capability)")
        elif mode == "reranked":
            base = default_mode if has_modes else "vector"
            if base in ("keyword", "hybrid") and not keyword:
                base = "vector"
            rerank_config, note, plan.skipped = _reranked_plan(config, limit)
            plan.note = note and f"{note} ({base} search)"
            if rerank_config is not None:
                plan.search = _search_function(Searcher(rerank_config), models, limit, base if has_modes else None)
        else:
            plan.search = _search_function(Searcher(config), models, limit, mode if has_modes else None)
        plans.append(plan)
    return plans


def _search_function(searcher: Any, models: Any, limit: int, mode: Optional[str]) -> Callable[[str], list[str]]:
    kwargs = {"mode": mode} if mode else {}

    def search(query: str) -> list[str]:
        hits = searcher.search(query, models=models, limit=limit, **kwargs)
        return [str(DocumentRef(hit.model, hit.pk)) for hit in hits]

    return search


def run_evaluation(judgments: Sequence[Judgment], modes: Optional[Sequence[str]] = None, k: int = 10,
                   models: Any = None, config: Any = None,
                   progress: Optional[Callable[[str], None]] = None) -> Evaluation:
    """Search every judged query in every mode of :func:`plan_modes` and score it.

    A mode whose first query fails (e.g. its engine is down) is reported as skipped with the error; a later
    failing query counts as an empty result list (every metric 0) and as failed in the summary. The first
    search of each mode runs once untimed before the timed runs (model loading, connections).
    """
    evaluation = Evaluation(k, list(judgments))
    for plan in plan_modes(modes, k, models, config):
        if plan.note:
            evaluation.notes[plan.mode] = plan.note
        if plan.search is None:
            evaluation.skipped[plan.mode] = plan.skipped or "cannot run here"
            continue
        if progress:
            progress(plan.mode)
        try:
            plan.search(judgments[0].query)  # warm-up, not timed
        except Exception as exc:
            evaluation.skipped[plan.mode] = f"the first search failed: {_reason(exc)}"
            continue
        for judgment in judgments:
            started = time.perf_counter()
            try:
                ranked, error = plan.search(judgment.query), None
            except Exception as exc:
                ranked, error = [], _reason(exc)
            evaluation.results.append(score(plan.mode, judgment, ranked, k, time.perf_counter() - started, error))
    return evaluation


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300]
