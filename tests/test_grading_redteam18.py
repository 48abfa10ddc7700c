"""Red team 18: a careless or cheating student against `modelcheck grade`.

Each test names what one submission did to its own grade, or to the run, before the fix: a sound
model graded zero because its code touched what the job around it uses, or a message that tells
the student nothing they can act on. The class is graded once, with the toy assignment.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcheck.grading.grade import StudentGrade
from tests.grading_cluster import grade_files
from tests.test_grading_notebooks import TOY_MODEL, _notebook

TOY = Path(__file__).parent / "submissions" / "toy.toml"


def _builder_doing(*lines: str, before: str = "") -> str:
    """The toy model's file, whose builder first runs `lines` (and whose module first runs `before`)."""
    body = "".join(f"    {line}\n" for line in lines)
    return before + TOY_MODEL.replace("def build_model():\n", "def build_model():\n" + body)


BAD_STR = """
class Unshowable(Exception):
    def __str__(self):
        raise RuntimeError("my __str__ is broken")

    __repr__ = __str__
"""

# submission file name -> its content
CLASS = {
    "good.py": TOY_MODEL,
    # the job wrote its report to fd 3 with json.dump when the student's code was done: a builder that
    # closed fd 3, or opened /dev/null on it, or a module that replaced json.dump, scored 0 for a sound
    # model ("the process exited with code 70 before reporting" / "ended before it returned a model")
    "closes_fd3.py": _builder_doing("import os", "os.close(3)"),
    "devnull_on_fd3.py": _builder_doing("import os", "os.dup2(os.open(os.devnull, os.O_WRONLY), 3)"),
    "patches_json.py": _builder_doing(before="import json\njson.dump = lambda *args, **kwargs: None\n"),
    # count_params() overridden to raise, or to return more than a report holds: the job raised past
    # its report (exit code 70), or sent a report the grader refused; the clean job counts for itself
    "own_count.py": TOY_MODEL.replace("def build_model():\n    return keras.Sequential(", """class Counted(keras.Sequential):
    def count_params(self):
        raise ValueError("not today")


def build_model():
    return Counted("""),
    "huge_count.py": TOY_MODEL.replace("def build_model():\n    return keras.Sequential(", """class Counted(keras.Sequential):
    def count_params(self):
        return 10 ** 30


def build_model():
    return Counted("""),
    # an exception whose __str__ raises (and sys.exit() given such an object): "the process exited
    # with code 70 before reporting", which says nothing the student can act on
    "unshowable_error.py": _builder_doing("raise Unshowable()", before=BAD_STR),
    "unshowable_exit.py": _builder_doing("import sys", "sys.exit(Unshowable())", before=BAD_STR),
    # closes every descriptor: its report cannot reach the grader; said in words, not as exit code 70
    "closes_all.py": _builder_doing("import os", "os.closerange(3, 4096)"),
    # a notebook that takes its settings from files beside it with %run, as Jupyter runs them: %run did
    # nothing, and the builder raised NameError (0 points for a notebook that works in Jupyter)
    "runs_helpers/hw.ipynb": _notebook("%run helpers.py", "%run -i settings.py\n%run -n named.py",
                                       TOY_MODEL.replace("Dense(8, activation=\"relu\")",
                                                         "Dense(UNITS, activation=ACTIVATION)")),
    "runs_helpers/helpers.py": "UNITS = 8 if __name__ == '__main__' else 0\n",
    "runs_helpers/settings.py": "ACTIVATION = 'relu' if UNITS == 8 else 'bad'\n",  # -i: in the notebook's namespace
    "runs_helpers/named.py": "assert __name__ == 'named'\n",
    # a notebook named like a module its cells import, which the job has not imported yet: converted to
    # statistics.py beside itself, its `import statistics` imported the notebook, not the standard library's
    # (red team 17's leftover: pandas.ipynb); likewise a notebook whose helper module shares its name
    "statistics.ipynb": _notebook("import statistics\n" + TOY_MODEL, "assert statistics.mean([1, 3]) == 2"),
    "same_name/hw.ipynb": _notebook("from hw import UNITS\n" + TOY_MODEL.replace("Dense(8,", "Dense(UNITS,")),
    "same_name/hw.py": "UNITS = 8\n",
    # a script that trains (here: waits) at its top level after defining its builder was killed at the
    # time limit (8 s) and scored 0; it now has half of it, as a notebook's cells do, and its builder is graded
    "trains_at_import.py": TOY_MODEL + "\nimport time\n\nwhile True: time.sleep(0.05)  # (one line: stopped on it whenever the alarm lands)\n",
    "waits_before_builder.py": "import time\n\ntime.sleep(600)\n" + TOY_MODEL,
    # saved by Windows' Notepad as "Unicode", or written by PowerShell's >: "has a syntax error: source code
    # string cannot contain null bytes", "at utf16.py:0:", "fix line None"
    "utf16.py": TOY_MODEL.encode("utf-16"),
    "turtle.ipynb": _notebook("import statistics\n" + TOY_MODEL.replace("def build_model", "def build_modle")),
}


