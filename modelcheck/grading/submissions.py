"""Finding submissions in a folder and preparing each one's private working copy.

A submission is a ``.py`` file, a folder holding one (helper modules beside it are kept), or a
Jupyter notebook, nbformat 4 or 3 (its code cells in order, as a script that runs as the
notebook does in Jupyter, but runs no shell: `notebook_script`). The student id is the file
name without extension, or the folder name, shown readably
(`modelcheck.grading.schema.display_name`) whatever bytes it holds.

A submissions folder may hold anything: links, hard links, device nodes, FIFOs, sockets, huge
or deep trees. Only regular files are copied, within a size, count and depth budget; no link is
followed, no special file opened, and no file with other hard links copied (its content may be
someone else's). A notebook over the size of one file is read (within a bound of its own) and
copied without its outputs, which grading never reads. Two submissions with the same id are
both reported, neither graded.
"""

from __future__ import annotations

import importlib.machinery
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .notebook_size import NOTEBOOK_SIZE_HINT, without_outputs
from .notebooks import OtherLanguage, notebook_script, notebook_source
from .schema import display_name

__all__ = ["Submission", "discover_submissions", "left_out", "notebook_source", "notebook_script", "prepare_workdir",
           "CopyBudget", "NOTEBOOK_SIZE_HINT"]

_IGNORED = ("__pycache__", ".ipynb_checkpoints", "__MACOSX", ".git", ".DS_Store")
_SUFFIXES = (".py", ".ipynb")
_APPLE_DOUBLE = "._"  # the metadata file macOS writes beside each file it copies or zips: never a submission


@dataclass(frozen=True)
class CopyBudget:
    """How much of a submission folder is copied."""

    max_bytes: int = 50 * 2**20
    max_files: int = 1000
    max_depth: int = 8
    max_file_bytes: int = 20 * 2**20
    # read, in all, from notebooks over `max_file_bytes`, to copy them without their outputs
    max_notebook_bytes: int = 100 * 2**20


def _mb(size: int) -> str:
    """`size` bytes in MB, as the limits are stated to students."""
    return f"{size / 2**20:g} MB"


@dataclass(frozen=True)
class Submission:
    """One student's submission: `student` id, the `path` handed in, and a `problem` that
    stops it from being graded (another submission has the same id)."""

    student: str
    path: Path
    problem: str | None = None

    @classmethod
    def from_path(cls, path: Path) -> "Submission":
        """A submission named after its file (without extension) or folder."""
        is_file = path.suffix in _SUFFIXES and not _is_dir(path)
        return cls(display_name(path.stem if is_file else path.name), path)

    @property
    def kind(self) -> str:
        if _is_dir(self.path):
            return "folder"
        return "notebook" if self.path.suffix == ".ipynb" else "script"


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def discover_submissions(folder: str | Path) -> list[Submission]:
    """Every submission directly inside `folder`, sorted by file name. Entries whose ids
    coincide (``alice.py`` and ``alice.ipynb``) are all kept, each with a `problem` naming
    the others and an id made unique by its full file name."""
    folder = Path(folder)
    if folder.is_file():
        raise FileNotFoundError(f"{folder} is a file: SUBMISSIONS is the folder that holds every student's submission "
                                f"(to grade this one, give its folder {folder.parent} and --only {folder.name})")
    if not folder.is_dir():
        raise FileNotFoundError(f"the submissions folder {folder} does not exist")
    found = [Submission.from_path(entry) for entry in _entries(folder) if _is_submission(entry)]
    by_id: dict[Any, list[Submission]] = {}
    for submission in found:
        by_id.setdefault(submission.student, []).append(submission)
        try:  # hard links to one file: the same work handed in under two names
            info = os.lstat(submission.path)
            if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                by_id.setdefault((info.st_dev, info.st_ino), []).append(submission)
        except OSError:
            pass
    clashes: dict[Path, list[Submission]] = {}
    for group in by_id.values():
        if len(group) > 1:
            for submission in group:
                clashes.setdefault(submission.path, group)
    result = []
    for submission in found:
        same = clashes.get(submission.path)
        if same is None:
            result.append(submission)
            continue
        names = ", ".join(display_name(s.path.name) for s in same)
        if all(s.student == submission.student for s in same):
            problem = (f"{len(same)} submissions map to the student id {submission.student!r} ({names}); none "
                       f"of them is graded, so that neither replaces the other: hand in exactly one")
        else:
            problem = (f"{names} are one file under several names (hard links); none of them is graded, so "
                       f"that nobody gets another's grade")
        result.append(Submission(display_name(submission.path.name), submission.path, problem))
    return result


def _entries(folder: Path) -> list[Path]:
    """What `folder` holds that could be a student's work, by file name: not the tools' and the
    operating systems' own files (``__MACOSX``, ``._x``, ``.DS_Store``)."""
    return [entry for entry in sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name))
            if entry.name not in _IGNORED and not entry.name.startswith(_APPLE_DOUBLE)]


def _is_submission(entry: Path) -> bool:
    return _is_dir(entry) or entry.suffix in _SUFFIXES or entry.is_symlink()


def left_out(folder: str | Path) -> list[str]:
    """The names of what `folder` holds that `discover_submissions` does not grade (``bob.zip``,
    ``carol.pdf``, ``dave.PY``): work handed in a form that is no submission gets no gradebook row,
    so the run names it for the instructor instead of leaving it out silently."""
    return [display_name(entry.name) for entry in _entries(Path(folder))
            if not _is_submission(entry) and not entry.name.startswith(".")]  # (.gitignore: no one's work)


class _NoCode(FileNotFoundError):
    """A folder submission holds no .py file or notebook."""


def _holds(folder: Path) -> str:
    """What `folder` (the grader's copy of a submission) holds instead, in a few names: a PDF of the
    notebook, a .txt copy, a .zip the student did not unpack."""
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    if not names:
        return "it is empty"
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return "it holds " + ", ".join(display_name(name) for name in names[:5]) + more


def _entry_file(folder: Path, builder: str, shown: str) -> Path:
    candidates = sorted(p for p in folder.rglob("*") if p.suffix in _SUFFIXES and p.is_file() and
                        not any(part in _IGNORED or part.startswith(".") for part in p.relative_to(folder).parts))
    if not candidates:
        raise _NoCode(f"the folder {shown}/ holds no .py file or notebook")
    if len(candidates) == 1:
        return candidates[0]
    pattern = re.compile(rf"def\s+{re.escape(builder)}\s*\(")
    defining = [p for p in candidates if pattern.search(p.read_text(encoding="utf-8", errors="replace"))]
    if len(defining) == 1:
        return defining[0]
    names = ", ".join(display_name(str(p.relative_to(folder))) for p in (defining or candidates))
    raise FileNotFoundError(f"the folder {shown}/ holds several candidate files ({names}); "
                            f"keep exactly one file that defines `{builder}()`")


class _Copier:
    """Copies regular files only, within a `CopyBudget`; remembers what it left out, and whether
    that was for size (`too_large`; `outputs_too_large` when a notebook's outputs make it so)
    or for a notebook's broken JSON (`broken`)."""

    def __init__(self, budget: CopyBudget) -> None:
        self.budget = budget
        self.files = 0
        self.bytes = 0
        self.notebook_bytes = 0  # read from notebooks over `max_file_bytes` to leave their outputs out
        self.skipped: dict[str, int] = {}
        self.too_large = self.outputs_too_large = False
        self.broken: str | None = None

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def _fits(self, size: int) -> bool:
        """Whether one more file of `size` bytes is within the count and size budget; if not,
        remember which limit it passes."""
        budget = self.budget
        if self.files >= budget.max_files:
            self.skip(f"files over the limit of {budget.max_files} files")
        elif size > budget.max_file_bytes:
            self.skip(f"files over the limit of {_mb(budget.max_file_bytes)} a file")
        elif self.bytes + size > budget.max_bytes:
            self.skip(f"files over the limit of {_mb(budget.max_bytes)} in all")
        else:
            return True
        self.too_large = True
        return False

    def copy_file(self, source: Path, target: Path, *, linked_ok: bool = False) -> bool:
        """Copy one regular file, opened without following links or blocking on a FIFO, and
        checked again once open (it may have been swapped since it was listed). A file with
        other hard links is left out unless `linked_ok` (the handed-in file itself, whose
        links to other submissions `discover_submissions` reports). A notebook over the size
        of one file is copied without its outputs (`_copy_notebook_cells`)."""
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError:
            self.skip("links or unreadable files")
            return False
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                self.skip("special files (devices, FIFOs, sockets)")
                return False
            if info.st_nlink > 1 and not linked_ok:
                self.skip("files with other hard links")
                return False
            if source.suffix == ".ipynb" and info.st_size > self.budget.max_file_bytes:
                return self._copy_notebook_cells(fd, info.st_size, target)
            if not self._fits(info.st_size):
                return False
            left = info.st_size
            with open(target, "xb") as out:
                while left > 0 and (chunk := os.read(fd, min(1 << 20, left))):
                    out.write(chunk)
                    left -= len(chunk)
            self.files += 1
            self.bytes += info.st_size
            return True
        finally:
            os.close(fd)

    def _copy_notebook_cells(self, fd: int, size: int, target: Path) -> bool:
        """Copy the notebook open as `fd` (`size` bytes, over the size of one file) without its
        outputs, attachments and metadata, which grading never reads: read whole only within
        `max_notebook_bytes` (for all such notebooks of the submission), never parsed whole
        (`without_outputs`); what is left must fit the budget of one file."""
        budget = self.budget
        if self.notebook_bytes + size > budget.max_notebook_bytes:
            self.skip(f"notebooks over the limit of {_mb(budget.max_notebook_bytes)} with their outputs")
            self.too_large = self.outputs_too_large = True
            return False
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(size)  # at most `size`, even if the file has grown since
        self.notebook_bytes += len(data)
        try:
            cells = without_outputs(data)
        except ValueError as exc:
            self.broken = str(exc)
            self.skip(f"notebooks whose JSON cannot be read ({exc})")
            return False
        del data
        if len(cells) > budget.max_file_bytes:
            self.skip(f"notebooks whose cells (code and markdown) are over the limit of {_mb(budget.max_file_bytes)} "
                      f"a file even without their outputs")
            self.too_large = True
            return False
        if not self._fits(len(cells)):
            return False
        with open(target, "xb") as out:
            out.write(cells)
        self.files += 1
        self.bytes += len(cells)
        return True

    def copy_tree(self, source: Path, target: Path, depth: int = 0) -> None:
        if depth > self.budget.max_depth:
            self.skip("folders nested too deeply")
            return
        try:
            names = sorted(os.listdir(source))
        except OSError:
            self.skip("unreadable folders")
            return
        for name in names:
            if name in _IGNORED:
                continue
            path = source / name
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                if self.files >= self.budget.max_files:
                    self.skip(f"files over the limit of {self.budget.max_files} files")
                    continue
                (target / name).mkdir()
                self.copy_tree(path, target / name, depth + 1)
            elif stat.S_ISREG(mode):
                self.copy_file(path, target / name)
            elif stat.S_ISLNK(mode):
                self.skip("links or unreadable files")
            else:
                self.skip("special files (devices, FIFOs, sockets)")

    def note(self) -> str:
        return "; ".join(f"{count} {why}" for why, count in sorted(self.skipped.items()))


