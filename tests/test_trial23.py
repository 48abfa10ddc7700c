"""Trial 23: an instructor grading a class at scale (resume, class files, the gradebook)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from modelcheck.grading import load_assignment
from modelcheck.grading.course import grade_course
from modelcheck.grading.executors import grader_error_grade
from modelcheck.grading.progress import summary
from modelcheck.grading.resume import RunState, content_hash
from modelcheck.grading.submissions import Submission

from .grading_cluster import SUBMISSIONS, TOY


def _kept_grade(assignment, submission: Submission, *, notes: list[str], problem: str | None = None):
    """A decided grade (no grader error) of `submission`, as a finished run keeps it."""
    grade = grader_error_grade(assignment, submission, "x")
    grade.grader_error, grade.problem, grade.notes = None, problem, notes
    grade.points = {check: 0.0 for check in assignment.points}
    return grade


def test_resume_regrades_what_stopped_at_a_module_installed_since(tmp_path: Path):
    """The summary tells the instructor to install a module the notebooks import (matplotlib) and
    grade again; their files did not change, so --resume kept every zero and a whole class had to
    be regraded for the few that stopped there. Now --resume regrades exactly those."""
    assignment = load_assignment(TOY)
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann", "bob", "cat"):
        shutil.copy(SUBMISSIONS / "threats" / "good_toy.py", folder / f"{name}.py")
    state = RunState(tmp_path / "out", assignment)
    installed = "your notebook: cell 1 raised ModuleNotFoundError: No module named 'csv' (line 1 ...)"
    absent = "importing bob.py raised ModuleNotFoundError: No module named 'surely_not_installed_t23'"
    for name, notes, problem in (("ann", [installed], "build_model() raised NameError"), ("bob", [], absent),
                                 ("cat", [], None)):
        submission = Submission(name, folder / f"{name}.py")
        state.record(_kept_grade(assignment, submission, notes=notes, problem=problem), content_hash(submission))
    run = grade_course(TOY, folder, tmp_path / "out", resume=True, workers=1, quiet=True)
    assert [g.student for g in run.graded] == ["ann"]  # installed now: regraded, and full marks
    assert run.graded[0].score == 3.0 and run.skipped == ["bob", "cat"]
    rows = {row["student"]: row["score"] for row in csv.DictReader((tmp_path / "out" / "gradebook.csv").open())}
    assert rows == {"ann": "3", "bob": "0", "cat": "0"}
    # a student's own helper in the folder the grader runs from is no module installed since
    (tmp_path / "surely_not_installed_t23.py").write_text("")
    bob = Submission("bob", folder / "bob.py")
    import os
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert state.is_current(bob, content_hash(bob))
    finally:
        os.chdir(cwd)


def test_the_summary_says_resume_regrades_what_stopped_at_a_missing_module(tmp_path: Path):
    assignment = load_assignment(TOY)
    grades = [_kept_grade(assignment, Submission(f"s{i}", tmp_path / f"s{i}.ipynb"),
                          notes=["cell 1 raised ModuleNotFoundError: No module named 'matplotlib'"]) for i in range(2)]
    line = next(line for line in summary(grades) if line.startswith("missing here"))
    assert line.startswith("missing here: 1 module the submissions import is not installed where grading runs")
    assert line.endswith("and grade again with --resume, which regrades the submissions that stopped at a module "
                         "installed since")
    assert "without --resume" not in line


def test_resume_rewrites_a_kept_students_files_that_went_missing(tmp_path: Path):
    """A kept grade's results.json and feedback page were never written again: a student folder
    deleted from OUT (or a write that failed on a full disk, whose record was still kept) left the
    class page linking to a page that is not there, run after run of --resume."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "threats" / "good_toy.py", folder / "ann.py")
    shutil.copy(SUBMISSIONS / "threats" / "returns_none.py", folder / "bob.py")
    out = tmp_path / "out"
    grade_course(TOY, folder, out, workers=1, quiet=True)
    results = (out / "ann" / "results.json").read_text()
    shutil.rmtree(out / "ann")
    (out / "bob" / "feedback.html").unlink()
    again = grade_course(TOY, folder, out, resume=True, workers=1, quiet=True)
    assert again.graded == [] and again.skipped == ["ann", "bob"]  # nothing regraded: written from the records
    assert (out / "ann" / "results.json").read_text() == results
    assert (out / "ann" / "feedback.html").is_file() and (out / "bob" / "feedback.html").is_file()


