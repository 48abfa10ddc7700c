"""The pytest plugin (``pytest11`` entry point): options, hooks, and nothing else.

``pytest`` alone pays only for this module and its options: the collection hooks are registered
when ``--modelcheck`` (or ``modelcheck = true`` in the ini file) is on, and Keras is imported by
the first check item that runs. Collection nodes live in `modelcheck.plugin.nodes`, the fixture in
`modelcheck.plugin.fixture`.

Where ``pytest --modelcheck`` finds models (in the files and folders pytest collects):

1. the ``reference_models`` package at the rootdir: each module that defines catalogue entries
   gives ``reference_models/<module>.py::<model>::<check>`` items; a variant kept as a document
   printed it (``known_fault``) reports the failure that matches its erratum as xfail;
2. spec files: every ``modelcheck.toml``, and a pyproject.toml with ``[tool.modelcheck]``
   (``modelcheck.toml::<model>::<check>``); name one on the command line to check only it;
3. builders decorated with ``@modelcheck.expect`` in the Python modules pytest collects
   (``test_*.py`` per ``python_files``) and in ``modelcheck_*.py`` modules
   (``test_models.py::<function>::<check>``).

Other parts plug in through the hooks of `ModelcheckHookspecs`:

- ``pytest_modelcheck_model_items(node)``: extra items for one model (architecture snapshots);
- ``pytest_modelcheck_results(config, results)``: every result of the run, once, on the xdist
  controller or the only process (HTML report, gradebook).
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from .fixture import modelcheck_fixture  # noqa: F401  (registers the `modelcheck` fixture)
from .nodes import MARKER, RESULTS_KEY, SETTINGS_KEY, ModelNode, ReferenceFile, Results, Settings, SpecFile
from ..core.registry import CHECKS, CHECK_NAMES
from ..snapshot.check import UPDATE_OPTION

WORKEROUTPUT_KEY = "modelcheck_results"
REFERENCE_PACKAGE = "reference_models"
ARCHITECTURE = "architecture"  # the snapshot item, selectable with --modelcheck-checks
BUILDER_MODULES = "modelcheck_*.py"


class ModelcheckHookspecs:
    """Hooks that other modelcheck modules (snapshot, report, grading) implement."""

    @pytest.hookspec
    def pytest_modelcheck_model_items(self, node: ModelNode) -> list[pytest.Item]:
        """Extra items for the model of `node` (a `modelcheck.plugin.nodes.ModelNode`).

        Items created with ``SomeItem.from_parent(node, name=...)`` get ids like
        ``file::model::name`` and share the node's built model (``node.model()``), which is
        released when the node's last item has run.
        """

    @pytest.hookspec
    def pytest_modelcheck_results(self, config: pytest.Config, results: Results) -> None:
        """Called once per run, where the whole run's results are (never on an xdist worker)."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(ModelcheckHookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
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
        ("--modelcheck-seed", "modelcheck_seed", "Seed for every model build and training run "
         "(default: 0)", {"metavar": "N"}),
        ("--modelcheck-checks", "modelcheck_checks", "Run only these checks, comma-separated, "
         f"out of {', '.join(CHECK_NAMES)}", {"metavar": "NAMES"}),
        ("--modelcheck-report", "modelcheck_report", "Write the HTML report of the model checks "
         "to this directory", {"metavar": "DIR"}),
        ("--modelcheck-steps", "modelcheck_steps", "Step budget of the training checks: N for "
         "all, or CHECK=N,... for some", {"metavar": "BUDGET"}),
        ("--modelcheck-timeout", "modelcheck_timeout", "Timeout in seconds of each training "
         "check: S for all, or CHECK=S,... for some", {"metavar": "SECONDS"}),
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


def _settings(config: pytest.Config) -> Settings:
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
            raise pytest.UsageError(f"--modelcheck-checks: unknown check {unknown[0]!r}; "
                                    f"known checks are {', '.join(CHECK_NAMES)}, {ARCHITECTURE}")
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
        snapshot_update=bool(_option(config, "modelcheck_snapshot_update")),
        grade=(grade[0], grade[1]) if grade else None,
        grade_out=_path_option(config, "modelcheck_grade_out"),
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a model check collected by --modelcheck")
    settings = _settings(config)
    config.stash[SETTINGS_KEY] = settings
    config.stash[RESULTS_KEY] = Results()
    xdist = config.pluginmanager.hasplugin("xdist")
    if settings.enabled or settings.grade:
        # TensorFlow's start-up INFO/WARNING lines (oneDNN, CUDA) would bury the report; a
        # value the user set wins
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # summary lines are written last-registered first: snapshots, then grading, then the report's path
    if settings.report_dir is not None:
        from ..report.pytest_plugin import ModelcheckReport

        config.pluginmanager.register(ModelcheckReport(settings), "modelcheck-report")
    if settings.grade:
        from ..grading.pytest_plugin import GradingXdist, ModelcheckGrading

        grading = ModelcheckGrading(settings)
        config.pluginmanager.register(grading, "modelcheck-grading")
        if xdist:
            config.pluginmanager.register(GradingXdist(grading), "modelcheck-grading-xdist")
    if settings.enabled:
        config.pluginmanager.register(ModelcheckCollection(config.rootpath), "modelcheck-collection")
        from ..snapshot.pytest_plugin import ModelcheckSnapshots, SnapshotXdist

        snapshots = ModelcheckSnapshots(settings)
        config.pluginmanager.register(snapshots, "modelcheck-snapshots")
        if xdist:
            config.pluginmanager.register(SnapshotXdist(snapshots), "modelcheck-snapshots-xdist")
    if xdist:
        config.pluginmanager.register(ModelcheckXdist(), "modelcheck-xdist")


