"""Red team 17: a careless, unlucky or cheating student against `modelcheck grade`.

Each test names what one submission did to the grading run or to its own grade before the fix:
a grade blank or wrong for a sound submission, a whole run stopped by one submission, or a message
that blames the wrong party.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from modelcheck.grading import Grader, discover_submissions, load_assignment
from modelcheck.grading.grade import StudentGrade
from modelcheck.grading.isolation import Isolation
from modelcheck.grading.jobdirs import remove_jobdir, sweep_dead_jobdirs
from modelcheck.grading.resume import content_hash
from modelcheck.grading.submissions import CopyBudget, Submission
from tests.grading_cluster import grade_files
from tests.test_grading_notebooks import TOY_MODEL, _notebook

TOY = Path(__file__).parent / "submissions" / "toy.toml"
IMPORTS, BUILDER = TOY_MODEL.split("\n\n\n")
# submission file name -> its content: each graded once, by one grader (the toy assignment)
CLASS = {
    "good.py": TOY_MODEL,
    # a notebook named like a module its own cells import (as Jupyter runs it, it works): imported
    # under that name, it replaced Keras, or the standard library's random, for its own imports
    "keras.ipynb": _notebook(IMPORTS, BUILDER),
    "random.ipynb": _notebook("import random\n" + IMPORTS + "\nrandom.seed(0)", BUILDER),
    "json.py": "import json\n" + TOY_MODEL + "\nCONFIG = json.loads('{}')\n",
}


def _nested(folder: Path, depth: int) -> None:
    """`depth` folders, one inside the next, under `folder` (made through folder descriptors: the
    whole path is longer than the system lets one name)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        with os.fdopen(os.open("deep.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as handle:
            handle.write("X = 1\n")
    finally:
        os.close(fd)


def _unnest(folder: Path) -> None:
    """Remove what `_nested` made under `folder`, one level at a time: shutil.rmtree, and pytest's
    clean-up of old temporary folders in a later session, recurse once per level and raise
    RecursionError (pytest then ends with an internal error)."""
    top = folder / "d"
    while (top / "d").is_dir():
        (top / "d").rename(folder / "up")
        for leftover in top.iterdir():
            leftover.unlink()
        top.rmdir()
        (folder / "up").rename(top)
    if top.is_dir():
        for leftover in top.iterdir():
            leftover.unlink()
        top.rmdir()


@pytest.fixture
def unnested(tmp_path):
    """`tmp_path`, whose `_nested` folders are removed after the test."""
    yield tmp_path
    for folder in tmp_path.iterdir():
        if (folder / "d").is_dir():
            _unnest(folder)


def test_a_folder_nested_deeper_than_pythons_recursion_limit_does_not_stop_the_run(unnested):
    """content_hash, which `modelcheck grade` computes for every submission before grading any, walked
    the folder with Path.rglob: 1,200 nested folders raised RecursionError, and the whole class went
    ungraded. What lies past the copy's depth budget is never graded, so it is not hashed either."""
    tmp_path = unnested
    folder = tmp_path / "eve"
    folder.mkdir()
    (folder / "model.py").write_text("def build_model():\n    pass\n")
    _nested(folder, 1200)
    submission = Submission("eve", folder)
    first = content_hash(submission)
    (folder / "model.py").write_text("def build_model():\n    return None\n")
    assert content_hash(submission) != first
    shallow = tmp_path / "shallow"
    shallow.mkdir()
    _nested(shallow, CopyBudget().max_depth)  # the deepest folder the copy still reads
    digest = content_hash(Submission("shallow", shallow))
    (shallow / ("d/" * CopyBudget().max_depth) / "deep.py").write_text("X = 2\n")
    assert content_hash(Submission("shallow", shallow)) != digest
    remove_jobdir(folder)  # (pytest's own clean-up recurses too)


def test_a_link_handed_in_as_a_submission_is_never_walked(tmp_path):
    """A link in the submissions folder (`mallory -> /`, kept by an unzip of the students' uploads)
    is refused by grading, but content_hash, computed for every submission before grading any,
    followed it and read every file beneath it, up to 1 GB: the whole disk and /proc for a link to /."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "secret.py").write_text("def build_model():\n    pass\n")
    link = tmp_path / "subs" / "mallory"
    link.parent.mkdir()
    link.symlink_to(target)
    digest = content_hash(Submission("mallory", link))
    (target / "secret.py").write_text("changed\n")
    assert content_hash(Submission("mallory", link)) == digest  # nothing behind the link was read


@pytest.fixture(scope="module")
def graded(pool, tmp_path_factory: pytest.TempPathFactory) -> dict[str, StudentGrade]:
    return grade_files(tmp_path_factory.mktemp("redteam17") / "subs", CLASS, TOY, pool)


def _full_marks(grade: StudentGrade) -> None:
    assert grade.score == grade.max_score, (grade.problem, grade.notes, [(r.check, r.message) for r in grade.results])


def test_the_class_grades_as_expected(graded):
    _full_marks(graded["good"])


@pytest.mark.parametrize("student", ["keras", "random", "json"])
def test_a_submission_named_like_a_module_it_imports_is_graded_as_any_other(graded, student):
    """keras.ipynb got 0: "module 'keras' has no attribute 'Sequential'"; random.ipynb a note that
    its first cell failed ("module 'random' has no attribute 'seed'")."""
    _full_marks(graded[student])
    assert not graded[student].notes


NESTS = TOY_MODEL.replace("def build_model():\n", """def build_model():
    import os
    here = os.getcwd()
    for _ in range(3000):
        os.mkdir("d")
        os.chdir("d")
    os.chdir(here)
""")


def test_a_job_folder_nested_3000_deep_is_removed_and_the_run_goes_on(pool, tmp_path):
    """Where jobs have no tmpfs of their own (no namespaces: a grader that is not root, a container),
    the grader removed each job's folder with shutil.rmtree, which recursed once per level: a
    builder that made 3,000 nested folders raised RecursionError out of Grader.grade, and the whole
    class went ungraded (and the next run's start, sweeping the folder left, raised it again)."""
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "nests.py").write_text(NESTS)
    (tmp_path / "subs" / "zed.py").write_text(TOY_MODEL)
    (tmp_path / "work").mkdir()
    weak = Grader(load_assignment(TOY), workers=1, pool=pool, isolation=Isolation(), workroot=tmp_path / "work")
    grades = weak.grade_all(discover_submissions(tmp_path / "subs"))
    assert [(grade.student, grade.score) for grade in grades] == [("nests", 3), ("zed", 3)]
    assert not list((tmp_path / "work").iterdir())
    left = tmp_path / "work" / "modelcheck-grade-999999999-left"  # a grader killed outright left it
    left.mkdir()
    _nested(left, 3000)
    assert sweep_dead_jobdirs(tmp_path / "work") == [left]
    assert not left.exists()


def test_work_handed_in_as_no_submission_is_named_not_left_out_silently(tmp_path):
    """bob.zip, carol.pdf, dave.PY: discover_submissions takes .py files, notebooks and folders only,
    and such work got no gradebook row, no feedback, and no word to the instructor."""
    from modelcheck.grading.course import grade_course

    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ann.py").write_text(TOY_MODEL)
    for name in ("bob.zip", "carol.pdf", "dave.PY", ".gitignore", "._ann.py"):
        (folder / name).write_bytes(b"PK\x03\x04")
    stream = io.StringIO()
    run = grade_course(TOY, folder, tmp_path / "out", workers=1, quiet=True, stream=stream)
    assert [grade.student for grade in run.grades] == ["ann"]
    assert "not graded, since no .py file, notebook or folder: bob.zip, carol.pdf, dave.PY (" in stream.getvalue()


def test_a_hidden_file_the_copy_keeps_counts_for_resume(tmp_path):
    """The copy keeps hidden files (a submission may read .data/weights.npy), but content_hash left them
    out, so --resume kept the grade of a submission whose hidden data had changed."""
    folder = tmp_path / "erin"
    (folder / ".data").mkdir(parents=True)
    (folder / "model.py").write_text("def build_model():\n    pass\n")
    (folder / ".data" / "scale.txt").write_text("1\n")
    first = content_hash(Submission("erin", folder))
    (folder / ".data" / "scale.txt").write_text("2\n")
    second = content_hash(Submission("erin", folder))
    assert second != first
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref\n")  # a tool folder the copy leaves out: no change
    assert content_hash(Submission("erin", folder)) == second


def test_the_submissions_own_code_is_where_the_job_started_not_where_it_moved(tmp_path, monkeypatch):
    """A builder that calls os.chdir("/") made every library file count as the submission's own code
    (fidelity judged Keras' relu as a function of the student's)."""
    import keras

    from modelcheck.grading import fidelity

    own = tmp_path / "student.py"
    own.write_text("def swish2(x):\n    return x\n")
    namespace: dict = {}
    exec(compile(own.read_text(), str(own), "exec"), namespace)
    monkeypatch.setattr(fidelity, "_JOB_FOLDER", [None])
    fidelity.set_job_folder(str(tmp_path))
    monkeypatch.chdir("/")
    assert fidelity._own_code(namespace["swish2"], ())
    assert not fidelity._own_code(keras.activations.relu, ())