def test_a_comment_edited_in_the_assignment_file_regrades_nobody(tmp_path: Path):
    """--resume hashed the assignment file's text: fixing a typo in a comment of fashion.toml
    regraded the whole class (4 CPU-hours at 10,000). What the file says, and the files it names,
    still regrade everyone when they change."""
    text = TOY.read_text()
    first = tmp_path / "a.toml"
    first.write_text(text)
    state = RunState(tmp_path / "out", load_assignment(first))
    edited = tmp_path / "b.toml"
    edited.write_text("# toy, for the course of 2026\n" + text.replace("[points]", "\n[points]   # what each check is worth"))
    assert RunState(tmp_path / "out", load_assignment(edited)).assignment_hash == state.assignment_hash
    changed = tmp_path / "c.toml"
    changed.write_text(text.replace("param_count = 2", "param_count = 3"))
    assert RunState(tmp_path / "out", load_assignment(changed)).assignment_hash != state.assignment_hash


def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path: Path):
    """Slurm at a job's time limit, `timeout`, `docker stop` and Kubernetes send SIGTERM: the run
    ended at once, with the gradebook behind the records, its job folders and cgroups left for a
    later run to sweep, and no word of what was kept. Now it stops as after Ctrl-C."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from .grading_cluster import write_class

    students = write_class(tmp_path / "class", slow=3, seconds=3.0)
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(tmp)}
    run = subprocess.Popen([sys.executable, "-m", "modelcheck.cli", "grade", str(TOY), str(tmp_path / "class"),
                            "--out", str(out), "--workers", "1"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    records = out / ".modelcheck" / "grades"
    deadline = time.monotonic() + 180
    while run.poll() is None and time.monotonic() < deadline and len(list(records.glob("*.json"))) < 2:
        time.sleep(0.1)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 143, stderr
    assert "stopped by SIGTERM; what was graded is kept in the output folder (rerun with --resume)" in stderr
    kept = {json.loads(p.read_text())["student"] for p in records.glob("*.json")}
    assert 2 <= len(kept) < len(students)
    with (out / "gradebook.csv").open() as handle:
        assert {row["student"] for row in csv.DictReader(handle)} == kept
    assert not list(tmp.glob("modelcheck-grade-*"))  # its job folders removed, as after Ctrl-C
    cgroups = [Path("/sys/fs/cgroup/pids") / f"modelcheck-{run.pid}", Path("/sys/fs/cgroup") / f"modelcheck-{run.pid}"]
    assert not [c for c in cgroups if c.exists()]


class _Clock:
    """A clock that moves only when told: no wall-clock in the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def _grade_without_jobs(monkeypatch, assignment, clock: _Clock | None = None) -> None:
    """grade_course on an executor that grades nothing: each submission gets 0 points at once
    (half a second later on `clock`)."""
    from modelcheck.grading import course

    class Executor:
        name, slots = "fake", 2

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def describe_isolation(self) -> str:
            return "isolation: none (a test)"

        def grade_many(self, todo, on_grade) -> None:
            for submission in todo:
                if clock is not None:
                    clock.now += 0.5
                on_grade(_kept_grade(assignment, submission, notes=[]))

    monkeypatch.setattr(course, "make_executor", lambda *a, **k: Executor())


def test_the_class_files_take_a_small_share_of_a_large_run(tmp_path: Path, monkeypatch):
    """The gradebook and index were rewritten every 2 s whatever the class size; each rewrite costs in
    proportion to the class (0.5 s at 10,000), so over a run they took a quarter of the grader's
    time, growing with the class. Here each rewrite costs 1 ms per student and a grade comes every
    0.5 s: the rewrites must stay near a twentieth of the run, and still stream."""
    from modelcheck.grading import course

    assignment = load_assignment(TOY)
    folder = tmp_path / "class"
    folder.mkdir()
    students = [f"s{i:04d}" for i in range(1000)]
    for name in students:
        (folder / f"{name}.py").write_text(f"# {name}\n")
    clock = _Clock()
    spent = []

    def class_files(grades, *args, **kwargs):
        spent.append(0.001 * len(grades))
        clock.now += spent[-1]
        return tmp_path / "out" / "index.html"

    monkeypatch.setattr(course, "time", clock)
    _grade_without_jobs(monkeypatch, assignment, clock)
    monkeypatch.setattr(course, "write_class_files", class_files)
    monkeypatch.setattr(course, "write_student_files", lambda *a, **k: "")
    run = course.grade_course(TOY, folder, tmp_path / "out", quiet=True)
    assert len(run.graded) == 1000 and [g.student for g in run.grades] == students
    assert sum(spent) <= 0.06 * clock.now  # was 0.2: a rewrite every 2 s, each up to 1 s
    assert len(spent) >= 20  # the gradebook still follows the run


