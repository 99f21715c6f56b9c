"""The base of every contract suite, with the guard that keeps suites whole."""

from __future__ import annotations

import pytest


def _marked(function, names: tuple[str, ...] = ("xfail", "skip")) -> bool:
    marks = getattr(function, "pytestmark", [])
    return any(m.name in names and m.kwargs.get("reason") for m in marks)


class ContractSuite:
    """Subclass a family's suite (never this class) and provide its backend fixture.

    A contract test may be overridden only to mark it ``@pytest.mark.xfail(reason=...)`` or
    ``@pytest.mark.skip(reason=...)``; a backend that cannot do something declares it in its
    ``capabilities`` and the suite skips the test, printing why.
    """

    def test_no_overrides_DO_NOT_OVERRIDE(self) -> None:
        """Fails if a subclass deleted a contract test or overrode one without an xfail/skip reason."""
        suites = [c for c in type(self).__mro__ if c.__module__.startswith("dgs_core.testing")]
        problems = []
        for suite in suites:
            for name, contract_test in vars(suite).items():
                if not name.startswith("test_") or name == "test_no_overrides_DO_NOT_OVERRIDE":
                    continue
                actual = getattr(type(self), name, None)
                if not callable(actual):
                    problems.append(f"{name} was deleted")
                elif actual is not contract_test and not _marked(actual):
                    problems.append(f"{name} was overridden without @pytest.mark.xfail(reason=...) or skip")
        assert not problems, f"{type(self).__name__} breaks the {suites[0].__name__} contract: " + "; ".join(problems)


def require(capabilities, capability: str, what: str) -> None:
    """Skip the calling test, saying why, unless ``capability`` is declared."""
    if capability not in capabilities:
        pytest.skip(f"backend does not declare the {capability!r} capability ({what})")
