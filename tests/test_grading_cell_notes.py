"""A notebook's cell notes cross from the untrusted build job to the grader (red team 20's proposal 3).

The build job runs the student's code, so the notes in its report are the student's text: a cell can
reach `run_cells`' own `CellRun` and append any words, which the grader showed after "your notebook:"
as its own. The grader now takes a note only in one of `notebook_run`'s templates, rebuilds the
grader's words and numbers itself, and shows the free text (an error's message, a line of code)
quoted as what the student's process reported (`lost_reasons.reported`).
"""

from __future__ import annotations

import json
import re
import time
import types
from pathlib import Path

import pytest

from .grading_cluster import TOY, grade_files
from modelcheck.grading.notebook_run import import_within, run_cells, shown_note

REPORTED = "as your code's process reported: "
FULL_MARKS = "the grader gives you full marks"
# what a shown note may hold besides the grader's words: one quote the student's words cannot close
QUOTED = re.compile(rf'{REPORTED}"[^"\n]*"|"[^"\n]*"')
UNSAFE = re.compile("[\n\r\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f]")

TOY_MODEL = """import keras
from keras import layers


def build_model():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
"""
# a cell that reaches the `CellRun` that `run_cells` fills, and appends its own notes to it
FORGE = """import sys
frame = sys._getframe()
while frame is not None and not hasattr(frame.f_locals.get("run"), "notes"):
    frame = frame.f_back
frame.f_locals["run"].notes.extend(FORGED)
"""

# a builder that replaces the notes in the build job's report after the cells ran (`run_cells` keeps
# at most 20 and a count; the report's own gate, its schema, is what is left)
FORGE_LATE = TOY_MODEL.replace("def build_model", "def _build") + """

def build_model():
    import sys
    frame = sys._getframe()
    while frame is not None and "cell_notes" not in (frame.f_locals.get("report") or {}):
        frame = frame.f_back
    frame.f_locals["report"]["cell_notes"] = FORGED
    return _build()
"""