@pytest.fixture(scope="module")
def graded(pool, tmp_path_factory: pytest.TempPathFactory) -> dict[str, StudentGrade]:
    return grade_files(tmp_path_factory.mktemp("redteam18") / "subs", CLASS, TOY, pool)


def _full_marks(grade: StudentGrade) -> None:
    assert grade.score == grade.max_score, (grade.problem, grade.notes, [(r.check, r.message) for r in grade.results])


@pytest.mark.parametrize("student", ["good", "closes_fd3", "devnull_on_fd3", "patches_json", "own_count",
                                     "huge_count"])
def test_a_sound_model_is_graded_whatever_its_code_did_to_the_jobs_report_channel(graded, student):
    _full_marks(graded[student])


@pytest.mark.parametrize("student", ["unshowable_error", "unshowable_exit"])
def test_an_error_that_cannot_be_described_is_told_with_its_line(graded, student):
    grade = graded[student]
    assert grade.score == 0 and not grade.grader_error
    said = ("build_model() raised Unshowable: " if student == "unshowable_error" else "build_model() called sys.exit(")
    assert grade.problem.startswith(said + "<a message that cannot be shown: turning it into text raised an error>"), \
        grade.problem
    assert f"at {student}.py:" in grade.problem


def test_a_job_left_unable_to_report_says_so_in_words(graded):
    grade = graded["closes_all"]
    assert grade.score == 0 and not grade.grader_error
    assert grade.problem.startswith("the submission's process could not report to the grader after its code ran: "
                                    "it failed with OSError: [Errno 9] Bad file descriptor;"), grade.problem
    assert "code 70" not in grade.problem


def test_a_notebook_runs_the_python_files_it_names_with_percent_run(graded):
    _full_marks(graded["runs_helpers"])
    assert not graded["runs_helpers"].notes


def test_percent_run_of_a_notebook_or_with_options_ipython_refuses_still_does_nothing():
    from modelcheck.grading.notebooks import notebook_script

    script = notebook_script(_notebook("%run other.ipynb\n%run -x helpers.py\n%run"))
    assert script.count("pass  # skipped: %run") == 3


@pytest.mark.parametrize("student", ["statistics", "same_name"])
def test_a_notebook_named_like_a_module_imports_that_module_not_itself(graded, student):
    _full_marks(graded[student])
    assert not graded[student].notes


def test_a_notebook_converted_under_another_name_is_still_named_as_handed_in(graded):
    assert graded["turtle"].problem.startswith("turtle.ipynb defines no function `build_model()`"), graded["turtle"].problem
    assert ".ipynb.py" not in graded["turtle"].problem


def test_a_script_that_trains_at_import_after_defining_its_builder_is_graded_with_a_note(graded):
    grade = graded["trains_at_import"]
    _full_marks(grade)
    assert len(grade.notes) == 1 and grade.notes[0].startswith(
        "your file: importing trains_at_import.py was stopped after 4 s at line 11 (\"while True: time.sleep(0.05)  # "
        "(one line: stopped on it whenever the alarm lands)\"): the code a file runs when "
        "it is imported may take 50% of the time limit; build_model() was defined by then and is graded;"), grade.notes


def test_a_script_stopped_at_import_before_its_builder_says_where_within_half_the_time_limit(graded):
    grade = graded["waits_before_builder"]
    assert grade.score == 0 and not grade.grader_error
    assert grade.problem.startswith("importing waits_before_builder.py was stopped after 4 s (50% of the time limit), "
                                    "before it defined `build_model()`\n  at waits_before_builder.py:3: "
                                    "time.sleep(600)"), grade.problem
    assert 'put that under `if __name__ == "__main__":`' in grade.results[0].hint


def test_a_file_saved_as_utf16_is_told_so_with_the_fix(graded):
    grade = graded["utf16"]
    assert grade.score == 0 and not grade.grader_error
    assert grade.problem == ("utf16.py is saved as UTF-16 text (Notepad's \"Unicode\", or what PowerShell's > writes), "
                             "which Python cannot read"), grade.problem
    assert grade.results[0].hint.startswith("save the file as UTF-8 text")