def test_the_class_page_counts_one_cause_once_whoever_handed_it_in(tmp_path: Path):
    """'s37.py defines no function `build_model()`; it defines build_modle()': the file name made
    every such message unique, so the most common causes of a class of 200 (a misnamed builder,
    a syntax error) were rows of one each, left out of the ten the class page shows."""
    from modelcheck.grading.outputs import class_statistics

    assignment = load_assignment(TOY)
    grades = []
    for i, problem in enumerate(["s{i}.py defines no function `build_model()`; it defines build_modle()",
                                 "s{i}.py defines no function `build_model()`; it defines buildModel()",
                                 "s{i}.py has a syntax error: invalid syntax\n  at s{i}.py:3: def build_model(:",
                                 "s{i}.py has a syntax error: invalid syntax\n  at s{i}.py:9: return",
                                 "build_model() raised ValueError: not finished yet"]):
        grade = _kept_grade(assignment, Submission(f"s{i}", tmp_path / f"s{i}.py"), notes=[],
                            problem=problem.format(i=i))
        grades.append(grade)
    folder = _kept_grade(assignment, Submission("s9", tmp_path / "s9"), notes=[],
                         problem="the folder s9/ holds no .py file or notebook (it is empty)")
    stats = class_statistics([*grades, folder], assignment.checks, assignment.max_score)
    assert stats["failures"] == [
        ("every check", "<student's file> defines no function `build_model()`", 2),
        ("every check", "<student's file> has a syntax error: invalid syntax", 2),
        ("every check", "build_model() raised ValueError: not finished yet", 1),
        ("every check", "the folder <student's folder>/ holds no .py file or notebook (it is empty)", 1)]


DROPOUT_ASSIGNMENT = """
[assignment]
name = "toy_dropout"
builder = "build_model"

[expect]
input_shape = [4]
output_shape = [3]
output = "probabilities"

[points]
overfit_batch = 1
loss_decrease = 1

[limits]
timeout_s = 30
memory_mb = 1500
"""

DROPOUT_MODEL = """import keras
from keras import layers


def build_model():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(16, activation="relu"), layers.Dropout(0.5),
                              layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model
"""


def test_a_model_with_dropout_gets_the_same_verdicts_each_time_it_is_graded(tmp_path: Path):
    """The same submission graded three times (as workers=1, workers=2, Dask or a --resume would)
    trained differently each time: memorised in 30 or 38 steps, loss 0.49 / 0.4839 / 0.4841. A
    check near its step budget would pass in one run and fail in the next."""
    from modelcheck.grading.grade import Grader

    (tmp_path / "dropout.toml").write_text(DROPOUT_ASSIGNMENT)
    (tmp_path / "ann.py").write_text(DROPOUT_MODEL)
    with Grader(load_assignment(tmp_path / "dropout.toml"), workers=1) as grader:
        said = [tuple(r.message for r in grader.grade(Submission("ann", tmp_path / "ann.py")).results)
                for _ in range(3)]
    assert all(r == said[0] for r in said), said


def test_resume_says_why_it_grades_submissions_again(tmp_path: Path, monkeypatch):
    """A --resume that starts the whole class again ('grading 200 of 200') did not say why: the
    instructor could not tell a changed assignment file (a point moved) from a lost OUT folder."""
    import io

    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann", "bob", "cat"):
        (folder / f"{name}.py").write_text(f"# {name}\n")
    assignment = tmp_path / "toy.toml"
    assignment.write_text(TOY.read_text())
    _grade_without_jobs(monkeypatch, load_assignment(assignment))
    out = tmp_path / "out"
    grade_course(assignment, folder, out, quiet=True)
    (folder / "bob.py").write_text("# bob, again\n")
    (folder / "dan.py").write_text("# dan\n")
    said = io.StringIO()
    grade_course(assignment, folder, out, resume=True, stream=said, bar=False)
    assert ("grading 2 of 4 submissions of 'toy' on fake (2 at a time): 1 changed since graded, 1 not graded yet"
            in said.getvalue())
    assignment.write_text(TOY.read_text().replace("param_count = 2", "param_count = 3"))
    said = io.StringIO()
    grade_course(assignment, folder, out, resume=True, stream=said, bar=False)
    assert ("grading 4 of 4 submissions of 'toy' on fake (2 at a time): 4 graded under another assignment file, its "
            "files or modelcheck version") in said.getvalue()


