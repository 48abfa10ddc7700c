"""`pytest --modelcheck-grade ASSIGNMENT.toml SUBMISSIONS_DIR`: one item per (student, check),
the check's message on failure, outputs on the controller, submissions never collected by pytest."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

SUBMISSIONS = Path(__file__).parent / "submissions"

# A submission pytest itself would collect (test_*.py) if the folder were not kept out: importing
# it in the pytest process leaves a file beside it; in the grading sandbox it writes into its copy.
SNEAKY = '''
import os
import keras
from keras import layers

open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "imported_unconfined.txt"), "w").close()


def build_model():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])


def test_collected_by_pytest():
    raise AssertionError("pytest collected a submission")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(SUBMISSIONS / "toy.toml", pytester.path / "toy.toml")
    submissions = pytester.mkdir("submissions")
    for name in ("good_toy.py", "forge_files.py", "returns_none.py"):
        shutil.copy(SUBMISSIONS / "threats" / name, submissions / name)
    (submissions / "test_sneaky.py").write_text(SNEAKY)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    return pytester


IDS = [f"grade::{student}::{check}" for student in ("forge_files", "good_toy", "returns_none", "test_sneaky")
       for check in ("output_shape", "param_count")]


def test_one_item_per_student_and_check_and_no_submission_is_collected(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--modelcheck", "--modelcheck-grade", "toy.toml", "submissions",
                                          "--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    assert [line for line in result.outlines if "::" in line] == ["test_plain.py::test_plain", *IDS]
    assert not (project.path / "submissions" / "imported_unconfined.txt").exists()


@pytest.mark.parametrize("xdist", [[], pytest.param(["-n", "2", "--dist", "loadscope"], marks=pytest.mark.extended)],
                         ids=["serial", "xdist"])
def test_grades_as_items_with_the_checks_messages_and_outputs(project: pytest.Pytester, xdist: list[str]) -> None:
    result = project.runpytest_subprocess("--modelcheck", "--modelcheck-grade", "toy.toml", "submissions",
                                          "--modelcheck-grade-out", "out", "-rpf", "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(passed=6, failed=3)
    statuses = {words[1]: words[0] for words in (line.split() for line in result.outlines)
                if len(words) > 1 and words[0] in ("PASSED", "FAILED") and words[1].startswith("grade::")}
    failed = {"grade::forge_files::param_count", "grade::returns_none::output_shape", "grade::returns_none::param_count"}
    assert statuses == {nodeid: "FAILED" if nodeid in failed else "PASSED" for nodeid in IDS}
    result.stdout.fnmatch_lines([
        "*_ ?modelcheck grade? grade::forge_files::param_count _*",
        "*[[]0/2 points] total parameters: expected 67, received 75 (+8)*",
    ])
    result.stdout.fnmatch_lines([
        "[[]0/1 points] build_model() returned None; expected a keras.Model",
        "  at returns_none.py:*",
        "Hint: end the function with `return model`.",
    ])
    result.stdout.fnmatch_lines(["modelcheck grading: out/index.html (gradebook: out/gradebook.csv)"])
    assert not (project.path / "submissions" / "imported_unconfined.txt").exists()

    out = project.path / "out"
    rows = {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").open())}
    assert {student: row["score"] for student, row in rows.items()} == {
        "forge_files": "1", "good_toy": "3", "returns_none": "0", "test_sneaky": "3"}
    forged = json.loads((out / "forge_files" / "results.json").read_text())
    assert forged["score"] == 1.0 and [t["status"] for t in forged["tests"]] == ["passed", "failed"]


def test_a_bad_assignment_or_folder_is_a_usage_error(project: pytest.Pytester) -> None:
    (project.path / "bad.toml").write_text('[assignment]\nname = "x"\nbuilder = "build_model"\n[points]\nparam_cout = 1\n')
    bad = project.runpytest_subprocess("--modelcheck-grade", "bad.toml", "submissions", "-p", "no:cacheprovider")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["ERROR: --modelcheck-grade: *bad.toml [[]points]: unknown check 'param_cout'; did you mean 'param_count'?*"])
    missing = project.runpytest_subprocess("--modelcheck-grade", "toy.toml", "nowhere", "-p", "no:cacheprovider")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["ERROR: --modelcheck-grade: the submissions folder *nowhere does not exist"])


EVIL_CONFTEST = '''
import os
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "imported_unconfined.txt"), "w").close()
'''


@pytest.mark.parametrize("layout", ["folder_named_test", "started_inside"])
def test_a_students_conftest_that_pytest_would_import_at_start_stops_the_run_before_it_runs(
        pytester: pytest.Pytester, layout: str) -> None:
    """pytest imports the conftest.py of the folder it starts in and of its test* subfolders
    before any plugin can keep the submissions out: a student's would run as the grader."""
    shutil.copy(SUBMISSIONS / "toy.toml", pytester.path / "toy.toml")
    if layout == "folder_named_test":  # the submissions folder is a test* subfolder of where pytest starts
        submissions = planted = pytester.mkdir("testsubs")
        args = ["toy.toml", "testsubs"]
        start = pytester.path
    else:  # pytest starts inside the submissions folder, where a student's folder is named test_*
        submissions = pytester.mkdir("subs")
        planted = submissions / "test_bob"
        planted.mkdir()
        args = ["../toy.toml", "."]
        start = submissions
    shutil.copy(SUBMISSIONS / "threats" / "good_toy.py", submissions / "good_toy.py")
    (planted / "conftest.py").write_text(EVIL_CONFTEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(start)
        result = pytester.runpytest_subprocess("--modelcheck-grade", *args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--modelcheck-grade: pytest would import *conftest.py from the submissions folder*"])
    assert not (planted / "imported_unconfined.txt").exists()
    with pytest.MonkeyPatch.context() as patch:  # as pytest advises: not imported at all with --noconftest
        patch.chdir(start)
        result = pytester.runpytest_subprocess("--modelcheck-grade", *args, "--noconftest", "--collect-only",
                                               "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    assert not (planted / "imported_unconfined.txt").exists()


def test_a_students_conftest_out_of_pytests_start_up_paths_is_never_imported(project: pytest.Pytester) -> None:
    bob = project.path / "submissions" / "test_bob"
    bob.mkdir()
    (bob / "conftest.py").write_text(EVIL_CONFTEST)
    (project.path / "submissions" / "conftest.py").write_text(EVIL_CONFTEST)
    result = project.runpytest_subprocess("--modelcheck-grade", "toy.toml", "submissions", "--collect-only",
                                          "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    assert not (bob / "imported_unconfined.txt").exists()
    assert not (project.path / "submissions" / "imported_unconfined.txt").exists()
