"""Grading without running anything: assignment files, submissions, outputs' formats."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from pathlib import Path

import pytest

from modelcheck.core.errors import SpecError
from modelcheck.grading import discover_submissions, load_assignment, parse_assignment
from modelcheck.grading.grade import StudentGrade
from modelcheck.grading.outputs import class_statistics, gradescope_results, write_outputs
from modelcheck.grading.sandbox import Limits, RunOutcome
from modelcheck.grading.submissions import Submission, notebook_source, prepare_workdir
from modelcheck.core.result import CheckResult
from tests.backends import BACKEND

SUBMISSIONS = Path(__file__).parent / "submissions"

TOY = """
[assignment]
name = "toy"
builder = "build_model"
[expect]
input_shape = [4]
output_shape = [3]
total_params = 67
[points]
output_shape = 1
param_count = 2
"""


def test_the_fashion_assignment_parses_into_a_spec_points_and_limits():
    assignment = load_assignment(SUBMISSIONS / "fashion.toml")
    assert assignment.builder == "build_model"
    assert assignment.spec.input_shape == (28, 28)
    assert assignment.spec.total_params == 266_610
    assert assignment.checks == ["output_shape", "param_count", "matches_reference", "gradient_flow",
                                 "overfit_batch", "loss_decrease", "loss_matches_output", "config_lint"]
    assert assignment.max_score == 10
    assert assignment.reference == "fashion_solution.py" and assignment.sample == "fashion_sample.npz"
    assert set(assignment.instructor_files()) == {"fashion_solution.py", "fashion_sample.npz"}
    assert assignment.limits.timeout_s == 120 and assignment.limits.memory_mb == 4096
    assert assignment.visibility["param_count"] == "visible"


@pytest.mark.parametrize(("change", "named"), [
    ("[expect]\nunits = 300", "`units`"),
    ("[expect]\nmax_params = \"266610\"", "`max_params` must be a whole number"),
    ("[limits]\ntimeout = 5", "`timeout`"),
    ("[limits]\nmemory_mb = 1.5", "`memory_mb` must be a whole number"),
    ("[points]\nparam_cout = 1", "unknown check 'param_cout'; did you mean 'param_count'?"),
    ("[visibility]\nparam_count = \"secret\"", "`param_count` must be one of visible"),
    ("[grading]\nx = 1", "unknown section `[grading]`"),
    ("[options]\nparam_count = 3", "`param_count` must be a table"),
])
def test_unknown_keys_and_wrong_types_are_errors_naming_the_key(change, named):
    header, line = change.split("\n")
    text = TOY.replace(header, change, 1) if header in TOY else TOY + change + "\n"
    with pytest.raises(SpecError, match="toy.toml") as raised:
        parse_assignment(text, where="toy.toml")
    assert named in str(raised.value)


def test_an_assignment_pins_the_input_shapes_of_named_inputs_as_a_spec_file_does():
    """`input_shape = { numeric = [5], tag = [1] }` was refused ('must be a list') although the
    README gives that table for spec files: a model with named inputs could not pin them."""
    text = TOY.replace("input_shape = [4]", "input_shape = { numeric = [5], tag = [1] }")
    assignment = parse_assignment(text, where="toy.toml")
    assert assignment.spec.input_shape == {"numeric": (5,), "tag": (1,)}


def test_an_assignment_without_a_builder_says_so():
    with pytest.raises(SpecError, match="missing `builder`"):
        parse_assignment(TOY.replace('builder = "build_model"', ""), where="toy.toml")


def test_submissions_are_files_folders_and_notebooks_named_after_the_student():
    found = {s.student: s.kind for s in discover_submissions(SUBMISSIONS / "fashion")}
    assert found == {"good_folder": "folder", "good_notebook": "notebook", "good_script": "script",
                     "wrong_units": "script", "good_functional": "script", "good_subclassed": "script",
                     "cheat_flat_input": "script", "cheat_no_activations": "script", "cheat_same_total": "script",
                     "cheat_noise_only": "script"}


def test_the_files_a_mac_leaves_beside_each_submission_are_no_students(tmp_path):
    """A class unzipped from a Mac holds ``._alice.py`` (AppleDouble metadata, binary) beside each
    file: it was graded as a student '._alice' with a syntax error about null bytes."""
    (tmp_path / "alice.py").write_text("def build_model():\n    pass\n")
    (tmp_path / "._alice.py").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
    (tmp_path / "._bob.ipynb").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / ".hidden.py").write_text("def build_model():\n    pass\n")  # any other name is still graded
    assert [s.student for s in discover_submissions(tmp_path)] == [".hidden", "alice"]


def test_a_file_given_as_the_submissions_folder_is_told_as_such(tmp_path):
    (tmp_path / "alice.py").write_text("def build_model():\n    pass\n")
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"{tmp_path / 'alice.py'} is a file: SUBMISSIONS is the folder that holds every student's submission "
            f"(to grade this one, give its folder {tmp_path} and --only alice.py)")):
        discover_submissions(tmp_path / "alice.py")
    with pytest.raises(FileNotFoundError, match="the submissions folder .* does not exist"):
        discover_submissions(tmp_path / "nobody")


def test_a_folder_without_code_says_what_it_holds_instead(tmp_path):
    """On Gradescope a student who uploads the notebook's PDF read only 'the folder submission/
    holds no .py file or notebook', a folder they never made, with nothing about what they sent."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "hw3.pdf").write_bytes(b"%PDF")
    (folder / "hw3.zip").write_bytes(b"PK")
    for name in ("work", "work2"):
        (tmp_path / name).mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape("holds no .py file or notebook (it holds hw3.pdf, hw3.zip)")):
        prepare_workdir(Submission("submission", folder), tmp_path / "work", "build_model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape("holds no .py file or notebook (it is empty)")):
        prepare_workdir(Submission("empty", tmp_path / "empty"), tmp_path / "work2", "build_model")
    (folder / "a.py").write_text("def build_model():\n    pass\n")
    (folder / "b.py").write_text("def build_model():\n    pass\n")
    (tmp_path / "work3").mkdir()
    with pytest.raises(FileNotFoundError) as several:  # another message: no list of what it holds
        prepare_workdir(Submission("submission", folder), tmp_path / "work3", "build_model")
    assert str(several.value).endswith("keep exactly one file that defines `build_model()`")


def test_a_notebook_becomes_its_code_cells_in_order_without_magics_or_shell_lines():
    source = notebook_source(SUBMISSIONS / "fashion" / "good_notebook.ipynb")
    assert "%matplotlib" not in source.replace("# skipped: %matplotlib", "")
    assert "pass  # skipped: !pip install keras" in source
    assert "# %%time (its body runs as it is)\nprint('a cell magic: skipped')" in source  # %%time only wraps Python
    assert source.index("import keras") < source.index("def build_model") < source.index("model = build_model()")
    compile(source, "notebook", "exec")  # an indented shell line still leaves valid Python


def test_a_folder_is_copied_with_its_helpers_and_the_builder_file_is_found(tmp_path):
    script = prepare_workdir(Submission("good_folder", SUBMISSIONS / "fashion" / "good_folder"), tmp_path,
                             "build_model")
    assert script == tmp_path / "model.py"
    assert (tmp_path / "helpers.py").exists()


def test_symlinks_in_a_submission_are_not_followed(tmp_path):
    folder = tmp_path / "mallory"
    folder.mkdir()
    (folder / "model.py").write_text("def build_model():\n    pass\n")
    (folder / "secret.txt").symlink_to("/etc/passwd")
    work = tmp_path / "work"
    work.mkdir()
    prepare_workdir(Submission("mallory", folder), work, "build_model")
    assert not (work / "secret.txt").exists()


def test_a_folder_with_two_builders_is_an_error_naming_them(tmp_path):
    folder = tmp_path / "eve"
    folder.mkdir()
    for name in ("a.py", "b.py"):
        (folder / name).write_text("def build_model():\n    pass\n")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(FileNotFoundError, match=r"eve/ holds several candidate files \(a.py, b.py\)"):
        prepare_workdir(Submission("eve", folder), work, "build_model")


def _grade(student: str, passed: dict[str, bool], points: dict[str, float]) -> StudentGrade:
    results = [CheckResult.ok(c, f"{c} fine") if ok else CheckResult.fail(c, f"{c}: expected 67 but received 75")
               for c, ok in passed.items()]
    return StudentGrade(student=student, submission=f"{student}.py", results=results,
                        points={c: points[c] if ok else 0.0 for c, ok in passed.items()}, max_points=points,
                        visibility={"output_shape": "visible", "param_count": "after_published"})


def test_results_json_follows_gradescopes_format():
    grade = _grade("ann", {"output_shape": True, "param_count": False}, {"output_shape": 1.0, "param_count": 2.0})
    data = gradescope_results(grade)
    assert data["score"] == 1.0 and data["max_score"] == 3.0
    assert {"execution_time", "output", "tests"} <= set(data)
    assert data["tests"][1] == {"name": "param_count", "score": 0.0, "max_score": 2.0, "status": "failed",
                                "output": "param_count: expected 67 but received 75",
                                "visibility": "after_published"}
    assert data["tests"][0]["status"] == "passed"
    # a check not shown yet (after_published) is left out of the summary: 1 / 3 would tell it failed
    assert data["output"].startswith("Score on the checks shown now: 1 / 1.")
    # what the submission printed is said to be cut only when it was
    grade.output = "hello\n"
    assert gradescope_results(grade)["output"].endswith("What your code printed:\nhello\n")
    grade.output = "x" * 3000 + "y" * 3000
    assert gradescope_results(grade)["output"].endswith("What your code printed (its last 4,000 characters):\n"
                                                        + "x" * 1000 + "y" * 3000)
    everything_shown = _grade("bo", {"output_shape": True, "param_count": False}, {"output_shape": 1.0, "param_count": 2.0})
    everything_shown.visibility = {}
    assert gradescope_results(everything_shown)["output"].startswith("Score 1 / 3.")


def test_what_a_submission_printed_is_shown_as_a_terminal_showed_it():
    """Keras' fit(verbose=1) redraws its progress bar with colour codes, backspaces and carriage
    returns; the feedback showed them escaped (\\x1b[1m, \\x08 70 times per step), burying the text."""
    from modelcheck.grading.schema import printed_text

    bar = "\x1b[1m{n}/63\x1b[0m \x1b[32m━━━\x1b[0m - loss: 1.2{n}"
    stdout = "Epoch 1/3\n" + "".join("\b" * 40 + "\r" + bar.format(n=n) for n in (1, 2, 63)) + "\nsaved\r\n"
    assert printed_text(stdout.encode()) == "Epoch 1/3\n63/63 ━━━ - loss: 1.263\nsaved\n"
    # a shorter redraw leaves the end of the longer one, as on a terminal; other controls stay escaped
    assert printed_text(b"12345\rab") == "ab345"
    assert printed_text(b"\x1b]0;title\x07 \xff") == "\\x1b]0;title\\x07 \ufffd"


def test_class_statistics_count_pass_rates_scores_and_common_failures():
    points = {"output_shape": 1.0, "param_count": 2.0}
    grades = [_grade("a", {"output_shape": True, "param_count": True}, points),
              _grade("b", {"output_shape": True, "param_count": False}, points),
              _grade("c", {"output_shape": False, "param_count": False}, points)]
    broken = _grade("d", {"output_shape": False, "param_count": False}, points)
    broken.problem = "stopped after 8 s (the time limit)"
    grades.append(broken)
    stats = class_statistics(grades[:3], list(points), 3.0)
    assert stats["pass_rate"] == {"output_shape": pytest.approx(2 / 3), "param_count": pytest.approx(1 / 3)}
    assert [count for _, count in stats["histogram"]] == [1, 1, 1]
    assert stats["failures"][0] == ("param_count", "param_count: expected 67 but received 75", 2)
    every = class_statistics(grades, list(points), 3.0)["failures"]
    assert ("every check", "stopped after 8 s (the time limit)", 1) in every
    assert sum(count for _, _, count in every) == 4


def test_outputs_are_written_from_the_graders_verdicts(tmp_path):
    assignment = parse_assignment(TOY, where="toy.toml")
    points = assignment.points
    grades = [_grade("ann", {"output_shape": True, "param_count": True}, points),
              _grade("bob", {"output_shape": True, "param_count": False}, points)]
    write_outputs(grades, assignment, tmp_path)
    rows = list(csv.reader((tmp_path / "gradebook.csv").open()))
    assert rows == [["student", "score", "max_score", "output_shape", "param_count"],
                    ["ann", "3", "3", "1", "2"], ["bob", "1", "3", "1", "0"]]
    assert json.loads((tmp_path / "bob" / "results.json").read_text())["score"] == 1.0
    feedback = (tmp_path / "bob" / "feedback.html").read_text()
    assert "expected 67 but received 75" in feedback
    index = (tmp_path / "index.html").read_text()
    assert "Pass rate per check" in index and 'href="bob/feedback.html"' in index


def test_a_submission_stopped_by_one_error_gets_that_error_once_on_its_feedback_page(tmp_path):
    """A syntax error is every check's error: the page said '2 things need fixing' and showed it
    once per check, though one fix is all the student needs."""
    from modelcheck.core.result import CheckResult
    from modelcheck.grading.executors import grader_error_grade

    assignment = parse_assignment(TOY, where="toy.toml")
    broken = _grade("carl", {"output_shape": False, "param_count": False}, assignment.points)
    broken.results = [CheckResult.error(check, "carl.py has a syntax error: expected ':'", hint="fix line 4")
                      for check in assignment.points]
    broken.problem = broken.results[0].message
    write_outputs([broken, _grade("bob", {"output_shape": True, "param_count": False}, assignment.points)],
                  assignment, tmp_path)
    feedback = (tmp_path / "carl" / "feedback.html").read_text()
    assert feedback.count("carl.py has a syntax error: expected &#39;:&#39;") == 1
    assert "Your submission could not be graded, so none of its 2 checks ran" in feedback
    assert "things need fixing" not in feedback and "fix line 4" in feedback
    assert "1 thing needs fixing" in (tmp_path / "bob" / "feedback.html").read_text()  # a failed check: as before
    # the grader's own failure is no error of the student's to fix
    lost = grader_error_grade(assignment, Submission("dora", tmp_path / "dora.py"), "the worker was lost twice")
    write_outputs([lost], assignment, tmp_path / "lost")
    page = (tmp_path / "lost" / "dora" / "feedback.html").read_text()
    assert "one error stopped them all, explained below" in page and "resubmit" not in page.lower()


def test_the_outcome_of_a_stopped_process_reads_in_plain_words():
    limits = Limits(timeout_s=5, memory_mb=300)
    assert "stopped after 5 s (the time limit)" in RunOutcome(killed_for="timeout", limits=limits).problem()
    # a script that trains (or sleeps) at its top level is stopped while the grader imports it: said so
    assert "the code your file runs when it is imported (training or waiting at its top level: put that under " \
           "`if __name__ == \"__main__\":`)" in RunOutcome(killed_for="timeout", limits=limits).problem()
    # the check job never runs the student's file: no advice about it there
    checking = RunOutcome(killed_for="timeout", limits=limits).problem(building=False)
    assert "stopped after 5 s (the time limit)" in checking and "imported" not in checking and "builder" not in checking
    assert "more than 300 MB of memory" in RunOutcome(killed_for="memory", limits=limits).problem()
    assert "killed the grader's process" in RunOutcome(supervisor_lost=True, exit_code=None).problem()
    assert RunOutcome(exit_code=0).problem() is None


def test_a_clean_check_job_that_raised_is_the_graders_failure_with_its_cause():
    """A sample whose arrays are named X, Y (not x, y) made the clean check job raise: every student
    got 0 as their own error, 'checking the model failed: the process exited with code 70'."""
    from modelcheck.grading.grade import _clean_job_failure

    stderr = "\n[modelcheck] job process failed: SpecError: the sample file s.npz holds neither `x` nor ...\n"
    assert _clean_job_failure(RunOutcome(exit_code=70, stderr=stderr)) == (
        "the grader's check process failed (the assignment or modelcheck, not your submission): SpecError: the "
        "sample file s.npz holds neither `x` nor ...")
    assert _clean_job_failure(RunOutcome(exit_code=70, killed_for="memory")) is None  # the model's own size
    assert _clean_job_failure(RunOutcome(exit_code=1, stderr=stderr)) is None


def test_an_internal_error_is_a_grader_error_never_the_students_lost_points() -> None:
    from modelcheck.core.errors import INTERNAL_HINT
    from modelcheck.core.result import CheckResult
    from modelcheck.grading.grade import scored_grade
    from modelcheck.grading.submissions import Submission

    assignment = parse_assignment(
        '[assignment]\nname = "a"\nbuilder = "build_model"\n[expect]\noutput_shape = [1]\n'
        '[points]\noutput_shape = 1\ngradient_flow = 2\n')
    submission = Submission(student="alice", path=Path("alice.py"))
    results = [CheckResult.ok("output_shape", "(None, 1)"),
               CheckResult.error("gradient_flow", "internal error in modelcheck while running gradient_flow: "
                                 "ZeroDivisionError: x", hint=INTERNAL_HINT,
                                 details={"internal": True, "traceback": "..."})]
    grade = scored_grade(assignment, submission, results)
    assert grade.grader_error == "internal error in modelcheck while running gradient_flow: ZeroDivisionError: x"
    data = gradescope_results(grade)
    assert data["extra_data"]["grader_error"] == grade.grader_error
    # the student is told it is not their fault and that the score is not final, never to send a
    # traceback they cannot see to modelcheck's maintainers
    assert "The grader itself failed on your submission, not your code (gradient_flow scored nothing for now)" \
        in data["output"]
    assert "maintainers" not in json.dumps(data) and "details['traceback']" not in json.dumps(data)
    assert "not of your submission" in data["tests"][1]["output"]
    assert "class page" not in json.dumps(data)  # results.json is also Gradescope's: no class page there
    assert data["extra_data"]["keras_backend"] == BACKEND  # the jobs run on the grader's KERAS_BACKEND
    sound = scored_grade(assignment, submission, results[:1])
    assert sound.grader_error is None and sound.points == {"output_shape": 1.0}


def test_a_new_grader_clears_the_job_folders_of_graders_that_were_killed(tmp_path):
    import subprocess

    from modelcheck.grading.jobdirs import sweep_dead_jobdirs

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    dead = tmp_path / f"modelcheck-grade-{ended.pid}-k1ll3d"
    (dead / "build" / "work").mkdir(parents=True)
    (dead / "build" / "work" / "submission.py").write_text("x = 1")
    alive = tmp_path / f"modelcheck-grade-{os.getpid()}-running"
    alive.mkdir()
    unrelated = tmp_path / "modelcheck-grade-notes"
    unrelated.mkdir()
    assert sweep_dead_jobdirs(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and unrelated.exists()
