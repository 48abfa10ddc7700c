"""The ``modelcheck`` fixture: run checks inside ordinary tests, with results in the report.

    def test_classifier(modelcheck):
        model = build_classifier()
        modelcheck.check(model, "output_shape", expected=(None, 10))
        result = modelcheck.evaluate(model, "param_count", total=266_610)
        assert result.received["total"] < 300_000

Every result is recorded under the test's id (``config.stash``), so the HTML report of
``--modelcheck-report`` shows it next to the collected model checks.
"""

from __future__ import annotations

from typing import Any, Sequence

import pytest

from ..core.errors import SpecError
from ..core.registry import CHECKS, CHECK_NAMES
from ..core.result import ERROR, FAILED, CheckFailed, CheckResult
from ..core.spec import ModelSpec, unknown_check
from .options import SETTINGS_KEY
from ..core.quiet import library_deprecations_quieted
from .results import RESULTS_KEY, Results

__all__ = ["ModelcheckFixture", "modelcheck_fixture"]


class ModelcheckFixture:
    """The checks of modelcheck, bound to one test so that their results are recorded."""

    def __init__(self, nodeid: str, results: Results, seed: int) -> None:
        self.nodeid = nodeid
        self.results = results
        self.seed = seed

    def evaluate(self, model: Any, check: str, /, **kwargs: Any) -> CheckResult:
        """Run `check` on `model` (a ``keras.Model`` or a builder) and return its result.

        Keyword arguments go to the check function, e.g. ``expected=(None, 10)`` for
        ``"output_shape"``. The result is recorded; the test does not fail by itself.
        """
        if check not in CHECKS:
            raise SpecError(unknown_check(check, CHECK_NAMES))
        kwargs.setdefault("seed", self.seed)
        with library_deprecations_quieted():
            result: CheckResult = CHECKS[check].function()(model, **kwargs)
        self.results.add(self.nodeid, result)
        return result

    def check(self, model: Any, check: str, /, **kwargs: Any) -> CheckResult:
        """Like `evaluate`, and fail the test with the check's message unless it passed or was skipped."""
        __tracebackhide__ = True
        result = self.evaluate(model, check, **kwargs)
        if result.status in (FAILED, ERROR):
            raise CheckFailed(result)
        return result

    def check_spec(self, spec: ModelSpec, *, checks: Sequence[str] | None = None) -> list[CheckResult]:
        """Run the checks of `spec` (all that apply, or `checks`); fail on the first that failed."""
        __tracebackhide__ = True
        from ..session.runner import run_spec

        with library_deprecations_quieted():
            results = run_spec(spec, checks=list(checks) if checks is not None else None, seed=self.seed)
        for result in results:
            self.results.add(self.nodeid, result, source=spec.source)
        for result in results:
            if result.status in (FAILED, ERROR):
                raise CheckFailed(result)
        return results


@pytest.fixture(name="modelcheck")
def modelcheck_fixture(request: pytest.FixtureRequest) -> ModelcheckFixture:
    """Run modelcheck's checks in a test; results reach ``--modelcheck-report``."""
    config = request.config
    return ModelcheckFixture(request.node.nodeid, config.stash[RESULTS_KEY], config.stash[SETTINGS_KEY].seed)