class _LosingClient:
    """A Dask client whose scheduler goes away once the first task is sent: as distributed does
    after failing to reconnect, it closes, cancels what was sent, refuses to submit and knows no
    workers."""

    def __init__(self) -> None:
        self.status = "running"
        self.sent: list = []

    def scheduler_info(self) -> dict:
        return {"workers": {"tcp://w": {"host": "w", "nthreads": 1}}} if self.status == "running" else {"id": "x"}

    def submit(self, *args, **kwargs):
        from concurrent.futures import CancelledError

        if self.status != "running":
            raise RuntimeError("Client is closed. Can't send update-graph message.")
        client = self

        class Future:
            callback = None

            def done(self) -> bool:
                return client.status != "running"

            def result(self):
                raise CancelledError("modelcheck-grade-x cancelled for reason: scheduler-connection-lost.")

            def add_done_callback(self, callback) -> None:
                self.callback = callback

        self.sent.append(Future())
        import threading

        threading.Timer(0.1, self.lose).start()
        return self.sent[-1]

    def lose(self) -> None:
        self.status = "closed"
        for future in self.sent:
            future.callback(future)

    def cancel(self, futures) -> None:
        if self.status != "running":
            raise RuntimeError("Client is closed. Can't send cancel-keys message.")


def test_a_lost_dask_scheduler_ends_the_run_with_grader_errors_not_a_hang(tmp_path: Path):
    """Killing the scheduler of `modelcheck grade --scheduler` mid-run (60 students, 12 graded) hung the
    run for good: the client gave up reconnecting and closed, sending the next submission raised
    inside a Dask callback (KeyError: 'workers'), so the 48 queued were never sent and never given
    up on; a Ctrl-C then ended in a ClosedClientError traceback. Now each is a grader error, which
    --resume grades again, and the run ends."""
    from modelcheck.grading.dask_executor import DaskExecutor

    executor = DaskExecutor(load_assignment(TOY), scheduler="tcp://head:8786")
    executor.client = _LosingClient()
    students = [Submission(name, tmp_path / f"{name}.py") for name in ("ann", "bob", "cat")]
    grades = []
    import threading

    run = threading.Thread(target=executor.grade_many, args=(students, grades.append), daemon=True)
    run.start()
    run.join(timeout=120)  # a guard against the hang, not a measure of time
    assert not run.is_alive(), "grade_many still waits for submissions that can never be sent"
    assert sorted(g.student for g in grades) == ["ann", "bob", "cat"]
    assert all("the connection to the Dask scheduler tcp://head:8786 was lost" in g.grader_error for g in grades)
    assert len(executor.client.sent) == 1  # nothing more was sent once it was gone
    # one asked for alone (the pytest plugin's way) is not waited for either
    assert "was lost" in executor.grade(Submission("dan", tmp_path / "dan.py")).grader_error
    # cancelled by distributed the moment the connection dropped, before the client gives up on it
    executor.client.status = "connecting"
    future = executor.client.sent[0]
    assert "the connection to the Dask scheduler tcp://head:8786 was lost" in executor._settled(
        future, Submission("eve", tmp_path / "eve.py")).grader_error


def test_a_local_cluster_says_the_isolation_its_jobs_get(tmp_path: Path):
    """`--executor dask` (a LocalCluster on this machine) said 'isolation: decided on each Dask worker's
    machine': the one line that must never let a missing mechanism go unnoticed said nothing, though
    the workers are on this very machine, whose isolation the client had just checked."""
    pytest.importorskip("distributed")
    from modelcheck.grading.executors import make_executor
    from modelcheck.grading.isolation import detect

    assignment = load_assignment(TOY)
    with make_executor(assignment, executor="dask", workers=1) as executor:
        said = executor.describe_isolation()
    assert said == detect().describe(assignment.limits.disk_mb)
    assert said.startswith("isolation: ") and "decided on each" not in said


SLOW_SOUND = """import time

import keras
from keras import layers


def build_model():
    time.sleep(4)
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
"""