def _version(*distributions: str) -> str:
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def pytest_report_header(config: pytest.Config) -> str | None:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or not settings.enabled:
        return None
    return (f"modelcheck {_version('modelcheck')}, keras {_version('keras')}, "
            f"tensorflow {_version('tensorflow', 'tensorflow-cpu', 'tf-nightly')}, seed {settings.seed}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    results = config.stash.get(RESULTS_KEY, None)
    if results is None:
        return
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller merges and reports
        workeroutput[WORKEROUTPUT_KEY] = results.records
        return
    config.hook.pytest_modelcheck_results(config=config, results=results)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, None)
    if results is None or not results.records or hasattr(config, "workerinput"):
        return
    terminalreporter.write_sep("-", "modelcheck summary")
    counts: dict[str, dict[str, int]] = {}
    for record in results.records:
        result = record["result"]
        status = result["status"]
        if record.get("known_fault") and status in ("failed", "error"):
            status = "known fault"
        per_check = counts.setdefault(result["check"], {})
        per_check[status] = per_check.get(status, 0) + 1
    width = max(len(name) for name in counts)
    order = {name: i for i, name in enumerate(CHECK_NAMES)}  # xdist workers report in any order
    for check, per_status in sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0])):
        text = ", ".join(f"{n} {status}" for status, n in per_status.items())
        terminalreporter.write_line(f"{check:<{width}}  {text}")


class ModelcheckCollection:
    """Collection hooks, registered only when ``--modelcheck`` is on."""

    def __init__(self, rootpath: Path) -> None:
        package = rootpath / REFERENCE_PACKAGE
        self.reference_dir = package if (package / "__init__.py").is_file() else None
        self._reference_entries: dict[Path, list[Any]] | None = None

    def _entries_by_module(self) -> dict[Path, list[Any]]:
        """The catalogue entries of the rootdir's reference_models package, by defining file."""
        if self._reference_entries is None:
            assert self.reference_dir is not None
            root = self.reference_dir.parent  # entry.module is relative to the repository root
            if str(root) not in sys.path:  # the `pytest` script does not put the cwd on sys.path
                sys.path.insert(0, str(root))
            package = importlib.import_module(REFERENCE_PACKAGE)
            catalog = getattr(package, "catalog", None)
            self._reference_entries = {}
            for entry in catalog() if callable(catalog) else ():  # another project's package: no models
                self._reference_entries.setdefault((root / entry.module).resolve(), []).append(entry)
        return self._reference_entries

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        from .sources.specfile import is_spec_file

        if is_spec_file(file_path):
            return SpecFile.from_parent(parent, path=file_path)
        if file_path.suffix != ".py":
            return None
        if self.reference_dir is not None and self.reference_dir in file_path.parents:
            entries = self._entries_by_module().get(file_path.resolve())
            return ReferenceFile.from_parent(parent, path=file_path, entries=entries) if entries else None
        python_files = parent.config.getini("python_files")
        if parent.session.isinitpath(file_path):
            return None  # named on the command line: pytest's python plugin collects it already
        if fnmatch.fnmatch(file_path.name, BUILDER_MODULES) and not any(
                fnmatch.fnmatch(file_path.name, pattern) for pattern in python_files):
            return pytest.Module.from_parent(parent, path=file_path)
        return None

    def pytest_pycollect_makeitem(self, collector: pytest.Collector, name: str, obj: object) -> ModelNode | None:
        from .sources.declare import spec_of

        spec = spec_of(obj)
        if spec is None or not isinstance(collector, pytest.Module):
            return None
        if getattr(obj, "__module__", None) != collector.obj.__name__:
            return None  # imported from elsewhere: collected where it is defined
        return ModelNode.from_parent(collector, name=spec.id, spec=spec, base_dir=collector.path.parent)


class ModelcheckXdist:
    """xdist-only hooks (registered only when pytest-xdist is present)."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        records = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY, [])
        node.config.stash[RESULTS_KEY].extend(records)
