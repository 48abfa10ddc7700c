"""The chapter-10 Fashion-MNIST assignment, with a reference solution and image-like samples:
correct submissions in every style (a script, a folder, a notebook, functional with separate
activation layers, a subclassed model with get_config and an allowed Dropout) get full marks;
a first hidden layer of 200 units and each way of cheating of issue 14 lose points, with
feedback in the student's words. Then the console command end to end, with a submission that
tries to forge the outputs."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelcheck.grading import Grader, discover_submissions, load_assignment, write_outputs

SUBMISSIONS = Path(__file__).parent / "submissions"


@pytest.fixture(scope="module")
def fashion():
    assignment = load_assignment(SUBMISSIONS / "fashion.toml")
    with Grader(assignment, workers=2) as grader:
        grades = grader.grade_all(discover_submissions(SUBMISSIONS / "fashion"))
    return assignment, {grade.student: grade for grade in grades}


@pytest.mark.parametrize("student", ["good_script", "good_folder", "good_notebook", "good_functional",
                                     "good_subclassed"])
def test_correct_submissions_in_every_style_get_full_marks(fashion, student):
    _, grades = fashion
    grade = grades[student]
    assert [r.status for r in grade.results] == ["passed"] * 8, [r.describe() for r in grade.results]
    assert grade.score == grade.max_score == 10


def test_200_units_instead_of_300_loses_the_parameter_count_and_reference_points(fashion):
    _, grades = fashion
    grade = grades["wrong_units"]
    param_count = grade.result("param_count")
    assert param_count.status == "failed"
    for figure in ("200", "157,000", "266,610"):
        assert figure in param_count.message
    assert "layer 2 (Dense 200): units 300 expected, 200 received" in grade.result("matches_reference").message
    assert grade.points["param_count"] == grade.points["matches_reference"] == 0
    assert grade.score == 6


# each way of cheating of issue 14: the checks it loses, what the feedback says, the score
CHEATS = {
    "cheat_flat_input": ({"output_shape", "matches_reference", "config_lint"},
                         ["input shape: expected (None, 28, 28), received (None, 784)",
                          "input 1: shape (28, 28) expected, (784,) received"], 6),
    "cheat_no_activations": ({"matches_reference", "config_lint"},
                             ["layer 2 (Dense 300): activation relu expected, none received",
                              "layer 3 (Dense 100): activation relu expected, none received"], 7),
    "cheat_same_total": ({"matches_reference"}, ["layer 2 (Dense 166): units 300 expected, 166 received",
                                                 "layer 3 (Dense 770): units 100 expected, 770 received"], 8),
    "cheat_noise_only": ({"matches_reference", "gradient_flow", "overfit_batch", "loss_decrease"},
                         ["all-zero gradient", "expected a model that trains, received not attempted; gradient_flow "
                          "already failed"], 5),
}


@pytest.mark.parametrize("student", sorted(CHEATS))
def test_each_way_of_cheating_loses_points_with_feedback_in_the_students_words(fashion, student):
    _, grades = fashion
    grade = grades[student]
    lost, phrases, score = CHEATS[student]
    assert {r.check for r in grade.results if not r.passed} == lost, [r.describe() for r in grade.results]
    assert all(grade.points[check] == 0 for check in lost)
    feedback = "\n".join(r.message for r in grade.results)
    for phrase in phrases:
        assert phrase in feedback
    assert grade.score == score < grade.max_score


def test_outputs_hold_the_class_results(fashion, tmp_path):
    assignment, grades = fashion
    write_outputs(list(grades.values()), assignment, tmp_path)
    rows = {row["student"]: row for row in csv.DictReader((tmp_path / "gradebook.csv").open())}
    assert rows["wrong_units"]["score"] == "6" and rows["wrong_units"]["param_count"] == "0"
    assert rows["good_notebook"]["score"] == "10"
    results = json.loads((tmp_path / "wrong_units" / "results.json").read_text())
    assert [t["status"] for t in results["tests"]] == ["passed", "failed", "failed", "passed", "passed", "passed", "passed", "passed"]
    feedback = (tmp_path / "wrong_units" / "feedback.html").read_text()
    assert "157,000" in feedback and "266,610" in feedback and "units 300 expected, 200 received" in feedback
    assert "90%" in (tmp_path / "index.html").read_text()  # param_count: 9 of 10 pass


def test_the_console_command_grades_a_folder_and_forged_files_change_nothing(tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for name in ("good_toy.py", "forge_files.py", "os_exit_in_builder.py"):
        shutil.copy(SUBMISSIONS / "threats" / name, submissions / name)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "modelcheck.cli", "grade", str(SUBMISSIONS / "toy.toml"), str(submissions),
         "--out", str(out), "--workers", "2"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 3 and any("os_exit_in_builder: 0/3" in line for line in progress)
    rows = {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").open())}
    assert set(rows) == {"good_toy", "forge_files", "os_exit_in_builder"}
    assert rows["forge_files"]["score"] == "1" and rows["good_toy"]["score"] == "3"
    forged = json.loads((out / "forge_files" / "results.json").read_text())
    assert forged["score"] == 1.0 and forged["max_score"] == 3.0
    assert not (out / "report.html").exists()
    assert not list(tmp_path.rglob("report.html"))


def test_a_bad_assignment_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[assignment]\nname = "x"\nbuilder = "build_model"\n[points]\nparam_cout = 1\n')
    done = subprocess.run([sys.executable, "-m", "modelcheck.cli", "grade", str(bad), str(tmp_path),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown check 'param_cout'; did you mean 'param_count'?" in done.stderr


@pytest.mark.slow
def test_a_class_of_thirty_is_graded_end_to_end(tmp_path):
    """The benchmark's class through the console command: 21 correct, 6 with 200 units, 3 broken."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from bench_grading import write_class

    submissions = tmp_path / "class"
    submissions.mkdir()
    write_class(submissions, 30)
    done = subprocess.run([sys.executable, "-m", "modelcheck.cli", "grade", str(SUBMISSIONS / "fashion.toml"),
                           str(submissions), "--out", str(tmp_path / "out"), "--workers", "2"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    scores = [row["score"] for row in csv.DictReader((tmp_path / "out" / "gradebook.csv").open())]
    assert sorted(scores) == ["0"] * 3 + ["10"] * 21 + ["6"] * 6
    assert "per minute" in done.stderr.splitlines()[-1]
