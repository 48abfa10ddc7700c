"""The options of ``pytest --modelcheck``: their registration, parsing and the `Settings` they give.

Each option has an ini twin (``modelcheck_seed = 3``); the command line wins. Paths on the
command line are relative to the invocation folder, ini paths to the ini file's folder.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..core.registry import CHECK_NAMES, CHECKS, applicable_checks
from ..core.spec import ModelSpec, unknown_check
from ..snapshot.check import CHECK_NAME as ARCHITECTURE  # the snapshot item, selectable with --modelcheck-checks
from ..snapshot.check import UPDATE_OPTION

__all__ = ["Settings", "SETTINGS_KEY", "ARCHITECTURE", "UPDATE_OPTION", "add_options", "read_settings", "display_path"]



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
        model_timeout: the seconds all checks of one model may take (None: the spec's, else no budget).
        snapshot_update: write new and changed architecture snapshots, delete orphaned ones.
        grade: (assignment file, submissions folder) to grade through pytest, or None.
        grade_out: where the grading outputs go (gradebook, results.json, feedback), or None.
        grade_scheduler: the Dask scheduler (``tcp://host:port``) to grade on, or None for the
            local warm pool.
        sequence_length: the length of synthetic inputs where a model's input length is None
            (over a spec's ``sequence_length``), or None for the length the model's layers need.
        mutants: add a ``mutants`` item per model: its checks on every mutant of the model.
    """

    enabled: bool = False
    seed: int = 0
    checks: tuple[str, ...] | None = None
    report_dir: Path | None = None
    steps: tuple[tuple[str, int], ...] = ()
    timeouts: tuple[tuple[str, float], ...] = ()
    model_timeout: float | None = None
    snapshot_update: bool = False
    grade: tuple[Path, Path] | None = None
    grade_out: Path | None = None
    grade_scheduler: str | None = None
    sequence_length: int | None = None
    mutants: bool = False

    def with_sequence_length(self, spec: ModelSpec) -> ModelSpec:
        """`spec` with the command line's sequence length, when one is given."""
        if self.sequence_length is None:
            return spec
        return dataclasses.replace(spec, sequence_length=self.sequence_length)

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
        """The checks to collect for `spec`: those that apply, narrowed by ``--modelcheck-checks``;
        a check that runs only on request (``save_load``) named there is added to a spec that does
        not list its checks (else ``--modelcheck-checks=save_load`` collected nothing, silently)."""
        names = applicable_checks(spec)
        if self.checks is None:
            return names
        asked = [name for name in self.checks if spec.checks is None and name in _ON_REQUEST and name not in names]
        return [name for name in names if name in self.checks] + asked


def display_path(path: str | Path, here: Path) -> str:
    """`path` relative to `here` (the invocation folder) when inside it, else absolute; ``/`` separators."""
    relative = os.path.relpath(path, here)
    return Path(path).as_posix() if relative.startswith("..") else Path(relative).as_posix()


# Checks that run only when asked for and need nothing beyond the model (matches_reference needs
# a reference solution, given by an assignment).
_ON_REQUEST = tuple(name for name, info in CHECKS.items() if not info.default and name != "matches_reference")

SETTINGS_KEY = pytest.StashKey[Settings]()


def add_options(parser: pytest.Parser) -> None:
    """Register every option, each with its ini twin."""
    group = parser.getgroup("modelcheck", "model checks for Keras models")
    options: list[tuple[str, str, str, dict[str, Any]]] = [
        ("--modelcheck", "modelcheck", "Collect and run model checks for reference models, "
         "spec files and @modelcheck.expect builders", {"action": "store_true"}),
        (UPDATE_OPTION, "modelcheck_snapshot_update", "Write new and changed architecture snapshots "
         "and delete snapshots of no declared model", {"action": "store_true"}),
        ("--modelcheck-grade", "modelcheck_grade", "Grade every submission in SUBMISSIONS_DIR against "
         "ASSIGNMENT.toml: one item per (student, check)",
         {"nargs": 2, "metavar": ("ASSIGNMENT.toml", "SUBMISSIONS_DIR")}),
        ("--modelcheck-grade-out", "modelcheck_grade_out", "Write the gradebook, results.json and "
         "feedback pages of --modelcheck-grade to this directory", {"metavar": "DIR"}),
        ("--modelcheck-mutants", "modelcheck_mutants", "Add a mutants item per model: mutate the model "
         "with common mistakes and require its checks to catch 95 percent of the mutants", {"action": "store_true"}),
        ("--modelcheck-grade-scheduler", "modelcheck_grade_scheduler", "Grade --modelcheck-grade's "
         "submissions on the Dask cluster of this scheduler (needs modelcheck[dask])",
         {"metavar": "tcp://HOST:PORT"}),
        ("--modelcheck-seed", "modelcheck_seed", "Seed for every model build and training run "
         "(default: 0)", {"metavar": "N"}),
        ("--modelcheck-checks", "modelcheck_checks", "Run only these checks, comma-separated, "
         f"out of {', '.join(CHECK_NAMES)}; one that runs on request only (save_load, learns_linear, ...) is "
         "added to every model whose spec does not list its checks", {"metavar": "NAMES"}),
        ("--modelcheck-report", "modelcheck_report", "Write the HTML report of the model checks "
         "to this directory", {"metavar": "DIR"}),
        ("--modelcheck-steps", "modelcheck_steps", "Step budget of the training checks: N for "
         "all, or CHECK=N,... for some", {"metavar": "BUDGET"}),
        ("--modelcheck-sequence-length", "modelcheck_sequence_length", "Length of synthetic inputs where a "
         "model's input length is None (default: what the model's layers need)", {"metavar": "N"}),
        ("--modelcheck-timeout", "modelcheck_timeout", "Timeout in seconds of each training "
         "check: S for all, or CHECK=S,... for some", {"metavar": "SECONDS"}),
        ("--modelcheck-model-timeout", "modelcheck_model_timeout", "Seconds all checks of one model may "
         "take; a check that would overrun them is skipped with its estimate", {"metavar": "SECONDS"}),
    ]
    for flag, dest, help_text, extra in options:
        group.addoption(flag, dest=dest, help=help_text, **extra)
        ini_type = "bool" if extra.get("action") == "store_true" else "args" if "nargs" in extra else "string"
        parser.addini(dest, help=help_text, type=ini_type, default={"bool": False, "args": []}.get(ini_type, ""))


