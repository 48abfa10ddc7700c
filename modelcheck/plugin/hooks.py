"""The hooks of the pytest plugin: options, configuration, the run's end, and the terminal summary.

``pytest`` alone pays only for this module and its options: the collection hooks
(`modelcheck.plugin.sources.ModelcheckCollection`) are registered when ``--modelcheck`` (or
``modelcheck = true`` in the ini file) is on, and Keras is imported by the first check item
that runs.

Other parts plug in through the hooks of `ModelcheckHookspecs`:

- ``pytest_modelcheck_model_items(node)``: extra items for one model (architecture snapshots);
- ``pytest_modelcheck_results(config, results)``: every result of the run, once, on the xdist
  controller or the only process (HTML report, gradebook).

Every part puts what the controller needs into the run's one `Results`; xdist workers send it
under one ``workeroutput`` key and `ModelcheckXdist` merges it (see `modelcheck.plugin.results`).
"""

from __future__ import annotations

import importlib.metadata
import os
from typing import Any

import pytest

from ..core.environment import BACKEND_PACKAGES, keras_backend
from ..core.registry import CHECK_NAMES
from .nodes import MARKER, ModelCollector
from .options import SETTINGS_KEY, add_options, display_path, read_settings
from .results import RESULTS_KEY, WORKEROUTPUT_KEY, Results
from .sources import ModelcheckCollection

__all__ = [
    "ModelcheckHookspecs",
    "ModelcheckXdist",
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
]

KNOWN_FAULT = "known fault"


class ModelcheckHookspecs:
    """Hooks that other modelcheck modules (snapshot, report, grading) implement."""

    @pytest.hookspec
    def pytest_modelcheck_model_items(self, node: ModelCollector) -> list[pytest.Item]:
        """Extra items for the model of `node` (a `modelcheck.plugin.nodes.ModelCollector`).

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
    add_options(parser)


def _register_hypothesis_profiles(profile: str | None) -> None:
    """Register modelcheck's Hypothesis profiles when ``--hypothesis-profile`` names one, before
    Hypothesis' own plugin loads it in its ``pytest_configure`` (an unregistered name is an
    INTERNALERROR there); Hypothesis is imported only then."""
    if not (isinstance(profile, str) and profile.startswith("modelcheck-")):
        return
    from ..strategies.profiles import register_profiles

    register_profiles()


@pytest.hookimpl(tryfirst=True)  # before pytest's own implementation imports the initial conftest.py files
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Refuse to grade when pytest is about to import a ``conftest.py`` from the submissions
    folder: it would run a student's code in this process, as the grader's user, unconfined."""
    namespace = early_config.known_args_namespace
    _register_hypothesis_profiles(getattr(namespace, "hypothesis_profile", None))
    grade = getattr(namespace, "modelcheck_grade", None)
    if not grade or getattr(namespace, "noconftest", False):
        return
    from ..grading.pytest_plugin import startup_conftests

    here = early_config.invocation_params.dir
    found = startup_conftests(here / grade[1], getattr(namespace, "file_or_dir", None) or [], here)
    if found:
        shown = ", ".join(display_path(path, here) for path in found[:3]) + (" ..." if len(found) > 3 else "")
        raise pytest.UsageError(
            f"--modelcheck-grade: pytest would import {shown} from the submissions folder as it starts, running a "
            "student's code in this process, outside any sandbox. pytest imports the conftest.py of the folder it "
            "starts in (or of the paths given), of their test* subfolders and of the folders above them: run pytest "
            "from a folder that does not hold the submissions (nor is inside them), give the submissions folder a "
            "name that does not start with 'test', or add --noconftest")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a model check collected by --modelcheck")
    settings = read_settings(config)
    config.stash[SETTINGS_KEY] = settings
    config.stash[RESULTS_KEY] = Results()
    xdist = config.pluginmanager.hasplugin("xdist")
    if settings.enabled or settings.grade:
        # TensorFlow's INFO/WARNING lines would bury the report, and its ERROR "failed call to cuInit:
        # CUDA error" on a machine without a GPU landed in the first failing item's captured stderr (TF's
        # C++ errors that matter reach Python as exceptions); a value the user set wins
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # summary lines are written last-registered first: snapshots, then grading, then the report's path
    if settings.report_dir is not None:
        from ..report.pytest_plugin import ModelcheckReport

        config.pluginmanager.register(ModelcheckReport(settings), "modelcheck-report")
    if settings.grade:
        from ..grading.pytest_plugin import ModelcheckGrading

        config.pluginmanager.register(ModelcheckGrading(settings), "modelcheck-grading")
    if settings.enabled:
        config.pluginmanager.register(ModelcheckCollection(config.rootpath), "modelcheck-collection")
        from ..snapshot.pytest_plugin import ModelcheckSnapshots

        config.pluginmanager.register(ModelcheckSnapshots(settings), "modelcheck-snapshots")
        if settings.mutants:
            from ..mutants.pytest_plugin import ModelcheckMutants

            config.pluginmanager.register(ModelcheckMutants(settings), "modelcheck-mutants")
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
    backend = keras_backend()
    framework = (f"tensorflow {_version('tensorflow', 'tensorflow-cpu', 'tf-nightly')}" if backend == "tensorflow"
                 else f"{backend} {_version(BACKEND_PACKAGES.get(backend, backend))}")
    return f"modelcheck {_version('modelcheck')}, keras {_version('keras')} on {framework}, seed {settings.seed}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A skipped check is told at its model, not at the line of modelcheck that raised the skip:
    ``-rs`` printed ``SKIPPED [1] .../modelcheck/plugin/nodes.py:164: <reason>`` and never said which
    model or check it was (reasons alike were even folded into one line)."""
    report = (yield).get_result()
    if (report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker(MARKER)
            and isinstance(report.longrepr, tuple)):
        _, _, reason = report.longrepr
        reason = str(reason).removeprefix("Skipped: ")
        check = item.nodeid.split("::", 1)[-1]
        report.longrepr = (os.fspath(item.path), None, f"Skipped: {check}: {reason}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    results = config.stash.get(RESULTS_KEY, None)
    if results is None:
        return
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller merges and reports
        workeroutput[WORKEROUTPUT_KEY] = results.to_wire()
        return
    config.hook.pytest_modelcheck_results(config=config, results=results)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, None)
    if results is None or not results.records or hasattr(config, "workerinput"):
        return
    terminalreporter.write_sep("-", "modelcheck summary")
    counts = results.counts_by_check(known_fault_status=KNOWN_FAULT)
    width = max(len(name) for name in counts)
    order = {name: i for i, name in enumerate(CHECK_NAMES)}  # xdist workers report in any order
    for check, per_status in sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0])):
        text = ", ".join(f"{n} {status}" for status, n in per_status.items())
        terminalreporter.write_line(f"{check:<{width}}  {text}")


class ModelcheckXdist:
    """xdist-only: the controller merges what every worker sent on the one results channel."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        node.config.stash[RESULTS_KEY].merge(getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY))
