"""Where submissions are graded: the local warm pool (the default) or a Dask cluster.

Both sit behind one small protocol, `Executor`: grade these submissions and hand each grade to
a callback, in the caller's thread, as soon as it is decided (so the caller writes it at once).
Whatever the executor, one submission is graded by the same isolated pipeline
(`modelcheck.grading.Grader`: a confined build job, then a clean check job).

A failure of the grader itself (an internal error, a lost cluster worker) becomes a grade with
``grader_error`` set: shown to the instructor, no verdict on the student. No Keras import here.
"""

from __future__ import annotations

import traceback
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Callable, Protocol, Sequence

from ..core.result import CheckResult
from .assignment import Assignment
from .grade import Grader, StudentGrade
from .submissions import Submission

__all__ = ["Executor", "LocalExecutor", "OnGrade", "grader_error_grade", "make_executor", "EXECUTORS"]

EXECUTORS = ("local", "dask")
OnGrade = Callable[[StudentGrade], None]


class Executor(Protocol):
    """Grades many submissions; a context manager that owns its workers."""

    name: str
    slots: int  # submissions graded at once

    def __enter__(self) -> "Executor": ...

    def __exit__(self, *exc: object) -> None: ...

    def describe_isolation(self) -> str:
        """The one ``isolation: ...`` line of where the jobs run (said once at the start of a run)."""
        ...

    def grade_many(self, submissions: Sequence[Submission], on_grade: OnGrade) -> None:
        """Grade `submissions`; call `on_grade(grade)` in this thread as each one is decided.

        Never raises for a submission: what the student's code does is its grade, what goes
        wrong in the grader is a grade with ``grader_error``."""
        ...


def grader_error_grade(assignment: Assignment, submission: Submission, why: str) -> StudentGrade:
    """The grade of a submission the grader could not judge: every check an error naming `why`."""
    message = f"the grader failed, not your submission; it will be graded again: {why}"
    results = [CheckResult.error(check, message, model=submission.student) for check in assignment.checks]
    return StudentGrade(student=submission.student, submission=str(submission.path), results=results,
                        points={check: 0.0 for check in assignment.checks}, max_points=dict(assignment.points),
                        visibility=dict(assignment.visibility), problem=f"grader error: {why}", grader_error=why)


def internal_error(exc: BaseException) -> str:
    """An exception of the grader, in one line with where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"internal error {type(exc).__name__}: {exc}{where}"


class LocalExecutor:
    """The local warm pool: `workers` submissions at once on this machine."""

    name = "local"

    def __init__(self, assignment: Assignment, *, workers: int | None = None) -> None:
        self.assignment = assignment
        self.grader = Grader(assignment, workers=workers)
        self.slots = self.grader.workers

    def __enter__(self) -> "LocalExecutor":
        self.grader.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.grader.close()

    def describe_isolation(self) -> str:
        return self.grader.describe_isolation()

    def grade_many(self, submissions: Sequence[Submission], on_grade: OnGrade) -> None:
        threads = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="modelcheck-grade")
        try:
            futures: dict[Future[StudentGrade], Submission] = {
                threads.submit(self.grader.grade, s): s for s in submissions}
            for future in as_completed(futures):
                try:
                    grade = future.result()
                except Exception as exc:  # a bug of ours: that student's grade says so, the run goes on
                    grade = grader_error_grade(self.assignment, futures[future], internal_error(exc))
                on_grade(grade)
        finally:  # on Ctrl-C: start nothing new; the submissions under way finish
            threads.shutdown(wait=False, cancel_futures=True)


def make_executor(assignment: Assignment, *, executor: str = "local", scheduler: str | None = None,
                  workers: int | None = None) -> Executor:
    """The executor a command line asks for: a scheduler address means Dask.

    ``executor="dask"`` without `scheduler` starts a `distributed.LocalCluster` of `workers`
    single-threaded workers (to try Dask out on one machine)."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if scheduler or executor == "dask":
        from .dask_executor import DaskExecutor

        return DaskExecutor(assignment, scheduler=scheduler, workers=workers)
    return LocalExecutor(assignment, workers=workers)