def _option(config: pytest.Config, dest: str) -> Any:
    """The command-line value of `dest`, else its ini value."""
    value = config.getoption(dest)
    if value is None or value is False:
        value = config.getini(dest)
    return value


def _budgets(flag: str, text: str, convert: type) -> tuple[tuple[str, Any], ...]:
    """Parse ``"300"`` or ``"overfit_batch=300,loss_decrease=50"`` for the training checks."""
    training = [name for name, info in CHECKS.items() if info.trains]
    pairs: list[tuple[str, Any]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, raw = part.rpartition("=") if "=" in part else ("", "", part)
        names = [name.strip()] if sep else training
        for check in names:
            if check not in training:
                raise pytest.UsageError(
                    f"{flag}: {check!r} is not a training check; budgets apply to {', '.join(training)}; "
                    f"try {flag}={training[0]}={raw}")
        try:
            value = convert(raw)
        except ValueError:
            value = None
        if value is None or value <= 0:
            raise pytest.UsageError(f"{flag}: expected a positive {convert.__name__}, received {raw!r}; "
                                    f"try {flag}=300 or {flag}={training[0]}=300")
        pairs.extend((check, value) for check in names)
    return tuple(pairs)


def read_settings(config: pytest.Config) -> Settings:
    """The run's `Settings` from the command line and the ini file; `pytest.UsageError` when one is wrong."""
    raw_seed = str(_option(config, "modelcheck_seed") or "0")
    try:
        seed = int(raw_seed)
    except ValueError:
        raise pytest.UsageError(f"--modelcheck-seed: expected a whole number, received {raw_seed!r}; "
                                "try --modelcheck-seed=0") from None
    checks = None
    raw_checks = str(_option(config, "modelcheck_checks") or "")
    if raw_checks.strip():
        checks = tuple(name.strip() for name in raw_checks.split(",") if name.strip())
        unknown = [name for name in checks if name not in CHECKS and name != ARCHITECTURE]
        if unknown:
            raise pytest.UsageError(f"--modelcheck-checks: {unknown_check(unknown[0], (*CHECK_NAMES, ARCHITECTURE))}")
    raw_length = str(_option(config, "modelcheck_sequence_length") or "").strip()
    sequence_length = None
    if raw_length:
        sequence_length = int(raw_length) if raw_length.isdigit() else 0
        if sequence_length <= 0:
            raise pytest.UsageError(f"--modelcheck-sequence-length: expected a positive whole number, received "
                                    f"{raw_length!r}; try --modelcheck-sequence-length=64")
    model_timeout = None
    raw_timeout = str(_option(config, "modelcheck_model_timeout") or "").strip()
    if raw_timeout:
        try:
            model_timeout = float(raw_timeout)
        except ValueError:
            model_timeout = None
        if model_timeout is None or not model_timeout > 0:
            raise pytest.UsageError(f"--modelcheck-model-timeout: expected a positive number of seconds, "
                                    f"received {raw_timeout!r}; try --modelcheck-model-timeout=30")
    grade = _path_option(config, "modelcheck_grade")
    if grade is not None and len(grade) != 2:
        raise pytest.UsageError("modelcheck_grade: expected two paths, the assignment file and the "
                                "submissions folder; try modelcheck_grade = assignment.toml submissions/")
    return Settings(
        enabled=bool(_option(config, "modelcheck")),
        seed=seed,
        checks=checks,
        report_dir=_path_option(config, "modelcheck_report"),
        steps=_budgets("--modelcheck-steps", str(_option(config, "modelcheck_steps") or ""), int),
        timeouts=_budgets("--modelcheck-timeout", str(_option(config, "modelcheck_timeout") or ""), float),
        model_timeout=model_timeout,
        snapshot_update=bool(_option(config, "modelcheck_snapshot_update")),
        grade=(grade[0], grade[1]) if grade else None,
        grade_out=_path_option(config, "modelcheck_grade_out"),
        grade_scheduler=str(_option(config, "modelcheck_grade_scheduler") or "").strip() or None,
        sequence_length=sequence_length,
        mutants=bool(_option(config, "modelcheck_mutants")),
    )


def _path_option(config: pytest.Config, dest: str) -> Any:
    """A path option (or a list of them): command-line paths are relative to the invocation
    folder, ini paths to the ini file's folder; None when unset."""
    value = config.getoption(dest)
    base = config.invocation_params.dir
    if not value:
        value = config.getini(dest)
        base = config.inipath.parent if config.inipath else config.rootpath
    if not value:
        return None
    if isinstance(value, (list, tuple)):
        return [base / str(v) for v in value]
    return base / str(value)
