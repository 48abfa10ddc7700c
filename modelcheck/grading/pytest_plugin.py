"""``--modelcheck-grade ASSIGNMENT.toml SUBMISSIONS_DIR``: grading as pytest items.

    grade (GradeNode, the assignment)
      grade::alice (StudentNode, one submission)
        grade::alice::param_count (GradeItem, one check of the assignment)

Each submission is graded once per process (the first of its items asks the plugin's
`modelcheck.grading.Grader`, the others read ``grade.result(check)``), in the grading
package's sandboxes: student code never runs in the pytest process. The submissions folder is
kept out of pytest's own collection for the same reason (a student's ``conftest.py`` or
``test_*.py`` would run unconfined). With ``-n``, ``--dist loadscope`` keeps a student's
items on one worker; other modes may grade a student on two workers (same verdicts).

At the end, the xdist controller (or the only process) writes the grading outputs
(`modelcheck.grading.write_outputs`) to ``--modelcheck-grade-out``, or to ``grading/`` in the
``--modelcheck-report`` directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

import pytest

from ..core.errors import SpecError
from ..plugin.nodes import MARKER, ModelcheckFailure
from ..plugin.options import Settings, display_path
from ..plugin.results import RESULTS_KEY
from ..core.result import ERROR, FAILED, SKIPPED, CheckResult

__all__ = ["ModelcheckGrading", "GradeNode", "StudentNode", "GradeItem", "startup_conftests"]

GRADES = "grades"  # the rows of the run's results: StudentGrade.to_dict() per student


class ModelcheckGrading:
    """Owns the assignment, the Grader of this process and every grade it produced."""

    def __init__(self, settings: Settings) -> None:
        from . import discover_submissions, load_assignment

        assert settings.grade is not None
        self.settings = settings
        self.assignment_path, self.folder = settings.grade
        try:
            self.assignment = load_assignment(self.assignment_path)
            self.submissions = discover_submissions(self.folder)
        except (SpecError, FileNotFoundError) as exc:
            raise pytest.UsageError(f"--modelcheck-grade: {exc}") from None
        self.out_dir = settings.grade_out or (settings.report_dir / "grading" if settings.report_dir else None)
        if self.out_dir is not None and _inside(self.out_dir, self.folder):
            raise pytest.UsageError(f"--modelcheck-grade-out {self.out_dir} lies inside the submissions "
                                    "folder; choose a folder outside it")
        self.grades: dict[str, Any] = {}  # student -> StudentGrade
        self.written: Path | None = None
        self._grader: Any = None  # a Grader, or a DaskExecutor with --modelcheck-grade-scheduler
        self._selected: list[Any] = []  # submissions this process runs items of (not under xdist)
        if settings.grade_scheduler:
            try:
                import distributed  # noqa: F401
            except ImportError:
                from .dask_executor import INSTALL_HINT

                raise pytest.UsageError(f"--modelcheck-grade-scheduler: {INSTALL_HINT}") from None

    def grade(self, submission: Any) -> Any:
        """The `StudentGrade` of `submission`, graded on first request."""
        if submission.student not in self.grades:
            if self._grader is None:
                self._grader = self._start_grader()
            if isinstance(self._grader, Exception):
                raise self._grader
            self.grades[submission.student] = self._grader.grade(submission)
        return self.grades[submission.student]

    def _start_grader(self) -> Any:
        if not self.settings.grade_scheduler:
            from . import Grader

            return Grader(self.assignment, workers=1).__enter__()
        from .dask_executor import DaskExecutor

        try:
            remote = DaskExecutor(self.assignment, scheduler=self.settings.grade_scheduler).__enter__()
        except OSError as exc:  # kept: every item says so at once, none waits for the timeout again
            return RuntimeError(f"--modelcheck-grade-scheduler: cannot reach the Dask scheduler "
                                f"{self.settings.grade_scheduler}: {exc}")
        remote.submit(self._selected)  # the whole class at once: the cluster grades while items report
        return remote

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not hasattr(session.config, "workerinput"):  # an xdist worker learns its items one by one
            self._selected = list({item.parent.submission.student: item.parent.submission
                                   for item in session.items if isinstance(item, GradeItem)}.values())

    def add_grades(self, rows: Iterable[dict[str, Any]]) -> None:
        """Merge grades a worker sent (``StudentGrade.to_dict()``); the first per student wins."""
        from . import StudentGrade

        for row in rows:
            self.grades.setdefault(row["student"], StudentGrade.from_dict(row))

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        return True if _inside(collection_path, self.folder) else None

    @pytest.hookimpl(tryfirst=True)  # before -k / -m deselect
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        node = GradeNode.from_parent(session, name="grade", nodeid="grade", path=self.assignment_path, grading=self)
        items.extend(session.genitems(node))  # with collect reports, so "collected N items" counts them

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._grader is not None:
            grader, self._grader = self._grader, None
            if not isinstance(grader, Exception):
                grader.__exit__(None, None, None)
        config = session.config
        if hasattr(config, "workerinput"):  # the controller writes the outputs, with every worker's grades
            config.stash[RESULTS_KEY].add_rows(GRADES, [grade.to_dict() for grade in self.grades.values()])
            return
        self.add_grades(config.stash[RESULTS_KEY].rows(GRADES))
        if self.out_dir is not None and self.grades:
            from . import write_outputs

            grades = [self.grades[student] for student in sorted(self.grades)]
            self.written = write_outputs(grades, self.assignment, self.out_dir)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if hasattr(config, "workerinput"):
            return
        if self.written is None:
            if self.out_dir is None and self.grades:  # graded a class and kept nothing of it: say so, and how
                terminalreporter.write_line(
                    f"modelcheck grading: {len(self.grades)} submission{'s' * (len(self.grades) != 1)} graded; no "
                    "gradebook, results.json or feedback page was written: add --modelcheck-grade-out DIR (or "
                    "--modelcheck-report DIR) to write them")
            return
        here = config.invocation_params.dir
        terminalreporter.write_line(f"modelcheck grading: {display_path(self.written, here)} "
                                    f"(gradebook: {display_path(self.written.parent / 'gradebook.csv', here)})")


class GradeNode(pytest.Collector):
    """The assignment: one `StudentNode` per submission, in the folder's (sorted) order."""

    def __init__(self, *, grading: ModelcheckGrading, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grading = grading

    def collect(self) -> list[StudentNode]:
        return [StudentNode.from_parent(self, name=submission.student, submission=submission)
                for submission in self.grading.submissions]


class StudentNode(pytest.Collector):
    """One submission: one `GradeItem` per check of the assignment."""

    def __init__(self, *, submission: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.submission = submission

    @property
    def grading(self) -> ModelcheckGrading:
        assert isinstance(self.parent, GradeNode)
        return self.parent.grading

    def collect(self) -> list[GradeItem]:
        return [GradeItem.from_parent(self, name=check, check=check) for check in self.grading.assignment.checks]


class GradeItem(pytest.Item):
    """One check of one student's grade; fails with the check's message, as the student reads it."""

    def __init__(self, *, check: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.add_marker(MARKER)

    @property
    def student_node(self) -> StudentNode:
        assert isinstance(self.parent, StudentNode)
        return self.parent

    def runtest(self) -> None:
        node = self.student_node
        grading = node.grading
        grade = grading.grade(node.submission)
        result = CheckResult.from_dict({**grade.result(self.check).to_dict(), "model": node.nodeid})
        first = self.check == grading.assignment.checks[0]
        extra = {"layers": grade.layers} if first and grade.layers else {}
        self.config.stash[RESULTS_KEY].add(self.nodeid, result, source=Path(grade.submission).name,
                                           expected_total_params=grading.assignment.spec.total_params, **extra)
        earned, available = grade.points.get(self.check, 0.0), grade.max_points.get(self.check, 0.0)
        if result.status == SKIPPED:
            pytest.skip(result.message)
        if result.status in (FAILED, ERROR) or earned < available:
            raise ModelcheckFailure(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, ModelcheckFailure):
            grade = self.student_node.grading.grades[self.student_node.name]
            earned, available = grade.points.get(self.check, 0.0), grade.max_points.get(self.check, 0.0)
            return f"[{earned:g}/{available:g} points] {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"[modelcheck grade] {self.nodeid}"


def startup_conftests(folder: Path, args: Sequence[str], invocation_dir: Path) -> list[Path]:
    """The ``conftest.py`` files inside the submissions `folder` that pytest imports as it starts,
    before any plugin can keep a folder out of collection: those of each path given on its
    command line (else of the folder it starts in), of those paths' ``test*`` subfolders, and of
    every folder above them (pytest's ``_set_initial_conftests``)."""
    anchors: list[Path] = []
    for arg in args:
        path = invocation_dir / str(arg).split("::")[0]
        try:
            if not path.exists():
                continue
            anchors.append(path)
            if path.is_dir():
                anchors.extend(sub for sub in path.glob("test*") if sub.is_dir())
        except OSError:  # a name too long to be a path, or one pytest will refuse itself
            continue
    if not anchors:
        anchors = [invocation_dir, *(sub for sub in invocation_dir.glob("test*") if sub.is_dir())]
    found = []
    for anchor in anchors:
        for directory in (anchor, *anchor.parents):
            conftest = directory / "conftest.py"
            if _inside(directory, folder) and conftest.is_file() and conftest not in found:
                found.append(conftest)
    return found


def _inside(path: Path, folder: Path) -> bool:
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents
