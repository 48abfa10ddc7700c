"""What a grading run keeps in OUT so an interrupted run loses nothing and a rerun regrades only
what changed.

    OUT/.modelcheck/grades/<key>.json   one file per graded student:
        {"student", "content": sha256 of the submission, "assignment": sha256 of the assignment
         and the modelcheck version, "grade": StudentGrade.to_dict()}

Each file is written (atomically) as soon as its student is graded; the gradebook and index are
rebuilt from these files. ``--resume`` skips a submission whose two hashes are unchanged (and
whose grade is not a grader error, nor stopped at a module installed since); ``--only`` regrades
the named students and keeps the rest. No Keras import here.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import shutil
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any, Iterable

from ..core.files import write_atomic
from .assignment import Assignment
from .grade import StudentGrade
from .progress import modules_not_found
from .submissions import _IGNORED, CopyBudget, Submission

__all__ = ["RunState", "content_hash", "assignment_hash", "STATE_DIR", "STALE"]

STATE_DIR = ".modelcheck"
_FORMAT = 1


def content_hash(submission: Submission, *, max_bytes: int = 1 << 30) -> str:
    """sha256 over what grading copies of `submission`: each regular file's relative path and
    bytes, in sorted order (tool folders, links and special files left out, and
    folders past the copy's depth budget, as the copy leaves them out). A handed-in link is
    hashed as nothing (grading refuses it, and its target may be the whole disk). The folder is
    walked without recursion, so no nesting stops the run; files are read without following
    links or blocking, in chunks, up to `max_bytes` in all; any file name works (names that are
    not UTF-8 included)."""
    digest = hashlib.sha256()
    root = submission.path
    left = max_bytes
    for path in _graded_files(root):
        try:
            handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        name = path.name if path == root else path.relative_to(root).as_posix()
        # each file as its name, NUL, and the fixed-length digest of its bytes: a file's bytes that hold
        # "\0other\0..." cannot then hash as two files (the same hash for two different folders)
        inner = hashlib.sha256()
        with os.fdopen(handle, "rb") as file:
            regular = stat.S_ISREG(os.fstat(file.fileno()).st_mode)
            while regular and left > 0 and (chunk := file.read(min(1 << 20, left))):
                inner.update(chunk)
                left -= len(chunk)
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0" + inner.hexdigest().encode() + b"\n")
    return digest.hexdigest()


def _graded_files(root: Path) -> list[Path]:
    """The regular files under `root` that grading may copy (`root` itself when it is one), sorted;
    walked with a stack, within the copy's depth budget, never through a link."""
    try:
        mode = os.lstat(root).st_mode
    except OSError:
        return []
    if not stat.S_ISDIR(mode):
        return [root] if stat.S_ISREG(mode) else []
    files: list[Path] = []
    max_depth = CopyBudget().max_depth
    folders = [(root, 0)]
    while folders:
        folder, depth = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name in _IGNORED:
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth < max_depth:
                    folders.append((Path(entry.path), depth + 1))
            elif entry.is_file(follow_symlinks=False):
                files.append(Path(entry.path))
    return sorted(files)


def assignment_hash(assignment: Assignment) -> str:
    """sha256 of what the assignment file says (its parsed settings: a comment or a blank line
    edited there regrades nobody), the files it names (reference solution, sample data, custom
    objects) and the modelcheck version (a new release may judge differently)."""
    from .. import __version__

    try:
        said = json.dumps(tomllib.loads(assignment.text), sort_keys=True, default=str)
    except (tomllib.TOMLDecodeError, TypeError, ValueError):
        said = assignment.text
    digest = hashlib.sha256(f"{__version__}\0{said}".encode())
    for name, source in sorted(assignment.instructor_files().items()):
        digest.update(f"\0{name}\0".encode())
        try:
            digest.update(source.read_bytes())
        except OSError:
            digest.update(b"(missing)")
    return digest.hexdigest()


class RunState:
    """The per-student records of one OUT folder."""

    def __init__(self, out_dir: str | Path, assignment: Assignment) -> None:
        self.folder = Path(out_dir) / STATE_DIR / "grades"
        self.assignment = assignment
        self.assignment_hash = assignment_hash(assignment)

    def _path(self, student: str) -> Path:
        return self.folder / (hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:24] + ".json")

    def clear(self) -> None:
        """Forget every record (a full regrade)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def students(self, besides: Iterable[str] = ()) -> list[str]:
        """The students this OUT folder holds records of (each record under its own student's name),
        other than those in `besides`, whose records are not read (a class of a thousand students
        is not read again to find the two who left)."""
        skip = {self._path(student) for student in besides}
        found = []
        for path in sorted(set(self.folder.glob("*.json")) - skip):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            student = data.get("student") if isinstance(data, dict) else None
            if isinstance(student, str) and self._path(student) == path:
                found.append(student)
        return found

    def forget(self, student: str) -> None:
        """Drop the record of `student`."""
        self._path(student).unlink(missing_ok=True)

    def record(self, grade: StudentGrade, content: str) -> None:
        """Keep `grade` of a submission whose content hashed to `content`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"format": _FORMAT, "student": grade.student, "content": content,
                "assignment": self.assignment_hash, "grade": grade.to_dict()}
        write_atomic(self._path(grade.student), json.dumps(data) + "\n")

    def _read(self, student: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(student).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("student") == student else None

    def grade(self, student: str) -> StudentGrade | None:
        """The kept grade of `student`, or None."""
        data = self._read(student)
        try:
            return StudentGrade.from_dict(data["grade"]) if data else None
        except (KeyError, TypeError, ValueError):
            return None

    def is_current(self, submission: Submission, content: str) -> bool:
        """True when `submission` was graded with this content and this assignment, by a grader
        that did not fail, and did not stop at a module that is installed here since."""
        return self.stale(submission, content) is None

    def stale(self, submission: Submission, content: str) -> str | None:
        """Why `submission` must be graded again (one of `STALE`), or None when its grade is current."""
        data = self._read(submission.student)
        if not data:
            return "new"
        grade = data.get("grade") or {}
        if data.get("assignment") != self.assignment_hash:
            return "assignment"
        if data.get("content") != content:
            return "changed"
        if grade.get("grader_error"):
            return "grader error"
        return "module" if _installed_since(grade) else None


# what `RunState.stale` answers, as the instructor reads it
STALE = {"new": "not graded yet", "changed": "changed since graded",
         "assignment": "graded under another assignment file, its files or modelcheck version",
         "grader error": "grader errors", "module": "stopped at a module installed since"}


def _installed_since(grade: dict[str, Any]) -> list[str]:
    """The modules a kept grade's submission could not import that this Python now finds: the
    summary tells the instructor to install such a module (matplotlib) and grade again with
    --resume, and its files are unchanged. Looked up on the installed paths only, not the current
    folder, where a student's own helper of that name may lie."""
    notes = grade.get("notes")
    problem = grade.get("problem")
    names = modules_not_found(problem if isinstance(problem, str) else None,
                              [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else [])
    here = {"", os.getcwd()}
    paths = [p for p in sys.path if p not in here]
    return sorted(name for name in names if importlib.machinery.PathFinder.find_spec(name, paths) is not None)
