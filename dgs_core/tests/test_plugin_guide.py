"""docs/writing_plugins.md runs: its example plugin, extracted file by file, passes the contract it documents.

The guide's code blocks that are files of the example start with a comment naming the file
(``# dgs_example_store/store.py``; ``(continued)`` appends to it). They are written into a temporary
package, the plugin module is registered, and the guide's own contract test file runs with pytest; the
guide states what that run prints, and the run must print the same counts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dgs_core.plugins import PluginRegistry

pytest_plugins = ["pytester"]

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing_plugins.md"
if not GUIDE.is_file():
    pytest.skip(f"no {GUIDE}: dgs-core is installed without the monorepo, whose docs/ this test runs",
                allow_module_level=True)

FILE_BLOCK = re.compile(r"^```python\n# (?P<path>[\w/]+\.py)(?P<continued> \(continued\))?[^\n]*\n(?P<code>.*?)^```",
                        re.M | re.S)
#: The example distribution's files; other named blocks (``settings.py``) are fragments of a project.
EXAMPLE_FILES = ("dgs_example_store/", "tests/")
STATED_RUN = re.compile(r"^\$ pytest -q tests\n(?P<summary>.+)$", re.M)


def guide_files() -> dict[str, str]:
    """``{relative path: source}`` of the example's files, in the order the guide gives them."""
    files: dict[str, str] = {}
    for block in FILE_BLOCK.finditer(GUIDE.read_text("utf-8")):
        path = block["path"]
        if not path.startswith(EXAMPLE_FILES):
            continue
        assert bool(block["continued"]) == (path in files), f"{path} is given twice, or continued before it is given"
        files[path] = files.get(path, "") + block["code"]
    return files


@pytest.fixture
def example(pytester):
    """The example distribution's files, written into pytester's directory and importable."""
    files = guide_files()
    assert {"dgs_example_store/plugin.py", "dgs_example_store/store.py", "tests/test_store_contract.py"} <= set(files)
    for path, code in {"dgs_example_store/__init__.py": "", **files}.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code, encoding="utf-8")
    pytester.syspathinsert()
    return files


def test_the_guide_plugin_registers_its_store(example):
    import dgs_example_store.plugin
    from dgs_example_store.store import JsonFileStore

    registry = PluginRegistry(autoload=False)
    registry.register_plugin(dgs_example_store.plugin, name="example_store")  # validates every hookimpl
    assert registry.get_class("vector_store", "json-file") is JsonFileStore


def test_the_guide_store_passes_the_contract_as_the_guide_says(example, pytester):
    stated = STATED_RUN.search(GUIDE.read_text("utf-8"))
    assert stated, "docs/writing_plugins.md no longer shows what `$ pytest -q tests` prints"
    result = pytester.runpytest("-q", "-p", "no:django", "-p", "no:cacheprovider", "tests")
    actual = {outcome: n for outcome, n in result.parseoutcomes().items() if outcome != "warnings"}
    assert actual.get("passed") and not {"failed", "errors"} & actual.keys(), result.stdout.str()
    assert actual == pytest.RunResult.parse_summary_nouns([stated["summary"]]), (
        f"docs/writing_plugins.md says `pytest -q tests` prints {stated['summary']!r}, but its example gives "
        f"{actual}: update the console block of section 6 (or the example)."
    )
