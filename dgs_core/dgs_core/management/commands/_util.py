"""Shared helpers of dgs management commands."""

from __future__ import annotations

import shutil
import textwrap

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


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("%s"))
    except ValueError:
        return False
    return True


def _wrap_list(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken after the commas of a list (then at spaces)."""
    lines: list[str] = []
    for item in text.split(", "):
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += ", " + item
        elif lines:
            lines[-1] += ","
            lines.append(item)
        else:
            lines.append(item)
    return [part for line in lines for part in (textwrap.wrap(line, width) or [""])]


def format_table(headers: list[str], rows: list[list[object]], width: int | None = None) -> str:
    """A plain aligned text table: columns of numbers right-aligned, text left-aligned. A text last column
    that would run past ``width`` (default: the terminal's, 100 when unknown) wraps onto indented lines,
    between the items of a comma-separated list when it is one."""
    body = [[str(c) for c in row] for row in rows]
    numeric = [bool(body) and all(_is_number(row[i]) or row[i] in ("", "-") for row in body)
               for i in range(len(headers))]
    widths = [max(len(row[i]) for row in [headers, *body]) for i in range(len(headers))]
    indent = sum(widths[:-1]) + 2 * (len(headers) - 1)
    width = width or shutil.get_terminal_size((100, 24)).columns
    if not numeric[-1] and indent + widths[-1] > width:
        widths[-1] = max(len(headers[-1]), width - indent, 20)

    def line(cells: list[str]) -> list[str]:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells[:-1], widths, numeric, strict=False)]
        last = _wrap_list(cells[-1], widths[-1])
        last = [c.rjust(widths[-1]) if numeric[-1] else c for c in last]
        return ["  ".join([*parts, last[0]]).rstrip()] + [" " * indent + more for more in last[1:]]

    lines = line(headers) + ["  ".join("-" * w for w in widths)]
    for row in body:
        lines += line(row)
    return "\n".join(lines)