def test_a_zygote_killed_under_a_job_is_a_grader_error_not_the_students(tmp_path: Path):
    """The zygote killed mid-run (the OS's out-of-memory killer picks the largest process; an admin):
    the two submissions in flight, a correct one among them, scored 0/8 with 'the submission killed the
    grader's process that supervised it', a student's own failure, which --resume keeps for good."""
    import os
    import signal
    import threading
    import time

    from modelcheck.grading.grade import Grader

    (tmp_path / "ann.py").write_text(SLOW_SOUND)
    with Grader(load_assignment(TOY), workers=1) as grader:
        box = {}
        run = threading.Thread(target=lambda: box.update(grade=grader.grade(Submission("ann", tmp_path / "ann.py"))))
        run.start()
        zygote = grader.pool._process.pid
        deadline = time.monotonic() + 60
        while not _children_of(zygote) and time.monotonic() < deadline:  # a nanny: the build job runs
            time.sleep(0.05)
        os.kill(zygote, signal.SIGKILL)
        run.join(timeout=120)
    grade = box["grade"]
    assert grade.grader_error, grade.problem  # no verdict on ann: --resume grades her again


def _children_of(pid: int) -> list[int]:
    import os

    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


def test_pytest_grading_says_where_the_gradebook_went_or_that_none_was_written(pytester: pytest.Pytester):
    """The README's `pytest --modelcheck --modelcheck-grade assignment.toml submissions/` graded a class
    of 60 (360 items, 84 s) and wrote no gradebook, no results.json and no feedback page, and its
    output did not say so, nor which option writes them."""
    shutil.copy(TOY, pytester.path / "toy.toml")
    submissions = pytester.mkdir("submissions")
    shutil.copy(SUBMISSIONS / "threats" / "good_toy.py", submissions / "ann.py")
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-grade", "toy.toml", "submissions",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert not list(pytester.path.rglob("gradebook.csv"))
    assert "--modelcheck-grade-out" in result.stdout.str()


def test_only_reads_the_named_students_files_alone(tmp_path: Path, monkeypatch):
    """`--only alice` hashed every submission of the class before regrading one: at 10,000 notebooks of
    a few MB each, tens of GB read (from a shared filesystem, often) for one student."""
    from modelcheck.grading import course

    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann", "bob", "cat"):
        (folder / f"{name}.py").write_text(f"# {name}\n")
    _grade_without_jobs(monkeypatch, load_assignment(TOY))
    grade_course(TOY, folder, tmp_path / "out", quiet=True)
    read = []
    monkeypatch.setattr(course, "content_hash", lambda s: read.append(s.student) or content_hash(s))
    run = grade_course(TOY, folder, tmp_path / "out", only=["bob"], quiet=True)
    assert read == ["bob"] and [g.student for g in run.graded] == ["bob"]
    assert RunState(tmp_path / "out", load_assignment(TOY)).is_current(
        Submission("bob", folder / "bob.py"), content_hash(Submission("bob", folder / "bob.py")))
    read.clear()
    grade_course(TOY, folder, tmp_path / "out", resume=True, quiet=True)
    assert read == ["ann", "bob", "cat"]  # --resume reads each once


def test_the_last_line_counts_grader_errors_apart_from_the_graded(tmp_path: Path):
    """A Dask scheduler lost after 8 of 60: the run's last line read 'graded 60 submissions in 43.3 s
    (83.1 per minute)', 52 of them grader errors with no verdict."""
    assignment = load_assignment(TOY)
    graded = [_kept_grade(assignment, Submission(f"s{i}", tmp_path / f"s{i}.py"), notes=[]) for i in range(8)]
    lost = [grader_error_grade(assignment, Submission(f"l{i}", tmp_path / f"l{i}.py"), "scheduler lost")
            for i in range(52)]
    assert summary([*graded, *lost], elapsed=60.0)[-1] == (
        "graded 8 submissions in 60.0 s (8.0 per minute), and failed on 52 (grader errors)")
    assert summary(graded, elapsed=60.0, skipped=3)[-1] == (
        "graded 8 submissions in 60.0 s (8.0 per minute); 3 unchanged since they were graded, kept")


def test_two_runs_never_write_one_out_folder_at_once(tmp_path: Path, monkeypatch):
    """Two `modelcheck grade` runs into one OUT (a second terminal, an overlapping cron job) interleaved their
    records and class files; the second now stops before grading, saying why, and OUT is free again after."""
    import fcntl
    import os

    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ann.py").write_text("# ann\n")
    _grade_without_jobs(monkeypatch, load_assignment(TOY))
    out = tmp_path / "out"
    grade_course(TOY, folder, out, quiet=True)
    held = os.open(out / ".modelcheck" / "lock", os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another run, writing now
        with pytest.raises(ValueError, match="another modelcheck run is writing to .* now; wait for it to end"):
            grade_course(TOY, folder, out, resume=True, quiet=True)
    finally:
        os.close(held)
    assert [g.student for g in grade_course(TOY, folder, out, quiet=True).graded] == ["ann"]
