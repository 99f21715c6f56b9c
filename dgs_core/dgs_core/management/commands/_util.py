"""Shared helpers of dgs management commands."""

from __future__ import annotations

from django.core.management import CommandError

from dgs_core.conf import ModelConfig, get_config
from dgs_core.exceptions import GraphSearchError, UnknownModelError
from dgs_core.indexing.indexer import model_config_for


def selected_models(labels: list[str] | None) -> list[ModelConfig]:
    """The configured models named by ``--model`` (all when none), or a CommandError naming the bad one."""
    try:
        config = get_config()
        if not labels:
            return list(config.models)
        return [model_config_for(label, config) for label in labels]
    except UnknownModelError as exc:
        raise CommandError(f"--model: {exc}") from exc
    except GraphSearchError as exc:
        raise CommandError(str(exc)) from exc


def format_table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain aligned text table (first column left-aligned, numbers right-aligned)."""
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
