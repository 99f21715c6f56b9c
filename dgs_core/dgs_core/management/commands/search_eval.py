import json
import math

from django.core.management import BaseCommand, CommandError

from dgs_core import evaluation
from dgs_core.conf import get_config
from dgs_core.exceptions import GraphSearchError
from dgs_core.ids import DocumentRef
from dgs_core.searching.query import resolve_models

from ._util import format_table


class Command(BaseCommand):
    help = (
        "Measure search quality against relevance judgments (a JSON Lines file, see docs/search_quality.md): "
        "every judged query is searched in each mode and scored by recall@k, MRR and nDCG@10, averaged per "
        "mode and per kind of query, with the median latency."
    )

    def add_arguments(self, parser):
        parser.add_argument("judgments", help="The judgments file (JSON Lines: query, kind, relevant).")
        parser.add_argument("--mode", metavar="MODE[,MODE]",
                            help=f"Modes to compare, out of {', '.join(evaluation.MODES)}. Default: all of them "
                                 "(reranked when an installed plugin reranks and its reranker can run).")
        parser.add_argument("--k", type=int, default=10, metavar="N",
                            help="Cutoff of recall@k and MRR (default 10); nDCG is always @10.")
        parser.add_argument("--models", action="append", metavar="app.Model[,app.Model]",
                            help="Search only these models (repeatable). Default: every configured model.")
        parser.add_argument("--per-query", action="store_true",
                            help="Also print nDCG@10 of every query in every mode.")
        parser.add_argument("--json", action="store_true",
                            help="Print every number (summary, skipped modes, each query's results) as JSON instead.")

    def handle(self, *args, **options):
        k = options["k"]
        if k < 1:
            raise CommandError("--k must be a positive integer.")
        try:
            modes = evaluation.parse_modes(options["mode"])
        except ValueError as exc:
            raise CommandError(f"--mode: {exc}.") from exc
        try:
            judgments = evaluation.load_judgments(options["judgments"])
        except evaluation.JudgmentError as exc:
            raise CommandError(str(exc)) from exc
        models = [m.strip() for value in options["models"] or () for m in value.split(",") if m.strip()] or None
        try:
            config = get_config()
            if models:
                try:
                    models = resolve_models(config, models)
                except GraphSearchError as exc:
                    message = str(exc).removeprefix("'models': ")
                    raise CommandError(f"--models: {message}") from exc
            self.warn_unsearchable(judgments, models or [m.model_label for m in config.models])
            result = evaluation.run_evaluation(
                judgments, modes, k, models, config,
                progress=lambda mode: self.stderr.write(f"Searching {len(judgments)} queries: {mode} ..."),
            )
        except GraphSearchError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        else:
            self.print_report(result, options["per_query"])
        if not result.results:
            raise CommandError("No mode could run: " + "; ".join(f"{m}: {r}" for m, r in result.skipped.items()))

    def warn_unsearchable(self, judgments, labels):
        """Judged documents of models that are not searched can never be found: say so before searching."""
        judged = {DocumentRef.parse(doc_id).model for j in judgments for doc_id in j.relevant}
        for label in sorted(judged - set(labels)):
            lines = sorted({j.line for j in judgments if any(DocumentRef.parse(d).model == label for d in j.relevant)})
            shown = ", ".join(map(str, lines[:5])) + (" ..." if len(lines) > 5 else "")
            self.stderr.write(f"Warning: {label} is not searched here, so its judged documents count as missed "
                              f"(lines {shown}).")

    def print_report(self, result, per_query: bool):
        summary = result.summary
        judged = {j.kind for j in result.judgments}
        self.stdout.write(f"{len(result.judgments)} judged queries ("
                          + ", ".join(f"{sum(j.kind == kind for j in result.judgments)} {kind}"
                                      for kind in evaluation.KINDS if kind in judged)
                          + f"); recall@{result.k} and MRR over the first {result.k} hits, "
                            f"nDCG@{evaluation.NDCG_CUTOFF} graded (gain 2^grade - 1).")
        if summary:
            headers, rows = evaluation.summary_table(summary, result.k)
            self.stdout.write(format_table(headers, rows))
        for mode, note in result.notes.items():
            if mode not in result.skipped:
                self.stdout.write(f"{mode}: {note}.")
        for mode, reason in result.skipped.items():
            self.stdout.write(f"{mode}: skipped, {reason}.")
        failed = [r for r in result.results if r.error]
        for r in failed[:10]:
            self.stdout.write(f"{r.mode}: line {r.judgment.line} {r.judgment.query!r} failed: {r.error}")
        if per_query:
            self.print_per_query(result)

    def print_per_query(self, result):
        modes = evaluation.unique(r.mode for r in result.results)
        ndcg = {(r.mode, r.judgment.line): r.ndcg for r in result.results}
        rows = [[f"{j.line}: {j.query}", j.kind, *(f"{ndcg[(m, j.line)]:.3f}" for m in modes)]
                for j in result.judgments]
        self.stdout.write("")
        self.stdout.write(format_table(["query", "kind", *(f"nDCG@{evaluation.NDCG_CUTOFF} {m}" for m in modes)],
                                       rows))
        missed = [j for j in result.judgments if all(math.isclose(ndcg[(m, j.line)], 0.0) for m in modes)]
        if missed and modes:
            self.stdout.write(f"Found by no mode in the first {evaluation.NDCG_CUTOFF}: "
                              + "; ".join(f"line {j.line} {j.query!r}" for j in missed))
