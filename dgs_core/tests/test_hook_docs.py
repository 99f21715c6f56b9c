"""docs/plugin_hooks.md and dgs_core.hookspecs stay in step: every hook documented, no phantom hooks."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from dgs_core import base, hookspecs

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"
HOOK_PAGES = ("plugin_hooks.md", "writing_plugins.md")
IN_MONOREPO = (REPO_ROOT / "dgs_core" / "pyproject.toml").is_file() and (REPO_ROOT / "plugins").is_dir()

if not DOCS.is_dir() and not IN_MONOREPO:
    pytest.skip(
        f"no docs folder at {DOCS}: dgs-core is installed without the monorepo, whose docs/ these tests check",
        allow_module_level=True,
    )

# A hook is named either with its argument list or as a registration hook; other dgs_ words are packages.
HOOK_MENTION = re.compile(r"\bdgs_[a-z0-9_]+(?=\()|\bdgs_register_[a-z0-9_]+")
FIRSTRESULT_LINE = re.compile(r"\*\*firstresult:\*\* (yes|no)\b")

SPECS = {
    name: function
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("dgs_") and hasattr(function, "dgs_spec")
}
BASE_CLASSES = (
    base.Embedder,
    base.VectorStore,
    base.Reranker,
    base.ConversationMemory,
    base.Transport,
    base.StreamFormat,
)


def signature_of(name: str) -> str:
    """The form the docs write a hook in: ``name(arg, arg)`` with the spec's real parameter names."""
    return f"{name}({', '.join(inspect.signature(SPECS[name]).parameters)})"


def read_page(name: str) -> str:
    path = DOCS / name
    assert path.is_file(), f"{path} is missing; it documents the plugin hooks."
    return path.read_text(encoding="utf-8")


def hook_section(page: str, name: str) -> str:
    """The text under the ``### `name(...)` `` heading, up to the next heading."""
    match = re.search(rf"^### `{re.escape(signature_of(name))}`\n(.*?)(?=^#)", page + "\n#", re.S | re.M)
    assert match, f"docs/plugin_hooks.md has no heading ### `{signature_of(name)}`"
    return match.group(1)


def test_hookspecs_are_found():
    # Guards the discovery above: an empty SPECS would make every other test pass vacuously.
    assert "dgs_register_vector_stores" in SPECS and "dgs_build_text" in SPECS


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hookspec_is_documented_with_its_signature(name):
    page = read_page("plugin_hooks.md")
    assert f"`{signature_of(name)}`" in page, (
        f"docs/plugin_hooks.md does not document `{signature_of(name)}`; "
        f"add a ### heading for it (the signature must match dgs_core/hookspecs.py)."
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_firstresult_is_documented_correctly(name):
    firstresult = bool(SPECS[name].dgs_spec.get("firstresult"))
    section = hook_section(read_page("plugin_hooks.md"), name)
    found = FIRSTRESULT_LINE.search(section)
    assert found, f"the section of {name} in docs/plugin_hooks.md lacks a '**firstresult:** yes|no' line"
    expected = "yes" if firstresult else "no"
    assert found.group(1) == expected, f"{name} is firstresult={firstresult}; the docs say {found.group(1)}"


@pytest.mark.parametrize("page_name", HOOK_PAGES)
def test_docs_mention_no_unknown_hook(page_name):
    mentioned = set(HOOK_MENTION.findall(read_page(page_name)))
    unknown = sorted(mentioned - set(SPECS))
    assert not unknown, f"docs/{page_name} mentions hooks that dgs_core/hookspecs.py does not define: {unknown}"


def public_members(cls: type) -> list[str]:
    """Methods, properties and class attributes a backend author implements or may use."""
    return sorted(name for name in vars(cls) if not name.startswith("_"))


@pytest.mark.parametrize("cls", BASE_CLASSES, ids=lambda cls: cls.__name__)
def test_base_classes_are_documented_with_their_members(cls):
    page = read_page("plugin_hooks.md")
    assert f"### `{cls.__name__}`" in page, f"docs/plugin_hooks.md has no section for dgs_core.base.{cls.__name__}"
    section = page.split(f"### `{cls.__name__}`", 1)[1].split("\n### ", 1)[0]
    assert set(cls.__abstractmethods__) <= set(public_members(cls))
    missing = [name for name in public_members(cls) if not re.search(rf"`{name}\b", section)]
    assert not missing, f"the {cls.__name__} section of docs/plugin_hooks.md does not document: {missing}"
