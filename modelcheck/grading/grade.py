"""Grade submissions: build each in a sandbox, check it in a clean process, score the verdicts.

Per submission (see docs in `modelcheck.grading`):

1. its files are copied into a private folder; the *build* job (untrusted: the student's code)
   runs there, confined, and exports the model as ``model.keras``;
2. the *check* job (clean: never imports the student's code) loads that file with Keras' safe
   mode and runs the checks; its report carries a nonce only the grader knows;
3. the grader scores the check job's verdicts. Nothing the build job says about verdicts is
   counted, except for models that cannot be loaded safely: those are measured in the build
   job (only when the assignment trusts them, ``trust_submission_measurements``), marked
   *unverified*; the saved weights' parameter count must agree with the reported one, but it is
   no proof either: the submission wrote that file too.

A missing, unreadable or forged report is an error for that student, never a pass.
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import secrets
import shutil
import stat
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from ..core.messages import OWN_CODE_FIX, OWN_TRAINING_FIX
from ..core.registry import CHECKS
from ..core.result import ERROR, FAILED, PASSED, SKIPPED, CheckResult
from .assignment import Assignment, load_assignment
from .cgroups import JobCgroup, remove_parents
from .confine import Confinement, not_dumpable, really_root
from .isolation import Isolation, copy_out, detect
from .jobdirs import new_jobdir, remove_jobdir, sweep_dead_jobdirs
from .job_roots import python_open_to_others, readable_roots, roots_open_to_others
from .lost_reasons import accepted
from .notebook_run import shown_note
from .sandbox import RunOutcome, run_job
from .schema import clean_text, display_name
from .notebooks import cell_table
from .submissions import CONVERTED_SUFFIX, Submission, prepare_workdir
from .worker import WarmPool
from .zygote import JOB_FAILED, JOB_FAILED_MARK

__all__ = ["StudentGrade", "Grader", "grade_submission", "scored_grade"]

# uids for job processes when the grader runs as root (no passwd entry needed). Each grader gets its
# own range, from its pid, because a job's clean-up kills every process of its uid: two graders on
# one machine (two Dask workers, two test processes) must never share one.
_UID_BASE = 2_000_100_000
_UIDS_PER_GRADER = 256  # 2 per slot: at most 128 slots per grader


def _megabytes(stage: Path) -> int:
    """The size of what the grader staged for a job (its own copies: plain folders and regular
    files), in whole megabytes, rounded up."""
    total = sum(path.stat().st_size for path in stage.rglob("*") if path.is_file() and not path.is_symlink())
    return -(-total // 2**20)


def _grader_uid_base() -> int:
    """The first uid of this process's graders (pids are unique among running processes)."""
    return _UID_BASE + (os.getpid() % 8_000_000) * _UIDS_PER_GRADER
_MAX_MODEL_BYTES = 512 * 2**20
_EXPORTS = ("model.keras", "model.weights.h5")
_MAX_CELL_NOTES = 25  # as the build report's schema allows (a notebook's 20 and its summary)
UNVERIFIED_NOTE = ("measured inside your submission's own process, because the model cannot be "
                   "loaded in Keras' safe mode (a Lambda layer or a custom class); the grader "
                   "cannot verify it")