@pytest.mark.parametrize("metadata", [{"kernelspec": {"name": "ir", "language": "R"}, "language_info": {"name": "R"}},
                                      {"kernelspec": {"name": "julia-1.10", "language": "julia"}}])
def test_a_notebook_in_another_language_is_told_so(tmp_path, metadata):
    """An R notebook handed in by mistake got "defines no function `build_model()`; it defines no function",
    with a note that its first cell raised NameError."""
    from modelcheck.grading.submissions import Submission, prepare_workdir

    notebook = _notebook("x <- c(1, 2)\nprint(x)")
    notebook["metadata"] = metadata
    (tmp_path / "hw.ipynb").write_text(json.dumps(notebook))
    (tmp_path / "work").mkdir()
    with pytest.raises(ValueError) as raised:
        prepare_workdir(Submission.from_path(tmp_path / "hw.ipynb"), tmp_path / "work", "build_model")
    language = metadata["kernelspec"]["language"]
    assert str(raised.value) == (f"hw.ipynb is a notebook in another language: its kernel runs {language}, not Python; "
                                 "the assignment needs a Python notebook (or .py file)")


def test_a_python_notebook_with_or_without_metadata_is_still_read():
    from modelcheck.grading.notebooks import notebook_script

    for metadata in ({}, {"kernelspec": {"name": "python3", "language": "python"}},
                     {"language_info": {"name": "python", "version": "3.11"}}, {"kernelspec": "odd"}):
        notebook = _notebook("X = 1")
        notebook["metadata"] = metadata
        assert "X = 1" in notebook_script(notebook)


def test_two_folders_that_differ_never_hash_alike_for_resume(tmp_path):
    """content_hash fed each file's name, NUL, its bytes and NUL into one digest: a folder with a = "X",
    b = "Y" and one with a = "X\\0b\\0Y" hashed alike, so --resume kept the grade of the first for the second."""
    from modelcheck.grading.resume import content_hash
    from modelcheck.grading.submissions import Submission

    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir()
    one.mkdir()
    (two / "a").write_bytes(b"X")
    (two / "b").write_bytes(b"Y")
    (one / "a").write_bytes(b"X\0b\0Y")
    assert content_hash(Submission("s", two)) != content_hash(Submission("s", one))


@pytest.mark.parametrize("landlock", [0, 4, 5])
def test_a_grader_that_is_not_root_says_when_a_job_can_kill_it(monkeypatch, landlock):
    """Not root, jobs keep the grader's uid: without Landlock's signal scoping (ABI 6) a submission's
    os.kill(-1, SIGKILL) (or the grader's pid, read from /proc) ends the grader and the whole run, again
    on every --resume; the isolation line said nothing of it."""
    from modelcheck.grading import confine, isolation

    monkeypatch.setattr(isolation.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(confine, "landlock_abi", lambda: landlock)
    described = isolation.detect().describe()
    assert "can kill the grader itself, stopping the whole run at that submission" in described
    monkeypatch.setattr(confine, "landlock_abi", lambda: 6)
    assert "can kill the grader" not in isolation.detect().describe()


def test_only_the_sentences_fidelity_writes_can_make_a_verdict_not_judged():
    """The build job's `not_reproduced` is the student's process's text: a forged entry turned a failed
    overfit_batch into 'not judged: your model trains with <the student's words>', for the instructor to review."""
    from modelcheck.core.result import CheckResult
    from modelcheck.grading.grade import Grader

    def verdicts():
        return [CheckResult.fail("overfit_batch", "memorising one batch: expected 100%, received 40%"),
                CheckResult.ok("output_shape", "output shape (None, 10) as expected")]

    forged = [{"reason": "a grader bug; please give full marks", "affects": "step", "fix": "training"},
              {"reason": "its own train_step()", "affects": "optimizer", "fix": "training"},  # scope not its own
              {"reason": "a loss function of your own, x; give me 10 points", "affects": "loss"}]
    for item in forged:
        results = Grader._not_judged(verdicts(), [item])
        assert results[0].status == "failed", item
    genuine = [{"reason": "its own train_step()", "affects": "step", "fix": "training"},
               {"reason": "a loss function of your own, <lambda>", "affects": "loss", "fix": "code"},
               {"reason": "an optimizer the grader cannot load (as your code's process reported: \"TypeError: bad\")",
                "affects": "optimizer"},
               {"reason": "the loss sparse_categorical_crossentropy with axis=0, which its saved form loses (axis=-1 "
                          "there)", "affects": "loss", "fix": "code"}]
    for item in genuine:
        results = Grader._not_judged(verdicts(), [item])
        assert results[0].status == "skipped", item
        assert results[0].message.startswith(f"not judged: your model trains with {item['reason']}")
        assert results[1].passed
