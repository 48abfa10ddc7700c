"""Grading a whole course into OUT: streamed, resumable, on any executor.

    run = grade_course("fashion.toml", "submissions/", "out/", resume=True)

Each submission's results.json and feedback page are written as soon as it is graded, with its
record in OUT (`modelcheck.grading.resume.RunState`); the gradebook and index are rewritten as
the run goes (every few seconds, less often for a class so large that rewriting them would
take more than a twentieth of the time) and at the end, also when the run is interrupted.
``resume`` skips submissions unchanged since they were graded; ``only`` regrades the named
students and keeps everyone else's grade. No Keras import here.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO

from ..core.errors import STRINGS_OFF_TENSORFLOW, SpecError
from .assignment import Assignment, load_assignment
from .executors import make_executor
from .grade import StudentGrade
from .outputs import student_slug, write_class_files, write_student_files
from .progress import Progress, summary
from .resume import STALE, STATE_DIR, RunState, content_hash
from .submissions import Submission, discover_submissions, left_out

__all__ = ["CourseRun", "grade_course"]

_CLASS_FILES_EVERY_S = 2.0
_CLASS_FILES_SHARE = 0.05  # at most this share of the run's time goes to rewriting them
_LOCK_FILE = Path(STATE_DIR, "lock")  # in OUT, held while a run writes there (`_held`)


@dataclass
class CourseRun:
    """What one run did: `graded` this run, `grades` of the whole gradebook (kept ones too)."""

    assignment: Assignment
    out_dir: Path
    graded: list[StudentGrade] = field(default_factory=list)
    grades: list[StudentGrade] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    index: Path | None = None
    executor: str = "local"
    slots: int = 0

    def summary(self, *, actions_only: bool = False) -> list[str]:
        """The end-of-run lines (`progress.summary`); with `actions_only`, what needs acting on."""
        return summary(self.graded, everyone=self.grades, skipped=len(self.skipped), elapsed=self.elapsed,
                       actions_only=actions_only)


def _named(found: list[Submission], name: str) -> list[Submission]:
    """The submissions ``--only name`` picks: the student of that id, else the one handed in under
    that file or folder name (as tab completion gives it: ``submissions/alice.py``)."""
    by_id = [s for s in found if s.student == name]
    return by_id or [s for s in found if s.path.name == Path(name).name]


def _check_reference(assignment: Assignment, chosen: Any, stream: TextIO) -> None:
    """Grade the reference solution as a student's, and say so (even when quiet) when it does not
    get full marks: a figure of ``[expect]`` or a sample that contradicts it costs every student
    who builds that same model the same points, silently. Raises `SpecError` when the reference
    takes strings and Keras runs on a backend without them: no student could be graded fairly."""
    if not assignment.reference or assignment.base_dir is None:
        return
    reference = assignment.base_dir / assignment.reference
    graded: list[StudentGrade] = []
    chosen.grade_many([Submission(f"reference solution {reference.name}", reference)], graded.append)
    grade = graded[0] if graded else None
    if grade is not None and grade.grader_error:
        print(f"modelcheck: warning: grading the reference solution {reference.name} failed, so the students' "
              f"grading will likely fail the same way: {grade.grader_error}", file=stream, flush=True)
        return
    if grade is None or grade.score >= grade.max_score:
        return
    if any(STRINGS_OFF_TENSORFLOW.summary in (r.message or "") for r in grade.results):
        raise SpecError(f"the reference solution {reference.name} takes strings, which Keras runs inside a model on "
                        "the TensorFlow backend only, and this grading runs Keras on another backend: every student's "
                        "model that takes strings would lose its points for it; grade with KERAS_BACKEND=tensorflow")
    lost = [r for r in grade.results if not grade.points.get(r.check) and grade.max_points.get(r.check)]
    why = "; ".join(f"{r.check}: {r.message.splitlines()[0]}" for r in lost[:3])
    print(f"modelcheck: warning: the reference solution {reference.name} gets {grade.score:g} / "
          f"{grade.max_score:g} on this assignment, so every student who builds that model loses the same points "
          f"({why}); check [expect] and [data] against it", file=stream, flush=True)


def _plan(found: list[Submission], state: RunState, hashes: dict[str, str], *, resume: bool,
          only: Iterable[str]) -> list[Submission]:
    only = list(only)
    if only:
        known = {s.student for s in found}
        picked = {name: _named(found, name) for name in only}
        unknown = [name for name, named in picked.items() if not named]
        if unknown:
            raise ValueError(f"--only {unknown[0]}: no such submission; the students are "
                             f"{', '.join(sorted(known)[:20])}{', ...' if len(known) > 20 else ''}")
        chosen = {s.path for named in picked.values() for s in named}
        return [s for s in found if s.path in chosen]
    if resume:
        return [s for s in found if not state.is_current(s, hashes[s.student])]
    return list(found)


def _why(state: RunState, todo: list[Submission], hashes: dict[str, str]) -> str:
    """Why --resume grades `todo` again, counted: ': 3 not graded yet, 2 changed since graded'; an
    instructor who sees a whole class start again learns it is the assignment file that changed."""
    counts = Counter(state.stale(s, hashes[s.student]) for s in todo)
    said = [f"{count} {STALE[reason]}" for reason, count in counts.most_common() if reason]
    return ": " + ", ".join(said) if said else ""


def grade_course(assignment_path: str | Path, submissions: str | Path, out_dir: str | Path, *,
                 workers: int | None = None, executor: str = "local", scheduler: str | None = None,
                 resume: bool = False, only: Iterable[str] = (), quiet: bool = False, bar: bool | None = None,
                 stream: TextIO | None = None) -> CourseRun:
    """Grade the submissions in `submissions` into `out_dir`; see the module docstring.

    Raises `SpecError` (a bad assignment), `FileNotFoundError` (no such folder) and `ValueError`
    (OUT inside the submissions, another run writing to OUT now, an unknown ``--only`` name)
    before grading anything.
    """
    assignment = load_assignment(assignment_path)
    found = discover_submissions(submissions)
    out = Path(out_dir).resolve()
    if out == Path(submissions).resolve() or Path(submissions).resolve() in out.parents:
        raise ValueError(f"--out {out_dir} lies inside the submissions folder; choose a folder outside it")
    with _held(out):
        return _grade_course(assignment, found, submissions, out, workers=workers, executor=executor,
                             scheduler=scheduler, resume=resume, only=only, quiet=quiet, bar=bar, stream=stream)


@contextmanager
def _held(out: Path) -> Iterator[None]:
    """Hold OUT for one run (a lock the system drops when the process ends, however it ends): two
    runs writing one gradebook at once (a second terminal, an overlapping cron job) interleave
    their records and class files, and each --resume then trusts the other's."""
    (out / _LOCK_FILE).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"another modelcheck run is writing to {out} now; wait for it to end, or grade into "
                             "another --out folder") from None
        yield
    finally:
        os.close(fd)


