"""Red team 17: a careless, unlucky or cheating student against `modelcheck grade`.

Each test names what one submission did to the grading run or to its own grade before the fix:
a grade blank or wrong for a sound submission, a whole run stopped by one submission, or a message
that blames the wrong party.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelcheck.grading.resume import content_hash
from modelcheck.grading.submissions import CopyBudget, Submission


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
