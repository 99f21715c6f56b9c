"""The contract guard fails a suite that deletes or silently overrides a contract test."""

import pytest

from dgs_core.testing import VectorStoreContract

pytest_plugins = ["pytester"]


def run_guard(suite: type) -> None:
    suite().test_no_overrides_DO_NOT_OVERRIDE()


def test_guard_passes_for_an_untouched_suite():
    class Untouched(VectorStoreContract):
        pass

    run_guard(Untouched)


def test_guard_fails_when_a_contract_test_is_deleted():
    class Deleted(VectorStoreContract):
        test_upsert_then_count = None

    with pytest.raises(AssertionError, match="test_upsert_then_count was deleted"):
        run_guard(Deleted)


def test_guard_fails_when_a_contract_test_is_silently_overridden():
    class Silent(VectorStoreContract):
        def test_search_returns_best_first(self, store):
            pass

    with pytest.raises(AssertionError, match="test_search_returns_best_first was overridden"):
        run_guard(Silent)


def test_guard_fails_when_the_override_mark_has_no_reason():
    class Unexplained(VectorStoreContract):
        @pytest.mark.xfail
        def test_search_returns_best_first(self, store):
            pass

    with pytest.raises(AssertionError, match="test_search_returns_best_first was overridden"):
        run_guard(Unexplained)


@pytest.mark.parametrize("mark", [pytest.mark.xfail, pytest.mark.skip])
def test_guard_accepts_an_override_marked_with_a_reason(mark):
    class Declared(VectorStoreContract):
        @mark(reason="the engine cannot restrict by model")
        def test_models_restriction_returns_k_hits_when_other_models_dominate(self, store):
            pass

    run_guard(Declared)


def test_guard_runs_in_a_collected_suite(pytester):
    """End to end: pytest collects the guard with the suite and reports the broken contract."""
    pytester.makepyfile(
        """
        from dgs_core.testing import VectorStoreContract

        class TestBroken(VectorStoreContract):
            test_clear_of_models_keeps_other_models = None
        """
    )
    result = pytester.runpytest("-k", "DO_NOT_OVERRIDE", "-p", "no:django")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_clear_of_models_keeps_other_models was deleted*"])
