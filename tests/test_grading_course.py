"""A course run: results written as each student is graded, an interrupted run resumed,
one student regraded, progress and the summary; on the local warm pool."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelcheck.grading import load_assignment
from modelcheck.grading.course import grade_course
from modelcheck.grading.executors import grader_error_grade
from modelcheck.grading.progress import Progress, summary
from modelcheck.grading.resume import RunState, content_hash
from modelcheck.grading.submissions import Submission

from .grading_cluster import SUBMISSIONS, TOY, write_class


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "modelcheck.cli", "grade", str(TOY), *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _gradebook(out: Path) -> dict[str, str]:
    return {row["student"]: row["score"] for row in csv.DictReader((out / "gradebook.csv").open())}


def _records(out: Path) -> dict[str, float]:
    """student -> modification time of its record."""
    return {json.loads(p.read_text())["student"]: p.stat().st_mtime
            for p in (out / ".modelcheck" / "grades").glob("*.json")}


def test_an_interrupted_run_keeps_what_was_graded_and_resume_grades_only_the_rest(tmp_path: Path):
    students = write_class(tmp_path / "class", slow=3, seconds=4.0)
    out = tmp_path / "out"
    run = _cli(str(tmp_path / "class"), "--out", str(out), "--workers", "1", cwd=tmp_path)
    deadline = time.monotonic() + 180
    while len(_records(out) if out.exists() else {}) < 2 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "interrupted; what was graded is kept" in stderr, stderr
    kept = _records(out)
    # (this test failed twice in full-suite runs of a fresh clone and passed on every rerun: the messages
    # say what the run had done, for the next time)
    assert 2 <= len(kept) < len(students), (sorted(kept), stderr)
    assert set(_gradebook(out)) == set(kept), (_gradebook(out), sorted(kept), stderr)
    for student in kept:
        assert json.loads((out / student / "results.json").read_text())["max_score"] == 3.0
        assert (out / student / "feedback.html").exists()

    changed = sorted(kept)[0]
    path = tmp_path / "class" / f"{changed}.py"
    path.write_text(path.read_text() + "\n# edited after grading\n")
    resumed = _cli(str(tmp_path / "class"), "--out", str(out), "--resume", "--workers", "2", cwd=tmp_path)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    regraded = len(students) - len(kept) + 1
    assert f"grading {regraded} of {len(students)} submissions" in stderr, (sorted(kept), stderr)
    assert f"{len(kept) - 1} unchanged since they were graded, kept" in stderr, (sorted(kept), stderr)
    after = _records(out)
    assert set(after) == set(students), (sorted(after), stderr)
    # unchanged records untouched
    assert {s for s in kept if after[s] != kept[s]} == {changed}, (kept, after, changed, stderr)
    assert _gradebook(out) == {"forge_files": "1", "good_toy": "3", "os_exit_in_builder": "0", "returns_none": "0",
                               "slow_0": "3", "slow_1": "3", "slow_2": "3"}


def test_only_regrades_the_named_student_and_keeps_the_rest(tmp_path: Path):
    students = write_class(tmp_path / "class", slow=0)
    out = tmp_path / "out"
    first = grade_course(TOY, tmp_path / "class", out, workers=2, quiet=True)
    assert [g.student for g in first.grades] == students
    before = _records(out)
    (tmp_path / "class" / "returns_none.py").write_text((tmp_path / "class" / "good_toy.py").read_text())
    again = grade_course(TOY, tmp_path / "class", out, workers=1, only=["returns_none"], quiet=True)
    assert [g.student for g in again.graded] == ["returns_none"]
    assert [g.student for g in again.grades] == students
    after = _records(out)
    assert [s for s in students if after[s] != before[s]] == ["returns_none"]
    assert _gradebook(out)["returns_none"] == "3" and _gradebook(out)["forge_files"] == "1"
    with pytest.raises(ValueError, match="--only nobody: no such submission; the students are forge_files"):
        grade_course(TOY, tmp_path / "class", out, only=["nobody"], quiet=True)


def test_only_takes_a_students_file_as_tab_completion_gives_it(tmp_path: Path):
    from modelcheck.grading.course import _plan

    found = [Submission("alice", tmp_path / "subs" / "alice.py"), Submission("bob", tmp_path / "subs" / "bob"),
             Submission("carol", tmp_path / "subs" / "carol.ipynb")]
    picked = _plan(found, RunState(tmp_path / "out", load_assignment(TOY)), {}, resume=False,
                   only=["subs/alice.py", "subs/bob/", "carol"])
    assert [s.student for s in picked] == ["alice", "bob", "carol"]
    with pytest.raises(ValueError, match="--only subs/dave.py: no such submission; the students are alice, bob"):
        _plan(found, RunState(tmp_path / "out", load_assignment(TOY)), {}, resume=False, only=["subs/dave.py"])


def test_the_content_hash_follows_the_files_that_are_graded(tmp_path: Path):
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "model.py").write_text("def build_model():\n    pass\n")
    submission = Submission("ann", folder)
    first = content_hash(submission)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "model.pyc").write_bytes(b"\0")
    assert content_hash(submission) == first  # not copied into the sandbox, not part of the content
    (folder / "helpers.py").write_text("X = 1\n")
    assert content_hash(submission) != first


def test_resume_regrades_a_grader_error_and_a_changed_assignment(tmp_path: Path):
    assignment = load_assignment(TOY)
    submission = Submission("ann", tmp_path / "ann.py")
    submission.path.write_text("x = 1\n")
    state = RunState(tmp_path / "out", assignment)
    digest = content_hash(submission)
    state.record(grader_error_grade(assignment, submission, "worker lost"), digest)
    assert not state.is_current(submission, digest)
    grade = grader_error_grade(assignment, submission, "x")
    grade.grader_error, grade.problem = None, None
    state.record(grade, digest)
    assert state.is_current(submission, digest)
    other = load_assignment(TOY.parent / "fashion.toml")
    assert not RunState(tmp_path / "out", other).is_current(submission, digest)


def test_plain_progress_lines_and_the_summary_name_rate_eta_errors_and_the_slowest(tmp_path: Path):
    assignment = load_assignment(TOY)
    grades = []
    for i, seconds in enumerate((1.0, 5.0, 2.0)):
        grade = grader_error_grade(assignment, Submission(f"s{i}", tmp_path / f"s{i}.py"), "lost")
        grade.grader_error, grade.problem, grade.execution_time = None, None, seconds
        grade.points = dict(assignment.points) if i else {c: 0.0 for c in assignment.points}
        grades.append(grade)
    lost = grader_error_grade(assignment, Submission("s3", tmp_path / "s3.py"), "worker lost twice")
    stream = io.StringIO()
    with Progress(4, stream=stream) as progress:
        for grade in [*grades, lost]:
            progress.advance(grade)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[0].startswith("[1/4] s0: 0/3 (1.0 s) graded | ")
    assert "/min, ETA " in lines[0] and lines[3].startswith("[4/4] s3: 0/3")
    text = summary([*grades, lost], elapsed=30.0)
    assert text[0] == ("errors: 0 submissions could not be run (graded as errors), 1 grader errors "
                       "(no verdict; regrade them with --resume)")
    assert "mean score: 2.00 / 3 over 3 students" in text  # the grader error is no verdict
    assert "slowest: s1 (5.0 s), s2 (2.0 s), s0 (1.0 s)" in text
    assert text[-1] == "graded 3 submissions in 30.0 s (6.0 per minute), and failed on 1 (grader errors)"


def test_the_summary_names_the_modules_submissions_import_that_are_not_installed_here(tmp_path: Path):
    """A grading machine without matplotlib stops most notebooks' first cell (import keras with
    it), and a correct model then scores 0: only the instructor can install it."""
    assignment = load_assignment(TOY)
    grades = [grader_error_grade(assignment, Submission(f"s{i}", tmp_path / f"s{i}.ipynb"), "") for i in range(3)]
    for grade in grades:
        grade.grader_error = None
    grades[0].problem = "build_model() raised NameError: name 'keras' is not defined"
    grades[0].notes = ["your notebook: cell 2 raised ModuleNotFoundError: No module named 'matplotlib' (line 3 ...",
                       "your notebook: cell 3 raised ModuleNotFoundError: No module named 'matplotlib'"]
    grades[1].problem = "importing s1.py raised ModuleNotFoundError: No module named 'seaborn.objects'"
    grades[2].notes = ["your notebook: cell 1 raised ModuleNotFoundError: No module named 'matplotlib.pyplot'"]
    said = summary(grades)
    assert ("missing here: 1 module the submissions import is not installed where grading runs, so the cells or "
            "files importing them stopped there: matplotlib (2 submissions); install them "
            "here (for Gradescope: modelcheck gradescope ... --package NAME) and grade again with --resume, which "
            "regrades the submissions that stopped at a module installed since") in said
    # one submission's own name (its helper file not handed in, a typo, a package a cheat wants installed on the
    # grading machine) is said apart, with no advice to install it (red team 17)
    assert ("imported by one submission only, and not installed here: seaborn (a file of the student's own not handed "
            "in, or a misspelt name: their feedback says which); install one only if your course uses it") in said
    assert any(line.startswith("missing here: 1 module the") for line in summary(grades[1:2]))  # graded alone
    assert not any(line.startswith("missing here") for line in summary(grades[:0]))
    # a quiet run (-q) still says it, and the grader errors, and nothing else
    quiet = summary(grades, actions_only=True)
    assert len(quiet) == 2 and quiet[0].startswith("missing here: 1 module the")
    lost = grader_error_grade(assignment, Submission("s9", tmp_path / "s9.py"), "worker lost twice")
    assert summary([lost], actions_only=True) == [
        "errors: 0 submissions could not be run (graded as errors), 1 grader errors (no verdict; regrade them with "
        "--resume)", "  grader error, s9: worker lost twice"]
    clean = grader_error_grade(assignment, Submission("s8", tmp_path / "s8.py"), "")
    clean.grader_error = clean.problem = None
    assert summary([clean], actions_only=True) == []  # nothing to act on: a quiet run stays quiet


def test_a_reference_solution_that_loses_points_is_said_before_grading(tmp_path: Path):
    """An [expect] figure that contradicts the reference (a typo: 68 parameters for 67) costs every
    student who builds that model the same points, and nothing said so."""
    folder = tmp_path / "course"
    (folder / "class").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "threats" / "good_toy.py", folder / "solution.py")
    shutil.copy(SUBMISSIONS / "threats" / "good_toy.py", folder / "class" / "alice.py")
    toy = TOY.read_text().replace('builder = "build_model"', 'builder = "build_model"\nreference = "solution.py"')
    said = {}
    for name, params in (("typo", 68), ("right", 67)):
        (folder / f"{name}.toml").write_text(toy.replace("total_params = 67", f"total_params = {params}"))
        stream = io.StringIO()
        grade_course(folder / f"{name}.toml", folder / "class", tmp_path / name, workers=1, quiet=True, stream=stream)
        said[name] = [line for line in stream.getvalue().splitlines() if "warning" in line]
    assert said["typo"] == [
        "modelcheck: warning: the reference solution solution.py gets 1 / 3 on this assignment, so every student who "
        "builds that model loses the same points (param_count: total parameters: expected 68, received 67 (-1), at the "
        "whole model; per layer: dense: (4 + 1) x 8 = 40; dense_1: (8 + 1) x 3 = 27); check [expect] and [data] "
        "against it"]
    assert said["right"] == []
    assert _gradebook(tmp_path / "typo") == {"alice": "1"}  # graded all the same: the instructor decides


def test_a_reference_solution_the_grader_fails_on_is_said_before_grading(tmp_path: Path):
    from modelcheck.grading.course import _check_reference

    assignment = load_assignment(TOY)
    assignment = type(assignment)(**{**assignment.__dict__, "reference": "toy.toml"})

    class Failing:
        def grade_many(self, submissions, on_grade):
            on_grade(grader_error_grade(assignment, submissions[0], "SpecError: the sample file holds X, Y"))

    stream = io.StringIO()
    _check_reference(assignment, Failing(), stream)
    assert stream.getvalue() == ("modelcheck: warning: grading the reference solution toy.toml failed, so the "
                                 "students' grading will likely fail the same way: SpecError: the sample file holds "
                                 "X, Y\n")


def test_a_progress_line_carries_no_control_sequence_from_a_submissions_error():
    from modelcheck.grading.grade import StudentGrade

    grade = StudentGrade(student="mallory", submission="mallory.py", results=[], points={}, max_points={},
                         problem="build_model() raised ValueError: \x1b[2J\x1b]0;owned\x07 cleared your screen")
    stream = io.StringIO()
    progress = Progress(1, stream=stream, bar=False)
    progress.advance(grade)
    line = stream.getvalue()
    assert "mallory: 0/0" in line and "cleared your screen" in line
    assert "\x1b" not in line and "\x07" not in line


def test_a_reference_that_takes_strings_on_a_backend_without_them_stops_the_run(tmp_path: Path):
    """On JAX or PyTorch every student's text model would lose its points for taking strings, each told to
    set KERAS_BACKEND, which only the instructor can: the run is refused before grading anyone."""
    from modelcheck.core.errors import STRINGS_OFF_TENSORFLOW, SpecError
    from modelcheck.core.result import CheckResult
    from modelcheck.grading.course import _check_reference
    from modelcheck.grading.grade import StudentGrade

    assignment = load_assignment(TOY)
    assignment = type(assignment)(**{**assignment.__dict__, "reference": "toy.toml"})
    message = f"running the model on a synthetic batch raised TypeError: {STRINGS_OFF_TENSORFLOW.summary}"

    class OnJax:
        def grade_many(self, submissions, on_grade):
            on_grade(StudentGrade(student="reference", submission="toy.toml",
                                  results=[CheckResult.error("output_shape", message)],
                                  points={"output_shape": 0.0}, max_points={"output_shape": 1.0}))

    with pytest.raises(SpecError, match="takes strings, which Keras runs inside a model on the TensorFlow backend "
                                        "only, .* grade with KERAS_BACKEND=tensorflow"):
        _check_reference(assignment, OnJax(), io.StringIO())


def test_a_student_no_longer_among_the_submissions_loses_their_files_in_out(tmp_path: Path):
    """A run left OUT/<student>/ of students graded before and since removed from the class: the gradebook
    left them out, but a script uploading every results.json published their old grades (trial 23)."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("good_toy.py", "returns_none.py", "os_exit_in_builder.py"):
        shutil.copy(SUBMISSIONS / "threats" / name, folder / name)
    out = tmp_path / "out"
    grade_course(TOY, folder, out, workers=1, quiet=True)
    assert (out / "returns_none" / "results.json").is_file()
    (out / "os_exit_in_builder" / "notes.txt").write_text("the instructor's own file\n")
    (folder / "returns_none.py").unlink()
    (folder / "os_exit_in_builder.py").unlink()
    stream = io.StringIO()
    run = grade_course(TOY, folder, out, resume=True, quiet=True, stream=stream)
    assert [g.student for g in run.grades] == ["good_toy"] and not run.graded
    assert f"removed the files of os_exit_in_builder, returns_none from {out}, graded before but no longer among the " \
        "submissions" in stream.getvalue(), stream.getvalue()
    assert not (out / "returns_none").exists()
    assert sorted(p.name for p in (out / "os_exit_in_builder").iterdir()) == ["notes.txt"]  # only what we wrote
    assert set(_records(out)) == {"good_toy"} and (out / "good_toy" / "results.json").is_file()
    again = io.StringIO()
    grade_course(TOY, folder, out, resume=True, quiet=True, stream=again)
    assert "removed" not in again.getvalue()
