"""The nodes of ``pytest --modelcheck``: one collector per model, one item per (model, check).

    <a source file> (modelcheck.plugin.sources)  modelcheck.toml, pyproject.toml, reference_models/x.py
      ModelCollector (pytest.Collector)          one model: builds it once, releases it on teardown
        CheckItem (pytest.Item)                  one check on that model: ``...::fashion_mlp::param_count``

A `ModelCollector` can also sit directly in a test module (builders decorated with
``@modelcheck.expect``). The model is built on the first item that needs it and dropped in the
collector's teardown, which pytest runs as soon as the next item belongs to another model; memory
stays flat however many models a run checks.

Run-wide state (`Settings`, `Results`) lives in ``config.stash``. No Keras import at import
time: `modelcheck.session.runner` is imported when the first item runs.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Iterable

import pytest

from ..core.errors import SpecError
from ..core.registry import applicable_checks
from ..core.result import ERROR, FAILED, SKIPPED, CheckResult
from ..core.spec import ModelSpec
from .options import SETTINGS_KEY
from .results import RESULTS_KEY
from ..core.quiet import library_deprecations_quieted

__all__ = ["MARKER", "ModelcheckFailure", "ModelCollector", "CheckItem"]

MARKER = "modelcheck"


class ModelcheckFailure(Exception):
    """A check failed or the user's code raised: the item shows `result.describe()` only, or, when
    the model could not be built and item `shown_in` of the same model already showed why, the
    error's first line and where the rest is (not the same wall of text once per check)."""

    def __init__(self, result: CheckResult, shown_in: str | None = None) -> None:
        text = result.describe() if shown_in is None else (
            f"{result.message.splitlines()[0]}\n(the model could not be built; the whole error is shown under "
            f"{shown_in})")
        super().__init__(text)
        self.result = result


class ModelCollector(pytest.Collector):
    """One model and the checks selected for it; owns the model while its items run."""

    def __init__(self, *, spec: ModelSpec, base_dir: Path | None = None, known_fault: str | None = None,
                 fault_pattern: str | None = None, fault_exception: tuple[str, str] | None = None,
                 **kwargs: Any) -> None:
        """`known_fault` is the erratum of a model kept as a document printed it. A check whose
        failure shows that erratum is reported as an expected failure that names it: a failure
        whose message matches `fault_pattern`, or an error raised by the user's code with the
        exception type and message (a regular expression) of `fault_exception`. Any other
        failure is a failure."""
        super().__init__(**kwargs)
        self.spec = spec
        self.base_dir = base_dir
        self.known_fault = known_fault
        self.fault_pattern = fault_pattern
        self.fault_exception = fault_exception
        self._session: Any = None  # modelcheck.session.runner.ModelSession, created on first use
        self._layers_recorded = False
        self._build_error_shown_in: str | None = None  # the item that showed why the model cannot be built

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        settings = self.config.stash[SETTINGS_KEY]
        for check in settings.selected_checks(self.spec):
            yield CheckItem.from_parent(self, name=check, check=check)
        for extra in self.ihook.pytest_modelcheck_model_items(node=self):
            yield from extra

    def is_known_fault(self, result: CheckResult) -> bool:
        """True when `result` is the documented fault of this model showing up."""
        if self.known_fault is None or result.status not in (FAILED, ERROR):
            return False
        if self.fault_exception is not None:
            exception, message = self.fault_exception
            raised = result.details.get("exception")
            return (result.status == ERROR and raised == exception
                    and re.search(message, str(result.details.get("exception_message", ""))) is not None)
        return self.fault_pattern is not None and re.search(self.fault_pattern, result.message) is not None

    def model_session(self) -> Any:
        """The `modelcheck.session.runner.ModelSession` shared by this model's items (created on first use)."""
        if self._session is None:
            from ..session.runner import ModelSession

            settings = self.config.stash[SETTINGS_KEY]
            self._session = ModelSession(settings.with_sequence_length(self.spec), seed=settings.seed,
                                         overrides=settings.overrides(), base_dir=self.base_dir,
                                         model_timeout=settings.model_timeout)
        return self._session

    def model(self) -> Any:
        """The built ``keras.Model``, shared with the check items (raises `UserCodeError`)."""
        return self.model_session().model()

    def run_check(self, check: str) -> CheckResult:
        """Run `check` on this node's model, building the model on first use."""
        result: CheckResult = self.model_session().run(check)
        if result.model is None:
            result.model = self.spec.id
        return result

    def build_error_shown_in(self, check: str, nodeid: str) -> str | None:
        """When the model could not be built: the item that already showed why (None the first
        time, which `nodeid`, of `check`, then becomes). None when the model was built."""
        if self._session is None or self._session.build_failure(check) is None:
            return None
        shown, self._build_error_shown_in = self._build_error_shown_in, self._build_error_shown_in or nodeid
        return shown

    def record(self, nodeid: str, result: CheckResult) -> None:
        """Add `result` to the run's results; the model's first record carries the layer table
        for the report (computed once, from the shared build, only when a report is written)."""
        extra: dict[str, Any] = {"expected_total_params": self.spec.total_params}
        if not self._layers_recorded and self.config.stash[SETTINGS_KEY].report_dir is not None:
            self._layers_recorded = True
            if self._session is not None and self._session.build_failure(result.check) is None:
                from ..report.layers import layer_rows

                extra["layers"] = layer_rows(self._session.model(), self.spec)
        self.config.stash[RESULTS_KEY].add(nodeid, result, source=self.spec.source,
                                           known_fault=self.known_fault, **extra)

    def teardown(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            session.close()


class CheckItem(pytest.Item):
    """One check on one model; its failure text is the check's message and hint."""

    def __init__(self, *, check: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.add_marker(MARKER)

    @property
    def model_node(self) -> ModelCollector:
        assert isinstance(self.parent, ModelCollector)
        return self.parent

    def evaluate(self) -> CheckResult:
        """Run this item's check on the node's shared model."""
        return self.model_node.run_check(self.check)

    def is_known_fault(self, result: CheckResult) -> bool:
        """True when `result` is the node's documented fault (reported as xfail)."""
        return self.model_node.is_known_fault(result)

    def runtest(self) -> None:
        node = self.model_node
        with library_deprecations_quieted():
            result = self.evaluate()
        if result.status == FAILED and result.details.get("applies") is False \
                and self.check not in applicable_checks(node.spec):
            # an on-request check that --modelcheck-checks added to every model, on one it does not apply to
            result = dataclasses.replace(result, status=SKIPPED, message=f"not applicable: {result.message}")
        node.record(self.nodeid, result)
        if result.status == SKIPPED:
            pytest.skip(result.message)
        if self.is_known_fault(result):
            pytest.xfail(f"known fault: {node.known_fault} ({result.message})")
        if result.status in (FAILED, ERROR):
            raise ModelcheckFailure(result, shown_in=node.build_error_shown_in(self.check, self.nodeid))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, ModelcheckFailure) and excinfo.value.result.details.get("internal"):
            # modelcheck's own bug: its traceback is what the report needs
            return f"{excinfo.value}\n{excinfo.value.result.details.get('traceback', '')}".rstrip()
        if isinstance(excinfo.value, (ModelcheckFailure, SpecError)):
            return str(excinfo.value)  # the check's own words; a traceback would only hide them
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"[modelcheck] {self.model_node.name}::{self.check}"
