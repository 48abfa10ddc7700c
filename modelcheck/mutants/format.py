"""The mutation run in words: a table of mutants, the survivors with what would catch each, the score."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .run import MutantResult, MutationReport

__all__ = ["suggestion", "format_report", "score_line", "probe_checks", "PROBES", "Catcher", "Words", "WORDS",
           "dropped_counts", "output_probe_key", "output_probe_kind"]

@dataclass(frozen=True)
class Words:
    """Where a suggestion tells the user to add things: an assignment file's tables, or a model's
    own spec (a ``[[model]]`` table, ``@modelcheck.expect``, a reference model's declaration)."""

    expect: str
    checks: str
    labels: str
    compare: str
    original: str  # what the mutants are mutants of


ASSIGNMENT_WORDS = Words("[expect]", "[points]", '[options.config_lint] labels = "integers" (or "one_hot")',
                         "add matches_reference to [points] (it compares the layers with the reference solution's)",
                         "the reference")
SPEC_WORDS = Words("the model's spec", "its checks",
                   'options = { config_lint = { labels = "integers" } } (or "one_hot") to the model\'s spec',
                   "compare the model with its stored architecture snapshot (the architecture check): it catches "
                   "every layer change", "the model")
WORDS = {"assignment": ASSIGNMENT_WORDS, "spec": SPEC_WORDS}


@dataclass(frozen=True)
class Catcher:
    """A check that can catch a mutant of some operator.

    Attributes:
        check: the check.
        expect: the expectations of which the check needs one to see the mistake (none: it sees it as is).
        facet: what the mutant must change for the check to see it (`generate.changes`), if anything.
        add: what to add to the spec, beside the check, when it lacks all of `expect` (``{expect}``
            and ``{labels}`` filled in from `Words`).
    """

    check: str
    expect: tuple[str, ...] = ()
    facet: str | None = None
    add: str = ""

    def has_expectation(self, expected: Sequence[str]) -> bool:
        """Whether the spec sets what the check needs to see the mistake."""
        return not self.expect or any(key in expected for key in self.expect)

    def advice(self, checks: Sequence[str], expected: Sequence[str], words: Words = ASSIGNMENT_WORDS,
               kind: str | None = None) -> str | None:
        """What to add so that the check runs with what it needs; None when it already does. `kind`: the
        reference's kind of output (what ``output`` would be set to), when known."""
        runs = self.check in checks
        has = self.has_expectation(expected)
        shown = f'"{kind}"' if kind else '"probabilities" (or the kind of output)'
        add = self.add.format(expect=words.expect, labels=words.labels, kind=shown)
        if runs and has:
            return None
        if runs:
            return f"add {add}"
        if has:
            return f"add {self.check} to {words.checks}"
        return f"add {add} and {self.check} to {words.checks}"


_COUNTS = [Catcher("param_count", ("total_params",), "counts", "total_params to {expect}"),
           Catcher("param_count", ("layer_params",), "layer_counts", "layer_params to {expect}")]
_SHAPES = [Catcher("output_shape", ("layer_output_shapes",), "shapes", "layer_output_shapes to {expect}")]
_INPUT = [Catcher("config_lint", ("input_shape",), None, "input_shape to {expect}")]

# What could catch a surviving mutant of each operator, in the order the suggestion tries them.
_CATCHERS: dict[str, list[Catcher]] = {
    "units": _COUNTS,
    "layer_dropped": _COUNTS,
    "layer_added": _COUNTS,
    "bias_removed": _COUNTS,
    "embedding_swapped": _COUNTS,
    "padding": _SHAPES,
    "strides": _SHAPES,
    "hidden_activation": [Catcher("config_lint")],
    "dropout_keep_prob": [Catcher("config_lint")],
    "input_flattened": _INPUT,
    "input_shape": _INPUT,
    "channels_order": _INPUT,
    "output_activation": [Catcher("output_shape", ("output",), None, "output = {kind} to {expect}"),
                          Catcher("loss_matches_output")],
    "loss_mse": [Catcher("loss_matches_output")],
    "loss_from_logits": [Catcher("loss_matches_output")],
    "loss_binary_categorical": [Catcher("loss_matches_output"), Catcher("config_lint")],
    "loss_on_regression": [Catcher("loss_matches_output"), Catcher("config_lint")],
    "loss_sparse_categorical": [Catcher("config_lint", ("labels",), None, "{labels}")],
    "frozen": [Catcher("param_count", ("trainable_params",), "trainable", "trainable_params to {expect}"),
               Catcher("gradient_flow")],
    "zero_init": [Catcher("gradient_flow")],
    "stop_gradient": [Catcher("gradient_flow")],
    "nan_weight": [Catcher("finite")],
    "learning_rate": [Catcher("config_lint"), Catcher("loss_decrease")],
}

# Checks that judge a model without training it: cheap enough to try on every survivor, so that a
# suggestion names one of them only when it does catch the mistake.
PROBES = ("config_lint", "loss_matches_output", "gradient_flow", "finite", "output_shape", "param_count")


_OUTPUT_PROBE = "output_shape with output="


def output_probe_key(kind: str) -> str:
    """The probe of ``output_shape`` with ``output`` set to `kind` (the reference's kind of output), as
    the run records it for the reference and for a surviving mutant of ``output_activation``."""
    return _OUTPUT_PROBE + kind


def output_probe_kind(probed: dict[str, Any]) -> str | None:
    """The kind of output of the ``output_shape`` probe among `probed`'s keys, None without one."""
    return next((key[len(_OUTPUT_PROBE):] for key in probed if key.startswith(_OUTPUT_PROBE)), None)


def probe_checks(operator: str, checks: Sequence[str]) -> list[str]:
    """The cheap checks the run lacks that could catch a surviving mutant of `operator`."""
    found = [c.check for c in _CATCHERS.get(operator, []) if c.check in PROBES and c.check not in checks]
    return list(dict.fromkeys(found))


def suggestion(mutant: MutantResult, checks: Sequence[str], *, snapshot_missing: str | None = None,
               expected: Sequence[str] = (), words: Words = ASSIGNMENT_WORDS) -> str:
    """What would catch a surviving `mutant`: recording the model's architecture snapshot when the run
    would compare one that is not stored yet (`snapshot_missing`) and the mutant changes the
    architecture; else the first check (with the expectation it needs, given the spec's `expected`)
    that would see the mistake: one the run lacks, tried on the mutant where it is cheap, or an
    expectation a check that runs lacks; else comparing the layers (with the reference solution, or
    the stored snapshot). `words`: where the user adds a check or an expectation."""
    if snapshot_missing is not None and mutant.architecture_changed:
        from ..snapshot.check import UPDATE_OPTION

        return (f"record the model's architecture snapshot ({Path(snapshot_missing).name}, written by pytest "
                f"--modelcheck {UPDATE_OPTION}): comparing with it catches this change")
    kind = output_probe_kind(mutant.would_catch)
    for catcher in _CATCHERS.get(mutant.operator, []):
        if catcher.facet is not None and catcher.facet not in mutant.changes:
            continue  # the mistake changes nothing this check measures
        advice = catcher.advice(checks, expected, words, kind if "output" in catcher.expect else None)
        tried = catcher.has_expectation(expected) and mutant.would_catch.get(catcher.check) is False
        if "output" in catcher.expect and not catcher.has_expectation(expected) and kind is not None:
            # tried with the reference's kind of output: a relu on a regression output is no case for it
            tried = mutant.would_catch.get(output_probe_key(kind)) is False
        if advice is None or tried:
            continue  # it runs with what it needs, or was tried on the mutant with it: it does not catch it
        return advice
    compared_by = "matches_reference" if words is ASSIGNMENT_WORDS else "architecture"
    if mutant.architecture_changed and compared_by not in checks:
        return words.compare
    if mutant.architecture_changed:  # the comparison ran and did not catch it: it does not pass on the original
        return (f"no check catches it here: {compared_by}, which sees every layer change, does not pass on "
                f"{words.original} itself, so it catches nothing")
    return ("no check catches it here: it changes nothing the checks measure on this model "
            "(a stored architecture snapshot or matches_reference sees only layer changes)")


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = lambda row: "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def score_line(caught: int, total: int) -> str:
    """``mutation score: 93% (28/30)``; with no mutant judged, that there is no score."""
    if not total:
        return "mutation score: none (no mutant was made or judged, so the checks' strength is unknown)"
    percent = 100.0 * caught / total
    return f"mutation score: {percent:.0f}% ({caught}/{total})"


def format_report(report: MutationReport, *, score: bool = True) -> str:
    """The table (mistake, where, caught by, points), the survivors with suggestions, the counts and,
    as the last line, the mutation score."""
    lines = [f"mutants of {report.model!r}: checks {', '.join(f'{c} ({_pts(p)})' for c, p in report.points.items())}"]
    if report.not_mutable:
        lines.append(f"no mutants: {report.not_mutable}")
    lines += [f"note: {check} does not pass on the reference itself ({status}), so it catches nothing: "
              f"{report.reference_messages.get(check, status)}"
              for check, status in report.reference.items() if status != "passed"]
    rows = [[m.mistake, f"{m.description}, at {m.where}", ", ".join(m.caught_by) or "SURVIVED",
             f"{_pts(m.points)}/{_pts(sum(report.points.values()))}"] for m in report.judged]
    if rows:
        lines += _table(rows, ["mistake", "what and where", "caught by", "points"])
    survivors = report.survivors
    if survivors:
        lines.append(f"survivors ({len(survivors)}):")
        missing = report.snapshot_missing
        words = WORDS[report.words]
        lines += [f"  {m.description}, at {m.where}: "
                  f"{suggestion(m, report.checks, snapshot_missing=missing, expected=report.expected, words=words)}"
                  for m in survivors]
    lines += _dropped(report)
    per = report.seconds_per_mutant
    lines.append(f"{len(report.mutants)} mutants in {report.seconds:.1f} s"
                 + (f" ({per:.2f} s per mutant)" if per is not None else ""))
    if score:
        lines.append(score_line(len(report.caught), len(report.judged)))
    return "\n".join(lines)


def dropped_counts(equivalent: int, invalid: int, words: str = "assignment") -> str:
    """The mutants not judged, counted in the words of every place that tells them (the text report,
    the pytest item, the HTML page): "1 equivalent to the reference, 2 that Keras cannot build";
    empty when none was dropped."""
    counts = []
    if equivalent:
        counts.append(f"{equivalent} equivalent to {WORDS[words].original}")
    if invalid:
        counts.append(f"{invalid} that Keras cannot build")
    return ", ".join(counts)


def _dropped(report: MutationReport) -> list[str]:
    """The count of mutants not judged, then each with why: a mistake Keras refuses to build (what it
    said) or one that changes nothing, so the instructor can tell a dropped mistake from a missed one."""
    counts = dropped_counts(len(report.equivalent), len(report.invalid), report.words)
    if not counts:
        return []
    return ["dropped: " + counts] + [
        f"  {m.description}, at {m.where}: {m.note or m.status}"
        for m in report.equivalent + report.invalid]


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
