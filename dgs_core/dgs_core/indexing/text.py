"""The two built-in text builders (see the ``dgs_build_text`` hook).

* classic: the values of every section, highest weight first, each section once: sections joined by
  ``". "``, a section's values by ``", "``. No labels. This is the text hits show. Weighted sections are
  read again only by the embedder and the keyword leg (:func:`weight_prefix`); text format 1 showed users
  the repetition ("Bossa. Bossa. ...").
* smart: one line per piece of meaning: a title line, then ``Label: values`` lines. A per-model template
  of ``SMART_INDEXING["TEMPLATES"]`` (keyed by model label, any case) chooses them::

      "TEMPLATES": {"music.Album": {
          "title": "title",                       # a path, or a list of paths joined with " - "
          "sections": {"By": "artist__name",      # label -> a path or a list of paths
                       "Tracks": ["track__name"]},
          "append_classic": True,                 # the default
      }}

  Values are whitespace-normalised when read, so a multi-line field stays on its own labelled line, and
  a section without values is left out. With ``sections``, paths the template does not name are left
  out of the labelled lines, so the classic text (every section, weighted) is appended after a blank
  line as a safety net unless ``"append_classic": False``. Without a template, the title is the first
  of name/title/headline/label/subject and every other section gets a line labelled with its field's
  verbose name (nothing is left out, so nothing is appended).

Switching smart indexing on or off needs no re-index to keep searching: searches use the stored vectors
and the same embedder; the builder only shapes the text of documents indexed from then on. Delta
indexing re-embeds each document whose text changed at its next save or ``build_search_index``, and the
mixed index stays one vector space in the meantime (smart texts carry the classic text).
"""

from __future__ import annotations

from typing import Any

from dgs_core.documents import Section

TITLE_FIELDS = ("name", "title", "headline", "label", "subject")
#: A section weighted w is read by the embedder min(round(w), 3) times in all (the extra times only by it).
MAX_REPEAT = 3
TEMPLATE_KEYS = frozenset({"title", "sections", "append_classic"})


def classic_text(sections: list[Section]) -> str:
    return ". ".join(section.text for section in sections)


def weight_prefix(sections: list[Section]) -> str:
    """What goes before a document's first chunk in the store, never shown: each section weighted 2 or more
    once more per extra unit of weight (``round(weight)`` times in all, at most :data:`MAX_REPEAT`), so the
    embedding leans towards it and the keyword leg counts its words more. Sections come heaviest first, so for
    the classic text the embedder reads ``"Bossa. Bossa. Bossa Nova. ..."`` while hits show
    ``"Bossa. Bossa Nova. ..."`` (:func:`dgs_core.indexing.chunking.shown_text` cuts the prefix off).

    Measured on two judged sets (docs/search_quality.md, "Text for the embedder"): without it, vector-mode
    name queries lose (Chinook 0.813 -> 0.759 nDCG@10) and keyword-mode ones more (0.997 -> 0.898).
    """
    return "".join(f"{s.text}. " * (min(MAX_REPEAT, max(1, round(s.weight))) - 1) for s in sections)


def _paths(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def smart_text(model_label: str, sections: list[Section], template: dict[str, Any]) -> str:
    by_path = {s.path: s for s in sections}
    title_paths = _paths(template.get("title")) or [next((p for p in TITLE_FIELDS if p in by_path), None)]
    lines = []
    used: set[str] = set(title_paths)
    title = " - ".join(by_path[p].text for p in title_paths if p in by_path)
    if title:
        lines.append(title)
    for label, paths in (template.get("sections") or {}).items():
        paths = _paths(paths)
        values = [v for p in paths if p in by_path for v in by_path[p].values]
        used.update(paths)
        if values:
            lines.append(f"{label}: {', '.join(dict.fromkeys(values))}")
    if not template.get("sections"):
        for section in sections:
            if section.path not in used:
                lines.append(f"{section.label}: {section.text}")
    text = "\n".join(lines)
    if template.get("append_classic", True) and template.get("sections"):
        text = f"{text}\n\n{classic_text(sections)}"
    return text


def template_problems(config: Any) -> list[Any]:
    """``manage.py check`` warnings for ``SMART_INDEXING["TEMPLATES"]``: unknown models and keys, bad shapes."""
    from dgs_core.conf import Problem

    problems = []
    where = "GRAPH_SEARCH['SMART_INDEXING']['TEMPLATES']"
    for label, template in config.smart_indexing.templates.items():
        if config.model_config(str(label)) is None:
            problems.append(Problem("dgs.W001", f"{where} has a template for {label!r}, which is not in "
                                                "GRAPH_SEARCH['MODELS'].", "Use the label of a configured model."))
        if not isinstance(template, dict):
            problems.append(Problem("dgs.E002", f"{where}[{label!r}] must be a dict with 'title' and 'sections'."))
            continue
        unknown = sorted(set(template) - TEMPLATE_KEYS)
        if unknown:
            problems.append(Problem("dgs.W001", f"{where}[{label!r}] has unknown keys {', '.join(unknown)}.",
                                    f"Known keys: {', '.join(sorted(TEMPLATE_KEYS))}."))
        sections = template.get("sections", {})
        if not isinstance(sections, dict) or not all(
            isinstance(p, str) or (isinstance(p, (list, tuple)) and all(isinstance(x, str) for x in p))
            for p in sections.values()
        ):
            problems.append(Problem("dgs.E002", f"{where}[{label!r}]['sections'] must map labels to a field path "
                                                "or a list of paths."))
    return problems