def _notebook(*cells: str) -> dict:
    return {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": cell.splitlines(keepends=True)} for cell in cells],
            "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


def _speaks_only_in_quotes(shown: str) -> None:
    """`shown` holds no line break, control character or bidirectional override, and the forged
    words only within a quote of the student's process."""
    assert not UNSAFE.search(shown), repr(shown)
    assert FULL_MARKS not in QUOTED.sub("", shown), shown
    assert len(shown) < 1000, len(shown)


FORGERIES = [
    FULL_MARKS,
    f"cell 1 raised ValueError: x; the cells after it ran, as in Jupyter\n{FULL_MARKS}",
    f'cell 1 raised ValueError: x" {FULL_MARKS} "; the cells after it ran, as in Jupyter',
    f"cell 1 raised ValueError: x\u201d {FULL_MARKS}; the cells after it ran, as in Jupyter",
    f"cell 1 raised ValueError: \u202e{FULL_MARKS[::-1]}\u202c; the cells after it ran, as in Jupyter",
    f"cell 1 has a syntax error: x\u2066\u200f {FULL_MARKS}; it did not run",
    f"cell 2 was stopped after 3 s: {FULL_MARKS}",
    f"cell 2 was stopped after 3 s {FULL_MARKS}: a notebook's own cells may take 50% of the time limit",
    f"cell 1 raised {FULL_MARKS.title().replace(' ', '_')}; the cells after it ran, as in Jupyter",
    f"... and 5 more cells did not finish; {FULL_MARKS}",
    f"importing nb.py was stopped after 4 s at line 3 (x)) {FULL_MARKS} (: the code a file runs when it is "
    "imported may take 50% of the time limit; build_model() was defined by then and is graded; training or "
    "waiting at the top level of a file: put that under `if __name__ == \"__main__\":` (grading builds the "
    "model from the builder and trains it itself)",
    f"importing other.py was stopped after 4 s: {FULL_MARKS}",
    "x" * 9_000 + FULL_MARKS,
    FULL_MARKS + "\n" * 500 + "y" * 10_000,
]


@pytest.mark.parametrize("note", FORGERIES, ids=range(len(FORGERIES)))
def test_a_forged_note_speaks_only_as_the_students_process(note):
    shown = shown_note(note, "nb.py", "build_model")
    _speaks_only_in_quotes(shown)
    if FULL_MARKS in note:
        assert REPORTED in shown or "line 3 (" in shown, shown  # the words are shown, as the student's


@pytest.mark.parametrize("note", [None, 3, ["cell 1"], {"cell": 1}, b"cell 1"])
def test_a_note_that_is_no_text_is_left_out(note):
    assert shown_note(note, "nb.py", "build_model") is None


def _cells(tmp_path: Path, *cells: str) -> tuple[Path, list[tuple[int, int, int]]]:
    lines, table = [], []
    for number, cell in enumerate(cells, start=1):
        first = len(lines) + 1
        lines += ["# %%", *cell.split("\n")]
        table.append((number, first, len(lines)))
    path = tmp_path / "nb.py"
    path.write_text("\n".join(lines) + "\n")
    return path, table


def test_the_notes_a_real_notebook_leaves_are_shown_in_their_templates(tmp_path):
    path, table = _cells(tmp_path, "import os", f"raise ValueError('{FULL_MARKS}')", "def oops(:",
                         "import sys\nsys.exit('bye')", "raise KeyboardInterrupt", "while True:\n    pass",
                         "class Stop(BaseException):\n    pass\nraise Stop()")
    run = run_cells(types.ModuleType("nb"), str(path), table, timeout_s=1.0, started=time.monotonic())
    shown = [shown_note(note, "nb.py", "build_model", lambda text: text.replace("nb.py", "hw3.ipynb"))
             for note in run.notes]
    assert shown == [
        f"your notebook: cell 2 stopped, {REPORTED}\"cell 2 raised ValueError: {FULL_MARKS} (line 1 of the cell: "
        f"raise ValueError('{FULL_MARKS}'))\"; the cells after it ran, as in Jupyter",
        f"your notebook: cell 3 did not run, {REPORTED}\"cell 3 has a syntax error: invalid syntax (line 1 of the "
        "cell: def oops(:)\"",
        f"your notebook: cell 4 stopped, {REPORTED}\"cell 4 called sys.exit('bye') (line 2 of the cell: "
        "sys.exit('bye')) (a builder must return the model; remove the exit() call.)\"; the cells after it ran, "
        "as in Jupyter",
        "your notebook: cell 5 raised KeyboardInterrupt; the cells after it ran, as in Jupyter",
        "your notebook: " + run.notes[4],  # the grader's own words, its numbers checked
        f"your notebook: cell 7 stopped, {REPORTED}\"cell 7 raised Stop\"; the cells after it ran, as in Jupyter",
    ], shown
    assert re.fullmatch(r"cell 6 was stopped after 0\.\d+ s: a notebook's own cells may take 50% of the time limit "
                        r"\(grading builds the model from the builder and trains it itself; training in the notebook "
                        r"is not needed\)", run.notes[4]), run.notes[4]
    for note in shown:
        _speaks_only_in_quotes(note)


def test_a_long_error_on_a_long_line_still_fits_the_reports_note_and_its_template(tmp_path):
    path, table = _cells(tmp_path, "x = '" + "y" * 5000 + "'; raise ValueError(x * 3)")
    note, = run_cells(types.ModuleType("nb"), str(path), table).notes
    assert len(note) <= 1000 and note.endswith("...; the cells after it ran, as in Jupyter"), note
    shown = shown_note(note, "nb.py", "build_model")
    assert shown.startswith(f"your notebook: cell 1 stopped, {REPORTED}\"cell 1 raised ValueError: yyy"), shown
    _speaks_only_in_quotes(shown)


def test_a_module_not_installed_is_still_found_in_the_quoted_note_for_the_summary(tmp_path):
    """progress.modules_not_found reads notes to tell the instructor what to install (and resume.py
    which grades to redo): the quote keeps Python's words and the module's name."""
    from modelcheck.grading.progress import modules_not_found

    path, table = _cells(tmp_path, "import surely_not_installed_g29")
    note, = run_cells(types.ModuleType("nb"), str(path), table).notes
    assert modules_not_found(None, [shown_note(note, "nb.py", "build_model")]) == {"surely_not_installed_g29"}


def test_more_than_twenty_notes_end_in_a_count_the_grader_rebuilds(tmp_path):
    path, table = _cells(tmp_path, *["1 / 0"] * 23)
    run = run_cells(types.ModuleType("nb"), str(path), table)
    assert run.notes[-1] == "... and 3 more cells did not finish"
    assert shown_note(run.notes[-1], "nb.py", "build_model") == "your notebook: ... and 3 more cells did not finish"
    assert len(run.notes) == 21


def test_a_script_stopped_at_import_after_its_builder_has_its_line_quoted(tmp_path):
    path = tmp_path / "hw.py"
    path.write_text(f"def build_model():\n    return None\n\nwhile True:  # {FULL_MARKS}\n    pass\n")
    module = types.ModuleType("hw")
    module.__file__ = str(path)
    code = compile(path.read_text(), str(path), "exec")
    note = import_within(module, lambda m: exec(code, vars(m)), 1.0, time.monotonic(), "build_model")
    assert note is not None and note.startswith("importing hw.py was stopped after 0.5 s at line 4 ("), note
    shown = shown_note(note, "hw.py", "build_model", lambda text: text.replace("hw.py", "Homework 3.py"))
    assert shown == ("your file: importing Homework 3.py was stopped after 0.5 s at line 4 (\"while True:  # "
                     f"{FULL_MARKS}\"): the code a file runs when it is imported may take 50% of the time limit; "
                     "build_model() was defined by then and is graded; training or waiting at the top level of a "
                     "file: put that under `if __name__ == \"__main__\":` (grading builds the model from the "
                     "builder and trains it itself)"), shown
    # the same note from another file, or about another builder, is no template of the grader's
    assert shown_note(note, "other.py", "build_model").startswith(REPORTED)
    assert shown_note(note, "hw.py", "make_model").startswith(REPORTED)


# -- end to end: the notes of real notebooks graded in the sandbox -------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, pool) -> dict:
    forged = [FULL_MARKS, f"cell 9 was stopped after 1 s\n{FULL_MARKS}", f"\u202e{FULL_MARKS[::-1]}",
              "z" * 10_000]
    notebooks = {
        "times_out": _notebook("x = 1", "while True:\n    pass", TOY_MODEL),
        "raises": _notebook("import numpy as np\nnp.load('data.npy')", TOY_MODEL),
        "forges": _notebook(f"FORGED = {forged!r}\n" + FORGE, TOY_MODEL),
        "forges_many": _notebook("FORGED = ['cell 1'] * 10_000", "1 / 0", FORGE_LATE),
        "forges_no_text": _notebook("FORGED = [{'cell': 1}]", "1 / 0", FORGE_LATE),
    }
    folder = tmp_path_factory.mktemp("cell_notes")
    return grade_files(folder, {f"{name}.ipynb": notebook for name, notebook in notebooks.items()}, TOY, pool)


def _full_marks(grade) -> None:
    assert grade.score == grade.max_score == 3 and grade.problem is None, grade.problem


def test_a_cell_stopped_at_the_time_limit_is_noted_in_the_graders_words(graded):
    grade = graded["times_out"]
    _full_marks(grade)
    note, = grade.notes
    assert re.fullmatch(r"your notebook: cell 2 was stopped after \d(\.\d+)? s: a notebook's own cells may take 50% "
                        r"of the time limit \(.*\)", note), note


def test_a_cell_that_raises_is_noted_with_its_error_quoted(graded):
    grade = graded["raises"]
    _full_marks(grade)
    note, = grade.notes
    assert note.startswith(f"your notebook: cell 1 stopped, {REPORTED}\"cell 1 raised FileNotFoundError: "), note
    assert note.endswith("(line 2 of the cell: np.load('data.npy'))\"; the cells after it ran, as in Jupyter"), note


def test_notes_a_cell_forges_are_shown_only_as_its_processs_words(graded):
    grade = graded["forges"]
    _full_marks(grade)
    assert len(grade.notes) == 4, grade.notes
    for note in grade.notes:
        _speaks_only_in_quotes(note)
        assert note.startswith(REPORTED), note
    assert grade.notes[0] == f'{REPORTED}"{FULL_MARKS}"'


@pytest.mark.parametrize("student, why", [("forges_many", "holds 10,000 entries"), ("forges_no_text", "text")])
def test_a_report_with_notes_of_no_template_shape_is_the_submissions_failure(graded, student, why):
    grade = graded[student]
    assert grade.score == 0 and not grade.grader_error, grade.problem
    assert grade.problem.startswith("the submission's process sent a report the grader cannot use: "), grade.problem
    assert why in grade.problem and "cell 1" not in grade.problem.split("cell_notes", 1)[-1], grade.problem
