"""The two built-in text builders (see the ``dgs_build_text`` hook).

* classic: the values of every section, highest weight first; a section weighted 2 or more is
  repeated (up to 3 times) so it pulls the embedding towards it. No labels.
* smart: a title line, then one ``Label: values`` line per section, grouped by a per-model template
  of ``SMART_INDEXING["TEMPLATES"]`` or by a heuristic (own name/title field first); the classic text
  is appended as a safety net unless the template sets ``"append_classic": False``.
"""

from __future__ import annotations

from typing import Any

from dgs_core.documents import Section

TITLE_FIELDS = ("name", "title", "headline", "label", "subject")


def classic_text(sections: list[Section]) -> str:
    parts = []
    for section in sections:
        repeat = min(3, max(1, round(section.weight)))
        parts.extend([section.text] * repeat)
    return ". ".join(parts)


def smart_text(model_label: str, sections: list[Section], template: dict[str, Any]) -> str:
    by_path = {s.path: s for s in sections}
    title_path = template.get("title") or next((p for p in TITLE_FIELDS if p in by_path), None)
    lines = []
    used: set[str] = set()
    if title_path in by_path:
        lines.append(by_path[title_path].text)
        used.add(title_path)
    for label, paths in (template.get("sections") or {}).items():
        paths = [paths] if isinstance(paths, str) else paths
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