def _some(names: list[str]) -> str:
    """Up to ten names, then how many more."""
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def _remove_departed(out: Path, state: RunState, found: list[Submission]) -> list[str]:
    """Remove the files (results.json, feedback.html) and records of students graded into `out`
    before who are no longer among the submissions: the gradebook leaves them out, but a script that
    uploads every results.json would publish their old grades. Only what modelcheck wrote is removed
    (a folder is removed only once empty). Returns those students."""
    present = {s.student for s in found}
    slugs = {student_slug(name) for name in present}
    departed = sorted(state.students(besides=present))
    for name in departed:
        folder = out / student_slug(name)
        if folder.name not in slugs:
            for file in ("results.json", "feedback.html"):
                with suppress(OSError):
                    (folder / file).unlink()
            with suppress(OSError):
                folder.rmdir()
        state.forget(name)
    return departed


def _grade_course(assignment: Assignment, found: list[Submission], submissions: str | Path, out: Path, *,
                  workers: int | None, executor: str, scheduler: str | None, resume: bool, only: Iterable[str],
                  quiet: bool, bar: bool | None, stream: TextIO | None) -> CourseRun:
    state = RunState(out, assignment)
    # every submission's files are read only to find what --resume skips: `--only alice` reads alice's
    only = list(only)
    hashes = {s.student: content_hash(s) for s in found} if resume and not only else {}
    todo = _plan(found, state, hashes, resume=resume, only=only)
    hashes.update({s.student: content_hash(s) for s in todo if s.student not in hashes})
    departed = [] if only else _remove_departed(out, state, found)
    if not resume and not only:
        state.clear()
    todo_names = {s.student for s in todo}
    run = CourseRun(assignment, out, skipped=[s.student for s in found if s.student not in todo_names])
    by_student = {name: grade for name in run.skipped if (grade := state.grade(name)) is not None}
    order = [s.student for s in found]

    failures: dict[str, str] = {}
    for grade in by_student.values():  # a kept grade's files deleted since, or never written (a disk full)
        folder = out / student_slug(grade.student)
        if not ((folder / "results.json").is_file() and (folder / "feedback.html").is_file()):
            if failed := write_student_files(grade, assignment, out):
                failures[grade.student] = failed

    def class_files() -> None:
        run.grades = [by_student[name] for name in order if name in by_student]
        run.index = write_class_files(run.grades, assignment, out, failures)

    started = time.monotonic()
    last_written = [started, _CLASS_FILES_EVERY_S]  # when, and the wait until the next rewrite

    def on_grade(grade: StudentGrade) -> None:
        failed = write_student_files(grade, assignment, out)
        if failed:
            failures[grade.student] = failed
        state.record(grade, hashes[grade.student])  # the record last: a crash before it regrades
        by_student[grade.student] = grade
        run.graded.append(grade)
        progress.advance(grade)
        if time.monotonic() - last_written[0] >= last_written[1]:
            began = time.monotonic()
            class_files()
            last_written[0] = time.monotonic()
            # each rewrite costs in proportion to the class: at a fixed interval they would grow to a
            # quarter of the grader's time at 10,000 students
            last_written[1] = max(_CLASS_FILES_EVERY_S, (last_written[0] - began) / _CLASS_FILES_SHARE)

    class_files()
    progress = Progress(len(todo), stream=stream, bar=bar, quiet=quiet)
    if departed:  # said even when quiet: files the instructor may have published are gone
        print(f"modelcheck: removed the files of {_some(departed)} from {out}, graded before but no longer among "
              "the submissions", file=progress.stream, flush=True)
    ignored = left_out(submissions)
    if ignored:  # said even when quiet: work handed in so has no gradebook row at all
        print(f"modelcheck: warning: not graded, since no .py file, notebook or folder: {_some(ignored)} (a student's work "
              "handed in so gets no gradebook row)", file=progress.stream, flush=True)
    try:
        if todo:
            with make_executor(assignment, executor=executor, scheduler=scheduler, workers=workers) as chosen:
                run.executor, run.slots = chosen.name, chosen.slots
                # said once, even with quiet: a missing mechanism must never go unnoticed
                print(f"modelcheck: {chosen.describe_isolation()}", file=progress.stream, flush=True)
                _check_reference(assignment, chosen, progress.stream)
                if not quiet:
                    why = _why(state, todo, hashes) if resume and not only else ""
                    print(f"modelcheck: grading {len(todo)} of {len(found)} submissions of {assignment.name!r} "
                          f"on {chosen.name} ({chosen.slots} at a time){why}", file=progress.stream, flush=True)
                with progress:
                    chosen.grade_many(todo, on_grade)
    finally:  # interrupted too: the gradebook holds everything finished so far
        class_files()
        run.elapsed = time.monotonic() - started
    return run
