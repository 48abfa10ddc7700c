"""``--modelcheck-report DIR``: the HTML report of the run, written once where all results are.

Registered by the plugin when a report directory is set. Workers only record plain results
(`modelcheck.plugin.results.Results`, with each model's layer table on its first record); the
``pytest_modelcheck_results`` hook runs on the xdist controller (or the only process), merges
them into one `modelcheck.report.Run` and renders it. The terminal summary prints the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..plugin.options import Settings, display_path
from ..plugin.results import Results

__all__ = ["ModelcheckReport"]


class ModelcheckReport:
    """Writes the report at the end of the run and names it in the terminal summary."""

    def __init__(self, settings: Settings) -> None:
        assert settings.report_dir is not None
        self.settings = settings
        self.written: Path | None = None

    def run_options(self, config: pytest.Config) -> dict[str, Any]:
        """The options that shaped the run, as JSON-able values for the report's header."""
        settings = self.settings
        options: dict[str, Any] = {"checks": list(settings.checks) if settings.checks else "all that apply"}
        if settings.steps:
            options["steps"] = dict(settings.steps)
        if settings.timeouts:
            options["timeouts"] = dict(settings.timeouts)
        if settings.snapshot_update:
            options["snapshot_update"] = True
        workers = getattr(config.option, "numprocesses", None)
        if workers:
            options["workers"] = workers
        return options

    def pytest_modelcheck_results(self, config: pytest.Config, results: Results) -> None:
        from . import Run, entries_from_records, render_report

        args = " ".join(config.invocation_params.args)
        run = Run(models=entries_from_records(results.records), seed=self.settings.seed,
                  options=self.run_options(config), command=f"pytest {args}".strip())
        assert self.settings.report_dir is not None
        self.written = render_report(run, self.settings.report_dir)

    @pytest.hookimpl(trylast=True)  # after the per-check counts
    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if self.written is None:
            return
        terminalreporter.write_line(f"modelcheck report: {display_path(self.written, config.invocation_params.dir)}")
