"""Architecture snapshots in ``pytest --modelcheck``: one ``architecture`` item per model.

Every declared model (reference models, spec files, ``@modelcheck.expect`` builders) gets
``<file>::<model>::architecture``, which compares the node's shared build with
``__modelcheck_snapshots__/<model>.json`` beside the file that declares it. A missing snapshot
fails with the hint to create it; ``--modelcheck-snapshot-update`` writes new and changed
snapshots.

Snapshots that belong to no declared model are reported at the end of the run (deleted with
the update flag), on the xdist controller only, from the models every worker collected, and
only in folders the run collected whole (a ``pytest path/one_file.py`` run cannot tell which
snapshots the folder's other files declare).

A model kept as a document printed it (known fault) is snapshotted like any other when it
builds: its builder is code that can change by accident too. When it cannot be built, its
architecture item xfails with the erratum, as its other checks do; a snapshot difference is
never taken for the known fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..plugin.nodes import CheckItem, ModelCollector
from ..plugin.options import SETTINGS_KEY, Settings, display_path
from ..plugin.results import RESULTS_KEY
from ..core.result import ERROR, CheckResult
from .check import CHECK_NAME as ARCHITECTURE

__all__ = ["ArchitectureItem", "ModelcheckSnapshots", "ARCHITECTURE"]

DECLARED = "snapshot_models"  # the rows of the run's results: [snapshot folder, model id, declaring file]


def snapshot_folder(node: ModelCollector) -> Path:
    """The folder of the file that declares the model (spec file, reference module, test module)."""
    return Path(node.path).resolve().parent


class ArchitectureItem(CheckItem):
    """Compares the node's model with its stored snapshot (or writes it with the update flag)."""

    def evaluate(self) -> CheckResult:
        from . import check_architecture, snapshot_path

        node = self.model_node
        session = node.model_session()
        failure = session.build_failure(self.check)
        if failure is not None:
            return failure
        settings = self.config.stash[SETTINGS_KEY]
        folder = snapshot_folder(node)
        rows = [row for row in self.config.stash[RESULTS_KEY].rows(DECLARED) if Path(row[0]) == folder]
        sharing = sorted({row[2] for row in rows if row[1] == node.spec.id})
        if len(sharing) > 1:
            return _shared_snapshot(node.spec.id, snapshot_path(folder, node.spec.id), sharing, self.config)
        declared = [row[1] for row in rows]
        return check_architecture(session.model(), update=settings.snapshot_update, model_id=node.spec.id,
                                  snapshot_file=snapshot_path(folder, node.spec.id), declared=declared)

    def is_known_fault(self, result: CheckResult) -> bool:
        # only "cannot be built" is the erratum; a snapshot difference is a change to look at
        return result.status == ERROR and super().is_known_fault(result)


class ModelcheckSnapshots:
    """Adds the architecture items, finds orphaned snapshots and reports what was written."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.orphans: list[Path] = []
        self.deleted: list[Path] = []

    def wanted(self) -> bool:
        return self.settings.checks is None or ARCHITECTURE in self.settings.checks

    def pytest_modelcheck_model_items(self, node: ModelCollector) -> list[pytest.Item]:
        node.config.stash[RESULTS_KEY].add_rows(
            DECLARED, [[str(snapshot_folder(node)), node.spec.id, str(Path(node.path).resolve())]])
        if not self.wanted():
            return []
        return [ArchitectureItem.from_parent(node, name=ARCHITECTURE, check=ARCHITECTURE)]

    @pytest.hookimpl(tryfirst=True)  # before the plugin's own sessionfinish runs the results hook
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config = session.config
        if hasattr(config, "workerinput"):
            return  # the controller searches, with every worker's declared models
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or config.getoption("lf", False):
            return  # an interrupted or --lf collection does not see every declared model
        self.find_orphans(config)

    def find_orphans(self, config: pytest.Config) -> None:
        from . import delete_snapshots, find_orphans

        whole = _whole_folders(config)
        by_folder: dict[Path, set[str]] = {}
        for folder, model, _ in config.stash[RESULTS_KEY].rows(DECLARED):
            by_folder.setdefault(Path(folder), set()).add(model)
        for folder, models in sorted(by_folder.items()):
            if any(folder == top or top in folder.parents for top in whole):
                self.orphans.extend(find_orphans(folder, models))
        if self.settings.snapshot_update and self.orphans:
            self.deleted = delete_snapshots(self.orphans)

    @pytest.hookimpl(trylast=True)  # after the per-check counts
    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if hasattr(config, "workerinput"):
            return
        lines = self.summary_lines(config)
        if lines:
            terminalreporter.write_sep("-", "modelcheck snapshots")
            for line in lines:
                terminalreporter.write_line(line)

    def summary_lines(self, config: pytest.Config) -> list[str]:
        """What the run wrote, updated, found orphaned or deleted, and the next step."""
        from . import UPDATE_OPTION

        here = config.invocation_params.dir
        written, updated = [], []
        for record in config.stash[RESULTS_KEY].records:
            result = record["result"]
            details = result.get("details") or {}
            if result["check"] != ARCHITECTURE or "snapshot_file" not in details:
                continue
            if details.get("snapshot_written"):
                written.append(details["snapshot_file"])
            elif details.get("snapshot_updated"):
                updated.append(details["snapshot_file"])
        lines = []
        if written or updated:
            lines.append(f"{_count(len(written), 'snapshot')} written, {len(updated)} updated")
            lines += [f"  written: {display_path(path, here)}" for path in sorted(written)]
            lines += [f"  updated: {display_path(path, here)}" for path in sorted(updated)]
        if self.deleted:
            lines.append(f"{_count(len(self.deleted), 'orphaned snapshot')} deleted (no declared model):")
            lines += [f"  deleted: {display_path(path, here)}" for path in self.deleted]
        elif self.orphans:
            verb = "belongs" if len(self.orphans) == 1 else "belong"
            lines.append(f"{_count(len(self.orphans), 'snapshot')} {verb} to no declared model; "
                         f"re-run pytest with {UPDATE_OPTION} to delete them:")
            lines += [f"  orphaned: {display_path(path, here)}" for path in self.orphans]
        return lines


def _shared_snapshot(model_id: str, path: Path, files: list[str], config: pytest.Config) -> CheckResult:
    """Models of one id declared in two files of one folder would share one snapshot file: each
    run (or each xdist worker) wrote one over the other, and the next run failed on the other."""
    from ..core.messages import mismatch

    here = config.invocation_params.dir
    shown = ", ".join(display_path(Path(file), here) for file in files)
    return CheckResult.error(
        ARCHITECTURE,
        mismatch("architecture snapshot", f"one model per snapshot file {path.name}",
                 f"{len(files)} models with the id {model_id!r}, declared in {shown}", at=f"model {model_id!r}",
                 note="their snapshots would be the same file, each written over the other's"),
        hint="Give each its own id: @modelcheck.expect(id=\"...\") on a builder, or id = \"...\" in a spec file's [[model]]",
        model=model_id, details={"snapshot_file": str(path)},
    )


def _whole_folders(config: pytest.Config) -> list[Path]:
    """Folders this run collected entirely: directory arguments (not ``file.py`` or ``::node`` ones)."""
    folders = []
    for arg in config.args:
        if "::" in arg:
            continue
        path = (config.invocation_params.dir / arg).resolve()
        if path.is_dir():
            folders.append(path)
    return folders


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