@dataclass
class StudentGrade:
    """One student's grade: per-check verdicts and points.

    Attributes:
        student: the student id (file or folder name).
        submission: the path handed in.
        results: one `CheckResult` per check of the assignment, in its order.
        points: check -> points earned.
        max_points: check -> points available.
        visibility: check -> Gradescope visibility.
        execution_time: wall seconds for the whole submission.
        problem: why the submission could not be graded normally (None when it was).
        output: what the submission printed (truncated), for the feedback page.
        notes: further remarks (truncated output, unverified measurements, confinement).
        layers: the layer table measured by the clean check process (report `LayerRow` dicts).
        isolation: the kernel isolation the jobs ran under (`Isolation.as_data`).
        grader_error: set when the grader itself failed (a lost cluster worker, an internal
            error): no verdict on the student, left out of class statistics, regraded by ``--resume``.
    """

    student: str
    submission: str
    results: list[CheckResult]
    points: dict[str, float]
    max_points: dict[str, float]
    visibility: dict[str, str] = field(default_factory=dict)
    execution_time: float = 0.0
    problem: str | None = None
    output: str = ""
    notes: list[str] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    isolation: dict[str, Any] = field(default_factory=dict)
    grader_error: str | None = None

    @property
    def score(self) -> float:
        return float(sum(self.points.values()))

    @property
    def max_score(self) -> float:
        return float(sum(self.max_points.values()))

    def result(self, check: str) -> CheckResult:
        """The verdict of `check`."""
        for result in self.results:
            if result.check == check:
                return result
        raise KeyError(f"no verdict for check {check!r}; checks are {', '.join(r.check for r in self.results)}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["results"] = [r.to_dict() for r in self.results]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StudentGrade":
        data = dict(data)
        data["results"] = [CheckResult.from_dict(r) for r in data["results"]]
        return cls(**data)


def _relative(text: str, folder: Path) -> str:
    return text.replace(str(folder) + os.sep, "")


def _describe_error(error: dict[str, Any], workdir: Path) -> tuple[str, str | None]:
    message = str(error.get("message") or "the submission failed")
    location = error.get("location")
    if isinstance(location, list) and len(location) == 3:
        filename, lineno, line = location
        message += f"\n  at {_relative(str(filename), workdir)}:{lineno}: {line}"
    if "raised MemoryError" in message:
        message += "\n(the submission ran out of memory: it hit the memory limit)"
    hint = error.get("hint")
    return _relative(message, workdir), hint


def _clean_job_failure(checked: RunOutcome) -> str | None:
    """Why the clean check job raised past its own report, when it did: it runs no student code and
    catches what loading and checking a model raise, so this is the grader's or the assignment's
    failure (a sample without the arrays it should hold, a reference that does not build), never the
    student's."""
    cause = _job_failure_cause(checked)
    if cause is None:
        return None
    return f"the grader's check process failed (the assignment or modelcheck, not your submission): {cause}"


def _job_failure_cause(outcome: RunOutcome) -> str | None:
    """What a job raised past its own report (the zygote's last-resort line on its stderr), when
    it ended that way; None otherwise."""
    if outcome.exit_code != JOB_FAILED or outcome.killed_for or outcome.setup_error:
        return None
    said = [line for line in outcome.stderr.splitlines() if line.startswith(JOB_FAILED_MARK)]
    return said[-1][len(JOB_FAILED_MARK):][:300] if said else f"exit status {JOB_FAILED}"


def _broken_build_job(built: RunOutcome) -> str | None:
    """Why the build job raised past its own report, when it did: the student's code ran in it and
    left it unable to report (closed every file descriptor, replaced the modules the job uses):
    the submission's error, said in words instead of an exit status."""
    cause = _job_failure_cause(built)
    if cause is None:
        return None
    return ("the submission's process could not report to the grader after its code ran: it failed with "
            f"{cause}; code that closes file descriptors, or replaces Python's or Keras' own functions, "
            "breaks the grader's job around it")


def _as_handed_in(submission: Submission, script: Path) -> Callable[[str], str]:
    """What puts the name the student handed their file in under back in a message about the
    job's copy `script`: a name that is no plain file name (``hw3 (1).py``, ``Ivan Petrov.py``) is
    copied as ``submission.py``, and a notebook runs as a ``.py`` script (also inside a folder, as
    every Gradescope submission is), names the student never used."""
    if submission.kind != "folder":
        handed_in = display_name(submission.path.name)
    else:
        with open(script, encoding="utf-8", errors="replace") as handle:
            converted = cell_table(handle.readline(1 << 20)) is not None
        notebook = (script.name[: -len(".py")] if script.name.endswith(CONVERTED_SUFFIX)
                    else script.with_suffix(".ipynb").name)
        handed_in = display_name(notebook) if converted else script.name
    if script.name == handed_in:
        return lambda text: text
    # the name itself, never the end of another (a notebook `y.ipynb` runs as `y.py`: numpy.py stays)
    alone = re.compile(rf"(?<![\w.-]){re.escape(script.name)}(?![\w])")
    return lambda text: alone.sub(lambda _: handed_in, text)


def _copy_regular(source: Path, target: Path) -> bool:
    """Copy a file the job wrote, refusing links and oversized files."""
    try:
        info = os.lstat(source)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_MODEL_BYTES:
        return False
    shutil.copyfile(source, target, follow_symlinks=False)
    return True


# A check that failed inside modelcheck, told to the student (the library's own hint asks for a
# traceback the student never sees): no verdict on their work, and who can act on it. Set here by
# `scored_grade`, not worded by the run's audience (`for_audience`) as the checks' hints are: it
# promises what only grading decides (the points are not lost, the instructor regrades), which a
# student-audience check run elsewhere cannot promise, and the grader's own failures
# (`Grader._failed`), which no check words, need it as well.
GRADER_FAULT_HINT = ("this is a fault of the grader, not of your submission: these points are not lost, your "
                     "instructor can see the failure and regrade it; tell them if the score stays")


def scored_grade(assignment: Assignment, submission: Submission, results: list[CheckResult], *,
                 problem: str | None = None, output: str = "", notes: list[str] | None = None) -> StudentGrade:
    """The grade of `results`: a check's points when it passed (and was verified, unless the
    assignment trusts the submission's own measurements). A check that failed inside modelcheck
    itself (``details["internal"]``) is no verdict on the student: the grade is a grader error the
    instructor sees (left out of the class statistics, regraded by ``--resume``), never lost points."""
    trust = assignment.trust_submission_measurements
    points = {r.check: (assignment.points[r.check] if r.passed and (trust or not r.details.get("unverified")) else 0.0)
              for r in results}
    internal = [r for r in results if r.details.get("internal")]
    results = [replace(r, hint=GRADER_FAULT_HINT) if r.details.get("internal") else r for r in results]
    grader_error = None
    if internal:
        grader_error = internal[0].message.splitlines()[0]  # names the check: "internal error in modelcheck ..."
        if len(internal) > 1:
            grader_error += f" (and in {', '.join(r.check for r in internal[1:])})"
    return StudentGrade(student=submission.student, submission=str(submission.path), results=results,
                        points=points, max_points=dict(assignment.points), visibility=dict(assignment.visibility),
                        problem=problem, output=output, notes=list(notes or []), grader_error=grader_error)


class Grader:
    """Grades submissions of one assignment with a warm, isolated worker pool.

    >>> with Grader(load_assignment("fashion.toml"), workers=2) as grader:
    ...     grade = grader.grade(Path("submissions/alice.py"))
    ...     grade.score, grade.result("param_count").message

    Thread-safe; `grade_all` runs `workers` submissions at once. `landlock`, `restrict_reads`
    (Landlock's read rules), `seccomp` (no sockets) and `separate_uids` (only when running as root)
    switch those confinement layers; turning them off is for testing the layers beneath.
    """

    def __init__(self, assignment: Assignment, *, workers: int | None = None, pool: WarmPool | None = None,
                 workroot: str | Path | None = None, landlock: bool = True, separate_uids: bool = True,
                 restrict_reads: bool = True, seccomp: bool = True, isolation: Isolation | None = None) -> None:
        self.assignment = assignment
        self.landlock = landlock
        self.seccomp = seccomp
        self.workroot = Path(workroot) if workroot else None
        self.isolation = isolation if isolation is not None else detect(str(self.workroot) if self.workroot else None)
        self._roots = readable_roots()
        self.readable = self._roots if restrict_reads else None
        open_to_others = (roots_open_to_others(self._roots) if self.isolation.namespaces
                          else python_open_to_others())
        # uid 0 of a container's user namespace cannot take the uids it would announce
        self.separate_uids = separate_uids and really_root() and open_to_others
        if not self.separate_uids:
            not_dumpable()  # jobs keep this process's uid: they must not reach into its memory
        self._job_ids = itertools.count(1)
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._own_pool = pool is None
        self.pool = pool or WarmPool()
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.workers):
            self._slots.put(slot)
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        sweep_dead_jobdirs(self.workroot)

    def __enter__(self) -> "Grader":
        self.pool.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the warm pool (if this grader started it) and remove this grader's cgroups."""
        if self._own_pool:
            self.pool.close()
        remove_parents(self.isolation)

    def describe_isolation(self) -> str:
        """The one ``isolation: ...`` line: what every job gets, and what is missing."""
        return self.isolation.describe(self.assignment.limits.disk_mb)

    # -- one submission -------------------------------------------------------------------
    def grade(self, submission: Submission | str | Path) -> StudentGrade:
        """Grade one submission; never raises for anything the submission does."""
        if not isinstance(submission, Submission):
            submission = Submission.from_path(Path(submission))
        if submission.problem:
            grade = self._failed(submission, submission.problem, hint="hand in exactly one submission under your name")
            grade.isolation = self.isolation.as_data(self.assignment.limits.disk_mb)
            return grade
        slot = self._slots.get()
        started = time.monotonic()
        jobdir = new_jobdir(self.workroot)
        try:
            grade = self._grade_in(submission, jobdir, slot)
        except Exception as exc:  # a bug of the grader on this one submission: the others go on
            traceback.print_exc(file=sys.stderr)
            grade = self._failed(submission, f"the grader itself failed on this submission ({type(exc).__name__}: "
                                 f"{clean_text(str(exc))[:300]}); please tell your instructor", ours=True)
        finally:
            remove_jobdir(jobdir)
            self._slots.put(slot)
        grade.execution_time = round(time.monotonic() - started, 3)
        grade.isolation = self.isolation.as_data(self.assignment.limits.disk_mb)
        return grade

    def _folders(self, jobdir: Path, name: str) -> tuple[Path, Path, Path]:
        """(the job's folder, where the grader stages its files, where its exports land).

        With namespaces the folder is a tmpfs the nanny fills from the stage; without, the
        grader stages straight into the folder."""
        folder, export = jobdir / name, jobdir / f"{name}.export"
        stage = jobdir / f"{name}.stage" if self.isolation.namespaces else folder
        for path in (folder, export, stage, stage / "out", stage / "tmp"):
            path.mkdir(exist_ok=True)
        return folder, stage, export

    def _run(self, kind: str, params: dict[str, Any], folder: Path, stage: Path, export: Path, cwd: Path,
             slot: int, uid_offset: int) -> RunOutcome:
        """Run one job in `folder` under every mechanism the host has; its exports end in `export`."""
        limits = self.assignment.limits
        conf = self._confinement(folder, cwd, uid_offset, slot)
        isolate: dict[str, Any] = {}
        if self.isolation.namespaces:
            root = folder.parent / f"{folder.name}.root"
            root.mkdir()
            # the disk budget is the job's own room: what the grader stages in (the model, the
            # instructor's files) comes on top, so a large but allowed model never fills it
            isolate.update(folder=str(folder), stage=str(stage), size_mb=limits.disk_mb + _megabytes(stage),
                           export=str(export),
                           exports=list(_EXPORTS), max_export_bytes=_MAX_MODEL_BYTES)
            conf.sandbox = {"root": str(root), "folder": str(folder), "readable": self._roots}
            conf.writable.append("/dev/shm")  # (inside the job's root: its folder's tmp, for Landlock)
        cgroup = None
        if self.isolation.cgroup:
            # unique: a cgroup an earlier job could not remove (a task not yet reaped) keeps its name
            cgroup = JobCgroup.create(self.isolation, f"job-{next(self._job_ids)}-{secrets.token_hex(4)}",
                                      limits.memory_mb,
                                      limits.max_processes)
            isolate["cgroup_procs"] = cgroup.procs_files()
        try:
            outcome = run_job(self.pool, kind, params, conf, limits, isolate=isolate or None, cgroup=cgroup,
                              user_namespace=self.isolation.user_namespace)
        finally:
            if cgroup is not None:
                cgroup.remove()
        if not self.isolation.namespaces:
            copy_out(str(folder / "out"), _EXPORTS, str(export), _MAX_MODEL_BYTES)
        return outcome

    def _confinement(self, folder: Path, cwd: Path, uid_offset: int, slot: int) -> Confinement:
        limits = self.assignment.limits
        return Confinement(
            cwd=str(cwd), writable=[str(folder)], memory_mb=limits.memory_mb,
            cpu_s=int(limits.timeout_s * (os.cpu_count() or 1)) + 5, file_mb=limits.file_mb,
            max_processes=limits.max_processes,
            uid=_grader_uid_base() + (2 * slot + uid_offset) % _UIDS_PER_GRADER if self.separate_uids else None,
            landlock=self.landlock,
            seccomp=self.seccomp,
            readable=self.readable,
            env={"HOME": str(cwd), "TMPDIR": str(folder / "tmp"), "PYTHONDONTWRITEBYTECODE": "1"},
        )

    def _grade_in(self, submission: Submission, jobdir: Path, slot: int) -> StudentGrade:
        assignment = self.assignment
        os.chmod(jobdir, 0o711)  # job uids may pass through, not list
        build_dir, build_stage, build_export = self._folders(jobdir, "build")
        work = build_dir / "work"
        (build_stage / "work").mkdir()
        try:
            staged = prepare_workdir(submission, build_stage / "work", assignment.builder)
            script = build_dir / staged.relative_to(build_stage)
            named = _as_handed_in(submission, staged)  # before the job runs: the file is still the grader's
        except (OSError, ValueError) as exc:
            return self._failed(submission, clean_text(str(exc)).replace(str(build_stage / "work"), submission.student),
                                hint=f"hand in one .py file (or notebook) that defines `{assignment.builder}()`")
        # the course's modules beside the submission, so `from course_layers import Attention` works;
        # the instructor's copy replaces any file of that name the student handed in
        for name, source in assignment.course_files().items():
            target = build_stage / "work" / name
            if target.is_symlink() or target.is_dir():
                return self._failed(submission, f"the submission has a folder or link named {name}, the name of "
                                    "a module the course provides", hint=f"remove {name} from the submission")
            target.write_bytes(source.read_bytes())
        # the build job gets what building needs, never the expectations, points, reference or samples
        params = {"script": str(script), "export": str(build_dir / "out" / _EXPORTS[0]),
                  "weights": str(build_dir / "out" / _EXPORTS[1]), "threads": self.threads, "timeout_s": assignment.limits.timeout_s,
                  **assignment.build_params()}
        built = self._run("build", params, build_dir, build_stage, build_export, work, slot, 0)
        output = self._output(built)
        notes = [n for n in (built.output_note(),) if n]
        problem = _broken_build_job(built) or built.problem()
        if problem is None and built.result is None:
            problem = ("the submission's process ended before it returned a model"
                       f" (exit code {built.exit_code}); does it call sys.exit(), exit() or os._exit()?")
            if built.result_problem and built.result_problem != "the process reported no result":
                problem = f"the submission's process sent a report the grader cannot use: {built.result_problem}"
        if problem is not None:
            return self._failed(submission, problem, output=output, notes=notes,
                                ours=bool(built.setup_error) or built.zygote_lost,
                                hint="the whole submission is graded as an error; fix this and resubmit")
        report = built.result
        # a notebook's notes are about its cells; a script's, about its import stopped at the time limit. Each
        # is the submission's process's text: taken only in a template of the grader's, with the student's
        # words (an error's message, a line of code) quoted as theirs
        cell_notes = report.get("cell_notes")
        notes += [shown for note in (cell_notes if isinstance(cell_notes, list) else [])[:_MAX_CELL_NOTES]
                  if (shown := shown_note(note, script.name, assignment.builder,
                                          lambda text: named(_relative(text, work)))) is not None]
        if isinstance(report.get("error"), dict):
            message, hint = _describe_error(report["error"], work)
            return self._failed(submission, named(message), hint=hint, output=output, notes=notes)
        nonce = secrets.token_hex(16)
        check_dir, check_stage, check_export = self._folders(jobdir, "check")
        # the assignment and the instructor's files reach the clean job as files in its own folder
        instructor = assignment.write_instructor_files(check_stage).relative_to(check_stage)
        check_params: dict[str, Any] = {"nonce": nonce, "instructor": str(check_dir / instructor),
                                        "where": assignment.where, "threads": self.threads}
        measured = None
        if report.get("exported") is True and _copy_regular(build_export / _EXPORTS[0], check_stage / _EXPORTS[0]):
            check_params["model"] = str(check_dir / _EXPORTS[0])
        else:
            # only an assignment that trusts measurements asks the build job for them: a report that
            # carries them otherwise was forged by the submission's own code
            measured = report.get("measured") if assignment.trust_submission_measurements else None
            if measured is None or not _copy_regular(build_export / _EXPORTS[1], check_stage / _EXPORTS[1]):
                return self._failed(submission, "the model could not be exported, nor measured: "
                                    + str(report.get("export_problem", "no model file was written")),
                                    output=output, notes=notes)
            check_params["weights"] = str(check_dir / _EXPORTS[1])
        checked = self._run("check", check_params, check_dir, check_stage, check_export, check_dir, slot, 1)
        verdict = checked.result if isinstance(checked.result, dict) else None
        if checked.problem() or verdict is None or not secrets.compare_digest(str(verdict.get("nonce")), nonce):
            why = checked.problem(building=False) or checked.result_problem or "its report did not carry the grader's nonce"
            crashed = _clean_job_failure(checked)
            return self._failed(submission, f"checking the model failed: {crashed or why}", output=output, notes=notes,
                                ours=bool(checked.setup_error) or checked.zygote_lost or crashed is not None)
        if measured is not None:
            results = self._unverified(measured, verdict.get("static", {}), report, notes)
        elif "load_error" in verdict:
            traced = (f"\n(a subclassed model is graded through the graph its call() makes, and tracing it on symbolic "
                      f"inputs failed: {_relative(str(report['twin_problem']), work)})" if report.get("twin_problem")
                      else "")
            return self._failed(submission, "the exported model could not be loaded: " + str(verdict["load_error"])
                                + traced, output=output, notes=notes)
        else:
            results = self._not_judged(self._verdicts(verdict.get("results")), report.get("not_reproduced"))
        grade = self._scored(submission, results, output=output, notes=notes)
        if isinstance(verdict.get("layers"), list):
            grade.layers = verdict["layers"]
        return grade

    # -- turning reports into results --------------------------------------------------------
    def _verdicts(self, raw: Any) -> list[CheckResult]:
        """The check job's verdicts, one per assignment check; anything missing is an error."""
        by_name: dict[str, CheckResult] = {}
        for item in raw if isinstance(raw, list) else []:
            try:
                result = CheckResult.from_dict(item)
            except (TypeError, ValueError):
                continue
            by_name.setdefault(result.check, result)
        missing = "no verdict was recorded for this check"
        # (not `by_name.get(check) or ...`: a failed CheckResult is falsy)
        return [by_name[check] if check in by_name else CheckResult.error(check, missing)
                for check in self.assignment.checks]

    @staticmethod
    def _not_judged(results: list[CheckResult], lost: Any) -> list[CheckResult]:
        """The verdicts, with those that depend on what the exported file does not keep of how
        the student's model trains (`lost`, from the build job: reasons and what each affects)
        made "not judged": the clean job judged another objective, or another training step."""
        # (the build job's words: only the sentences fidelity writes are taken, so a student cannot
        # make a failed verdict "not judged" with words of their own)
        items = [item for item in lost if accepted(item)] if isinstance(lost, list) else []
        for result in results:
            info = CHECKS[result.check]
            scopes = {"loss": info.objective, "step": info.trains or info.gradients, "optimizer": info.trains}
            applies = [item for item in items if scopes.get(item["affects"])]
            if not applies or result.status not in (PASSED, FAILED, SKIPPED):
                continue
            result.details["judged_without_own_code"] = {"status": result.status, "message": result.message}
            result.status = SKIPPED
            result.message = (f"not judged: your model trains with {', '.join(item['reason'] for item in applies)}, "
                              "which its saved file does not keep (the grader checks the saved model with Keras' "
                              "code only)")
            training = any(item.get("fix") == "training" for item in applies)
            result.hint = OWN_TRAINING_FIX if training else OWN_CODE_FIX
        return results

    def _unverified(self, measured: list[Any], static: dict[str, Any], report: dict[str, Any],
                    notes: list[str]) -> list[CheckResult]:
        results = self._verdicts(measured)
        counted = static.get("total_params")
        expected = self.assignment.spec.total_params
        notes.append(UNVERIFIED_NOTE + f" ({report.get('export_problem', '')})")
        for result in results:
            # every figure, the saved weights' count too, comes from files and reports the
            # submission's own process wrote: none is verified, whatever it says
            result.details["unverified"] = True
            if result.check == "param_count" and result.passed and counted is not None and (
                    counted != report.get("total_params") or (expected is not None and counted != expected)):
                result.status = FAILED
                result.message = (f"total parameters: expected {expected if expected is not None else 'the count reported'}"
                                  f", received {counted:,} in the saved weights (the submission's process reported "
                                  f"{report.get('total_params')!r})")
        return results

    def _scored(self, submission: Submission, results: list[CheckResult], *, problem: str | None = None,
                output: str = "", notes: list[str] | None = None) -> StudentGrade:
        return scored_grade(self.assignment, submission, results, problem=problem, output=output, notes=notes)

    def _failed(self, submission: Submission, message: str, *, hint: str | None = None, output: str = "",
                notes: list[str] | None = None, ours: bool = False) -> StudentGrade:
        """Every check an error with `message`; with `ours` (the grader could not set the job up) a
        grader error, no verdict on the student."""
        details = {"internal": True} if ours else {}
        results = [CheckResult(check=check, status=ERROR, message=message, hint=None if ours else hint,
                               model=submission.student, details=dict(details))
                   for check in self.assignment.checks]
        return self._scored(submission, results, problem=message, output=output, notes=notes)

    @staticmethod
    def _output(outcome: RunOutcome) -> str:
        parts = [text for text in (outcome.stdout, outcome.stderr) if text.strip()]
        return "\n".join(parts)

    # -- many submissions ---------------------------------------------------------------------
    def grade_all(self, submissions: Iterable[Submission],
                  progress: Callable[[StudentGrade, int, int], None] | None = None) -> list[StudentGrade]:
        """Grade `submissions`, `workers` at a time; `progress(grade, done, total)` after each."""
        todo = list(submissions)
        grades: dict[int, StudentGrade] = {}
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="modelcheck-grade") as executor:
            futures = {executor.submit(self.grade, s): i for i, s in enumerate(todo)}
            for future in as_completed(futures):
                grades[futures[future]] = grade = future.result()  # `grade` never raises for a submission
                if progress is not None:
                    progress(grade, len(grades), len(todo))
        return [grades[i] for i in range(len(todo))]


def grade_submission(assignment: Assignment | str | Path, path: str | Path, *,
                     grader: Grader | None = None) -> StudentGrade:
    """Grade one submission (a .py file, a folder or a notebook) in its own sandbox.

    Pass a long-lived `grader` to reuse its warm worker pool across submissions; without one,
    a pool is started for this call (a few seconds for TensorFlow's import).
    """
    if grader is not None:
        return grader.grade(Path(path))
    if not isinstance(assignment, Assignment):
        assignment = load_assignment(assignment)
    with Grader(assignment, workers=1) as own:
        return own.grade(Path(path))
