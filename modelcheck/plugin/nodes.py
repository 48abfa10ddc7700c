"""Collection for ``pytest --modelcheck``: one node per model, one item per (model, check).

    SpecFile / ReferenceFile (pytest.File)      modelcheck.toml, pyproject.toml, reference_models/x.py
      ModelNode (pytest.Collector)              one model: builds it once, releases it on teardown
        CheckItem (pytest.Item)                 one check on that model: ``...::fashion_mlp::param_count``

A `ModelNode` can also sit directly in a test module (builders decorated with
``@modelcheck.expect``). The model is built on the first item that needs it and dropped in the
node's teardown, which pytest runs as soon as the next item belongs to another model; memory
stays flat however many models a run checks.

Run-wide state (`Settings`, `Results`) lives in ``config.stash``. No Keras import at import
time: `modelcheck.session.runner` is imported when the first item runs.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pytest

from ..core.errors import SpecError
from ..core.registry import CHECKS, applicable_checks
from ..core.result import ERROR, FAILED, SKIPPED, CheckResult
from ..core.spec import ModelSpec

__all__ = [
    "Settings",
    "Results",
    "SETTINGS_KEY",
    "RESULTS_KEY",
    "ModelcheckFailure",
    "ModelNode",
    "CheckItem",
    "SpecFile",
    "ReferenceFile",
    "MARKER",
    "display_path",
]

MARKER = "modelcheck"


@dataclass(frozen=True)
class Settings:
    """The options of one ``pytest --modelcheck`` run, as plain values (xdist ships them).

    Attributes:
        enabled: True with ``--modelcheck``: model checks are collected.
        seed: seed for every model build and training run.
        checks: the subset of checks to run, or None for every check that applies.
        report_dir: where the HTML report goes (None: no report).
        steps: step budget per training check, as (check, steps) pairs.
        timeouts: timeout in seconds per training check, as (check, seconds) pairs.
        snapshot_update: write new and changed architecture snapshots, delete orphaned ones.
        grade: (assignment file, submissions folder) to grade through pytest, or None.
        grade_out: where the grading outputs go (gradebook, results.json, feedback), or None.
    """

    enabled: bool = False
    seed: int = 0
    checks: tuple[str, ...] | None = None
    report_dir: Path | None = None
    steps: tuple[tuple[str, int], ...] = ()
    timeouts: tuple[tuple[str, float], ...] = ()
    snapshot_update: bool = False
    grade: tuple[Path, Path] | None = None
    grade_out: Path | None = None

    def overrides(self) -> dict[str, dict[str, Any]]:
        """Keyword options per check that the command line imposes on every model.

        Imports the training checks (and Keras) when step budgets are set: call it at run time.
        """
        out: dict[str, dict[str, Any]] = {}
        for check, steps in self.steps:
            # overfit_batch stops early within a budget (max_steps); the others run `steps` steps
            parameters = inspect.signature(CHECKS[check].function()).parameters
            out.setdefault(check, {})["max_steps" if "max_steps" in parameters else "steps"] = steps
        for check, seconds in self.timeouts:
            out.setdefault(check, {})["timeout_s"] = seconds
        return out

    def selected_checks(self, spec: ModelSpec) -> list[str]:
        """The checks to collect for `spec`: those that apply, narrowed by ``--modelcheck-checks``."""
        names = applicable_checks(spec)
        if self.checks is not None:
            names = [name for name in names if name in self.checks]
        return names


class Results:
    """Every check result of the run, as JSON-able records (one per item or fixture call).

    A record is ``{"nodeid", "model", "source", "known_fault", "result": CheckResult.to_dict()}``
    plus any extra keys the caller gives (e.g. ``expected_total_params`` for the report).
    xdist workers send theirs on ``config.workeroutput``; the controller merges them with
    `extend`, so the report and the terminal summary see the whole run.
    """

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, nodeid: str, result: CheckResult, *, source: str | None = None,
            known_fault: str | None = None, **extra: Any) -> None:
        """Record `result` for the test `nodeid`; `extra` (JSON-able) is kept in the record."""
        self.records.append({
            "nodeid": nodeid,
            "model": result.model,
            "source": source,
            "known_fault": known_fault,
            "result": result.to_dict(),
            **extra,
        })

    def extend(self, records: Iterable[dict[str, Any]]) -> None:
        """Merge records received from another process."""
        self.records.extend(records)

    def results(self) -> list[CheckResult]:
        """The records as `CheckResult` objects."""
        return [CheckResult.from_dict(record["result"]) for record in self.records]

    def counts_by_check(self) -> dict[str, dict[str, int]]:
        """``{check: {status: count}}`` in the order checks first appear."""
        counts: dict[str, dict[str, int]] = {}
        for record in self.records:
            result = record["result"]
            per_status = counts.setdefault(result["check"], {})
            per_status[result["status"]] = per_status.get(result["status"], 0) + 1
        return counts


def display_path(path: str | Path, here: Path) -> str:
    """`path` relative to `here` (the invocation folder) when inside it, else absolute; ``/`` separators."""
    relative = os.path.relpath(path, here)
    return Path(path).as_posix() if relative.startswith("..") else Path(relative).as_posix()


SETTINGS_KEY = pytest.StashKey[Settings]()
RESULTS_KEY = pytest.StashKey[Results]()


class ModelcheckFailure(Exception):
    """A check failed or the user's code raised: the item shows `result.describe()` only."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.describe())
        self.result = result


class ModelNode(pytest.Collector):
    """One model and the checks selected for it; owns the model while its items run."""

    def __init__(self, *, spec: ModelSpec, base_dir: Path | None = None, known_fault: str | None = None,
                 fault_pattern: str | None = None, **kwargs: Any) -> None:
        """`known_fault` is the erratum of a model kept as a document printed it; a check that
        fails with a message matching `fault_pattern` (any failure when None) is then reported
        as an expected failure that names the erratum."""
        super().__init__(**kwargs)
        self.spec = spec
        self.base_dir = base_dir
        self.known_fault = known_fault
        self.fault_pattern = fault_pattern
        self._session: Any = None  # modelcheck.session.runner.ModelSession, created on first use
        self._layers_recorded = False

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
        return self.fault_pattern is None or re.search(self.fault_pattern, result.message) is not None

    def model_session(self) -> Any:
        """The `modelcheck.session.runner.ModelSession` shared by this model's items (created on first use)."""
        if self._session is None:
            from ..session.runner import ModelSession

            settings = self.config.stash[SETTINGS_KEY]
            self._session = ModelSession(self.spec, seed=settings.seed,
                                         overrides=settings.overrides(), base_dir=self.base_dir)
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
    def model_node(self) -> ModelNode:
        assert isinstance(self.parent, ModelNode)
        return self.parent

    def evaluate(self) -> CheckResult:
        """Run this item's check on the node's shared model."""
        return self.model_node.run_check(self.check)

    def is_known_fault(self, result: CheckResult) -> bool:
        """True when `result` is the node's documented fault (reported as xfail)."""
        return self.model_node.is_known_fault(result)

    def runtest(self) -> None:
        node = self.model_node
        result = self.evaluate()
        node.record(self.nodeid, result)
        if result.status == SKIPPED:
            pytest.skip(result.message)
        if self.is_known_fault(result):
            pytest.xfail(f"known fault: {node.known_fault} ({result.message})")
        if result.status in (FAILED, ERROR):
            raise ModelcheckFailure(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, (ModelcheckFailure, SpecError)):
            return str(excinfo.value)  # the check's own words; a traceback would only hide them
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"[modelcheck] {self.model_node.name}::{self.check}"


class _SpecSource(pytest.File):
    """A file that yields models; a `SpecError` in it is shown as a usage error, no traceback."""

    def model_nodes(self) -> Iterable[ModelNode]:
        raise NotImplementedError

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        try:
            return list(self.model_nodes())
        except SpecError as exc:
            raise pytest.UsageError(str(exc)) from None

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, pytest.UsageError):
            return f"usage error: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)


class SpecFile(_SpecSource):
    """``modelcheck.toml``, or a pyproject.toml with ``[tool.modelcheck]``."""

    def model_nodes(self) -> Iterable[ModelNode]:
        from .sources.specfile import load_spec_file

        display = self.path.relative_to(self.config.rootpath).as_posix() \
            if self.path.is_relative_to(self.config.rootpath) else str(self.path)
        for spec in load_spec_file(self.path, display=display):
            yield ModelNode.from_parent(self, name=spec.id, spec=spec, base_dir=self.path.parent)


class ReferenceFile(_SpecSource):
    """A module of the project's ``reference_models`` package: the catalogue entries it defines."""

    def __init__(self, *, entries: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries = entries

    def model_nodes(self) -> Iterable[ModelNode]:
        for entry in self.entries:
            pattern = entry.fault_pattern
            if entry.build_failure is not None:  # every check reports the build error
                pattern = rf"\b{re.escape(entry.build_failure.exception)}\b|{entry.build_failure.message}"
            yield ModelNode.from_parent(self, name=entry.id, spec=entry.spec,
                                        known_fault=entry.known_fault, fault_pattern=pattern)
