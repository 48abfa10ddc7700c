"""Progress of a grading run: a bar on a terminal (rich: done/total, rate, ETA), one plain line
per submission otherwise (logs, CI, a cluster job's output file), and a summary at the end."""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from typing import Any, TextIO

from .grade import StudentGrade
from .schema import clean_text

__all__ = ["Progress", "summary", "modules_not_found"]


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class Progress:
    """Reports each decided grade; `bar` None chooses a bar when `stream` is a terminal."""

    def __init__(self, total: int, *, stream: TextIO | None = None, bar: bool | None = None,
                 quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.bar = (not quiet and total > 0 and (self.stream.isatty() if bar is None else bar))
        self.started = time.monotonic()
        self._rich: Any = None
        self._task: Any = None

    def __enter__(self) -> "Progress":
        self.started = time.monotonic()  # the rate counts grading, not starting the workers
        if self.bar:
            try:
                from rich.console import Console
                from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            except ImportError:  # rich comes with Keras; without it, plain lines
                self.bar = False
                return self
            self._rich = RichProgress(
                TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}/min"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
                console=Console(file=self.stream), transient=False)
            self._rich.__enter__()
            self._task = self._rich.add_task("grading", total=self.total, rate="-", last="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)
            self._rich = None

    def rate(self) -> float:
        """Submissions per minute so far."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed * 60 if elapsed > 0 else 0.0

    def advance(self, grade: StudentGrade) -> None:
        self.done += 1
        if self.quiet:
            return
        rate = self.rate()
        # a submission's own error message is in `problem`: no control sequence of it reaches the terminal
        state = clean_text((grade.problem or "graded").splitlines()[0][:70], keep_newlines=False)
        if self._rich is not None:
            self._rich.update(self._task, advance=1, rate=f"{rate:.1f}",
                              last=clean_text(f"{grade.student}: {grade.score:g}/{grade.max_score:g}",
                                              keep_newlines=False))
            return
        eta = (self.total - self.done) / rate * 60 if rate else 0.0
        line = (f"[{self.done}/{self.total}] {grade.student}: {grade.score:g}/{grade.max_score:g} "
                f"({grade.execution_time:.1f} s) {state} | {rate:.1f}/min, ETA {_duration(eta)}")
        print(clean_text(line, keep_newlines=False), file=self.stream, flush=True)


# Python's message for an import of a module that is not installed (its top-level package named)
_NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '([A-Za-z_][A-Za-z0-9_]*)")


def modules_not_found(problem: str | None, notes: list[str]) -> set[str]:
    """The top-level modules a grade's `problem` and `notes` say its submission failed to import."""
    return {found.group(1) for text in [problem or "", *notes] for found in _NO_MODULE.finditer(text)}


def _missing_modules(graded: list[StudentGrade]) -> Counter[str]:
    """Top-level modules the submissions failed to import, with how many submissions did: a
    grading environment without matplotlib stops most notebooks' first cell, a correct model
    with it, and only the instructor can install it."""
    counts: Counter[str] = Counter()
    for grade in graded:
        counts.update(modules_not_found(grade.problem, grade.notes))
    return counts


def summary(graded: list[StudentGrade], *, everyone: list[StudentGrade] | None = None, skipped: int = 0,
            elapsed: float = 0.0, slowest: int = 3, actions_only: bool = False) -> list[str]:
    """The end-of-run lines: errors, mean score (of `everyone` in the gradebook, kept grades
    included), the slowest submissions of this run, and last how many were graded, how fast. With
    `actions_only` (a quiet run), only what the instructor must act on: grader errors and modules
    not installed here, none when there is nothing to do."""
    lines = []
    grader_errors = [g for g in graded if g.grader_error]
    student_errors = [g for g in graded if g.problem and not g.grader_error]
    if grader_errors or not actions_only:
        lines.append(f"errors: {len(student_errors)} submissions could not be run (graded as errors), "
                     f"{len(grader_errors)} grader errors (no verdict; regrade them with --resume)")
    for grade in grader_errors[:5]:
        lines.append(f"  grader error, {grade.student}: {grade.grader_error}")
    unjudged = [g for g in graded if not g.grader_error and not g.problem and any(
        r.status == "skipped" and g.max_points.get(r.check) for r in g.results)]
    if unjudged:
        lines.append(f"not judged: {len(unjudged)} submissions have checks with points the grader could not judge "
                     "(no points given; listed on the class page)")
    missing = _missing_modules(graded)
    # a name only one of several submissions imports is more likely that student's own file not handed
    # in, or a typo, than a package the course uses: no advice to install it (any name a student
    # writes would otherwise be recommended for the grading machine)
    alone = sorted(name for name, count in missing.items() if count == 1) if len(graded) > 1 else []
    shared = [(name, count) for name, count in missing.most_common() if name not in alone]
    if shared:
        lines.append(f"missing here: {len(shared)} module{'s' if len(shared) > 1 else ''} the submissions import "
                     f"{'are' if len(shared) > 1 else 'is'} not installed where grading runs, so the cells or files "
                     "importing them stopped there: "
                     + ", ".join(f"{name} ({count} submission{'s' if count > 1 else ''})" for name, count in shared[:5])
                     + "; install them here (for Gradescope: modelcheck gradescope ... --package NAME) and grade "
                     "again with --resume, which regrades the submissions that stopped at a module installed since")
    if alone:
        lines.append(f"imported by one submission only, and not installed here: {', '.join(alone[:5])}"
                     f"{f' and {len(alone) - 5} more' if len(alone) > 5 else ''} (a file of the student's own not "
                     "handed in, or a misspelt name: their feedback says which); install one only if your course "
                     "uses it")
    if actions_only:
        return lines
    decided = [g for g in (graded if everyone is None else everyone) if not g.grader_error]
    if decided:
        mean = sum(g.score for g in decided) / len(decided)
        lines.append(f"mean score: {mean:.2f} / {decided[0].max_score:g} over {len(decided)} students")
    by_time = sorted((g for g in graded if not g.grader_error), key=lambda g: g.execution_time, reverse=True)
    if by_time:
        lines.append("slowest: " + ", ".join(f"{g.student} ({g.execution_time:.1f} s)" for g in by_time[:slowest]))
    # a grader error is no grade: counted with the graded, a lost cluster read "graded 60 (83 per minute)"
    judged = len(graded) - len(grader_errors)
    rate = f" ({judged / elapsed * 60:.1f} per minute)" if elapsed > 0 and judged else ""
    failed = f", and failed on {len(grader_errors)} (grader errors)" if grader_errors else ""
    kept = f"; {skipped} unchanged since they were graded, kept" if skipped else ""
    lines.append(f"graded {judged} submissions in {elapsed:.1f} s{rate}{failed}{kept}")
    return lines
