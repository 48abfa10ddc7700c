"""The mutation run in words: a table of mutants, the survivors with what would catch each, the score."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .run import MutantResult, MutationReport

__all__ = ["suggestion", "format_report", "score_line"]

# What would catch a surviving mutant of each operator: (check that catches it, what to add).
_CATCHERS: dict[str, list[tuple[str, str]]] = {
    "units": [("param_count", "add layer_params to [expect] (and param_count to [points])")],
    "layer_dropped": [("param_count", "add layer_params to [expect] (and param_count to [points])")],
    "layer_added": [("param_count", "add layer_params to [expect] (and param_count to [points])")],
    "bias_removed": [("param_count", "add total_params or layer_params to [expect] (and param_count)")],
    "embedding_swapped": [("param_count", "add layer_params to [expect] (and param_count to [points])")],
    "padding": [("output_shape", "add layer_output_shapes to [expect]")],
    "strides": [("output_shape", "add layer_output_shapes to [expect]")],
    "hidden_activation": [("config_lint", "enable config_lint")],
    "dropout_keep_prob": [("config_lint", "enable config_lint")],
    "input_flattened": [("config_lint", "add input_shape to [expect] and enable config_lint")],
    "input_shape": [("config_lint", "add input_shape to [expect] and enable config_lint")],
    "channels_order": [("config_lint", "add input_shape to [expect] and enable config_lint")],
    "output_activation": [("output_shape", "add output = \"probabilities\" (or the kind of output) to [expect]"),
                          ("loss_matches_output", "add loss_matches_output")],
    "loss_mse": [("loss_matches_output", "add loss_matches_output")],
    "loss_from_logits": [("loss_matches_output", "add loss_matches_output")],
    "loss_sparse_categorical": [("config_lint", "enable config_lint with [options.config_lint] labels = "
                                                "\"integers\" (or \"one_hot\")")],
    "frozen": [("param_count", "add trainable_params to [expect]"), ("gradient_flow", "add gradient_flow")],
    "zero_init": [("gradient_flow", "add gradient_flow")],
    "stop_gradient": [("gradient_flow", "add gradient_flow")],
    "nan_weight": [("finite", "add finite")],
    "learning_rate": [("loss_decrease", "add loss_decrease"), ("config_lint", "enable config_lint")],
}


def suggestion(mutant: MutantResult, checks: Sequence[str], *, snapshot_missing: str | None = None) -> str:
    """What would catch a surviving `mutant`: recording the model's architecture snapshot when the run
    would compare one that is not stored yet (`snapshot_missing`) and the mutant changes the
    architecture; else the first catching check the spec lacks, else what that check needs."""
    if snapshot_missing is not None and mutant.architecture_changed:
        from ..snapshot.check import UPDATE_OPTION

        return (f"record the model's architecture snapshot ({Path(snapshot_missing).name}, written by pytest "
                f"--modelcheck {UPDATE_OPTION}): comparing with it catches this change")
    catchers = _CATCHERS.get(mutant.operator, [])
    for check, advice in catchers:
        if check not in checks:
            return advice
    for _check, advice in catchers:
        return advice.split(" (and ")[0] + " (the check runs but this expectation is missing)"
    return "add matches_reference (compare with the reference solution's outputs)"


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = lambda row: "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def score_line(caught: int, total: int) -> str:
    """``mutation score: 93% (28/30)``."""
    percent = 100.0 * caught / total if total else 100.0
    return f"mutation score: {percent:.0f}% ({caught}/{total})"


def format_report(report: MutationReport, *, score: bool = True) -> str:
    """The table (mistake, where, caught by, points), the survivors with suggestions, the counts and,
    as the last line, the mutation score."""
    lines = [f"mutants of {report.model!r}: checks {', '.join(f'{c} ({_pts(p)})' for c, p in report.points.items())}"]
    if report.not_mutable:
        lines.append(f"no mutants: {report.not_mutable}")
    useless = [c for c, status in report.reference.items() if status != "passed"]
    if useless:
        lines.append(f"note: {', '.join(useless)} do not pass on the reference itself, so they catch nothing")
    rows = [[m.mistake, f"{m.description}, at {m.where}", ", ".join(m.caught_by) or "SURVIVED",
             f"{_pts(m.points)}/{_pts(sum(report.points.values()))}"] for m in report.judged]
    if rows:
        lines += _table(rows, ["mistake", "what and where", "caught by", "points"])
    survivors = report.survivors
    if survivors:
        lines.append(f"survivors ({len(survivors)}):")
        missing = report.snapshot_missing
        lines += [f"  {m.description}, at {m.where}: {suggestion(m, report.checks, snapshot_missing=missing)}"
                  for m in survivors]
    dropped = []
    if report.equivalent:
        dropped.append(f"{len(report.equivalent)} equivalent to the reference")
    if report.invalid:
        dropped.append(f"{len(report.invalid)} that Keras cannot build")
    if dropped:
        lines.append("dropped: " + ", ".join(dropped))
    per = report.seconds_per_mutant
    lines.append(f"{len(report.mutants)} mutants in {report.seconds:.1f} s"
                 + (f" ({per:.2f} s per mutant)" if per is not None else ""))
    if score:
        lines.append(score_line(len(report.caught), len(report.judged)))
    return "\n".join(lines)


def _pts(value: float) -> str:
    return f"{value:g}"


def combined_score(reports: Sequence[MutationReport]) -> tuple[int, int]:
    """(caught, total) over several reports."""
    return sum(len(r.caught) for r in reports), sum(len(r.judged) for r in reports)


def json_of(reports: Sequence[MutationReport]) -> dict[str, Any]:
    """One report's JSON, or ``{"models": [...], "score"}`` for several."""
    if len(reports) == 1:
        return reports[0].to_json()
    caught, total = combined_score(reports)
    return {"models": [r.to_json() for r in reports], "mutants": [m for r in reports for m in r.to_json()["mutants"]],
            "score": caught / total if total else None}