def _outputs_hint(copier: _Copier) -> str:
    """How to make a notebook fit, when its outputs made it too large to copy ("" otherwise)."""
    return f"; outputs are not graded, so {NOTEBOOK_SIZE_HINT}" if copier.outputs_too_large else ""


def _refusal(shown: str, copier: _Copier) -> str:
    """Why the handed-in file `shown` was not copied, in the student's terms: with the limit it
    passes and, for a notebook too large with its outputs, how to make it fit."""
    if copier.broken is not None:
        return f"{shown} is not a readable Jupyter notebook ({copier.broken})"
    if copier.too_large:
        return f"{shown} is too large to grade ({copier.note()}){_outputs_hint(copier)}"
    return f"{shown} is not a plain file that can be graded ({copier.note()})"


def prepare_workdir(submission: Submission, workdir: Path, builder: str,
                    budget: CopyBudget | None = None) -> Path:
    """Copy the submission into `workdir` (which must exist, empty); return the script to import.

    Raises `FileNotFoundError`/`ValueError` with a student-readable message when the
    submission has nothing to run.
    """
    source = submission.path
    copier = _Copier(budget or CopyBudget())
    shown = display_name(source.name)
    try:
        mode = os.lstat(source).st_mode
    except OSError as exc:
        raise FileNotFoundError(f"{shown} cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(mode):
        raise ValueError(f"{shown} is a symbolic link; hand in the file itself")
    if stat.S_ISDIR(mode):
        copier.copy_tree(source, workdir)
        try:
            entry = _entry_file(workdir, builder, shown)
        except FileNotFoundError as exc:
            left_out = copier.note()
            if left_out:
                left_out = f" (left out: {left_out}){_outputs_hint(copier)}"
            elif isinstance(exc, _NoCode):
                left_out = f" ({_holds(workdir)})"
            raise FileNotFoundError(f"{exc}{left_out}") from None
    else:
        plain = re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", source.name) is not None
        entry = workdir / (source.name if plain else "submission" + source.suffix)
        if not copier.copy_file(source, entry, linked_ok=True):
            raise ValueError(_refusal(shown, copier))
    if entry.suffix == ".ipynb":
        try:
            script = notebook_source(entry)
        except OtherLanguage as exc:
            raise ValueError(f"{display_name(entry.name)} is a notebook in another language: {exc}; the "
                             "assignment needs a Python notebook (or .py file)") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{display_name(entry.name)} is not a readable Jupyter notebook ({exc})") from None
        entry = converted_script(entry)
        entry.write_text(script, encoding="utf-8")
    return entry


CONVERTED_SUFFIX = ".ipynb.py"


def converted_script(notebook: Path) -> Path:
    """Where the script converted from `notebook` is written: beside it, with ``.py`` for its
    suffix; but under ``<name>.ipynb.py``, a name no ``import`` finds, when ``<name>.py`` would
    be imported by the notebook's own ``import <name>`` (``pandas.ipynb``, ``yaml.ipynb``: in
    Jupyter that imports the package, here it would import the notebook itself) or is a file the
    student handed in beside it."""
    name = notebook.stem
    if notebook.with_suffix(".py").exists():
        return notebook.with_name(notebook.stem + CONVERTED_SUFFIX)
    if not name.isidentifier() or name == "submission":
        return notebook.with_suffix(".py")
    here = os.path.abspath(notebook.parent)
    elsewhere = [entry for entry in sys.path if entry and os.path.abspath(entry) != here]
    if (name in sys.stdlib_module_names or name in sys.builtin_module_names
            or importlib.machinery.PathFinder.find_spec(name, elsewhere) is not None):
        return notebook.with_name(notebook.stem + CONVERTED_SUFFIX)
    return notebook.with_suffix(".py")
