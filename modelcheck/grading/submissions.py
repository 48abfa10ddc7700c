"""Finding submissions in a folder and preparing each one's private working copy.

A submission is a ``.py`` file, a folder holding one (helper modules beside it are kept), or a
Jupyter notebook (its code cells in order; IPython magics ``%...`` and shell lines ``!...``
skipped). The student id is the file name without extension, or the folder name.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Submission", "discover_submissions", "notebook_source", "prepare_workdir"]

_IGNORED = ("__pycache__", ".ipynb_checkpoints", "__MACOSX")


@dataclass(frozen=True)
class Submission:
    """One student's submission: `student` id and the `path` they handed in."""

    student: str
    path: Path

    @property
    def kind(self) -> str:
        if self.path.is_dir():
            return "folder"
        return "notebook" if self.path.suffix == ".ipynb" else "script"


def _skipped(folder: str, names: list[str]) -> set[str]:
    """Names copytree leaves out: tool folders, and symlinks (a link to a grader file would
    hand its content to the student's code)."""
    return {n for n in names if n in _IGNORED or (Path(folder) / n).is_symlink()}


def discover_submissions(folder: str | Path) -> list[Submission]:
    """Every submission directly inside `folder`, sorted by student id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"the submissions folder {folder} does not exist")
    found: list[Submission] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in _IGNORED:
            continue
        if entry.is_dir() or entry.suffix in (".py", ".ipynb"):
            found.append(Submission(entry.stem if entry.is_file() else entry.name, entry))
    return found


def notebook_source(path: Path) -> str:
    """The code cells of a notebook as one script, magics and shell lines commented out.

    Lines keep their cell-relative order; each cell is headed by a comment naming it, so an
    error's line can be found in the notebook.
    """
    notebook = json.loads(path.read_text(encoding="utf-8"))
    parts: list[str] = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        if text.lstrip().startswith("%%"):
            parts.append(f"# cell {number}: skipped (cell magic)")
            continue
        lines = [f"# cell {number}"]
        for line in text.splitlines():
            if re.match(r"\s*[%!]", line):
                indent = line[: len(line) - len(line.lstrip())]
                line = f"{indent}pass  # skipped: {line.strip()}"
            lines.append(line)
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _entry_file(folder: Path, builder: str, shown: str) -> Path:
    candidates = sorted(p for p in folder.rglob("*") if p.suffix in (".py", ".ipynb") and
                        not any(part in _IGNORED or part.startswith(".") for part in p.relative_to(folder).parts))
    if not candidates:
        raise FileNotFoundError(f"the folder {shown}/ holds no .py file or notebook")
    if len(candidates) == 1:
        return candidates[0]
    pattern = re.compile(rf"def\s+{re.escape(builder)}\s*\(")
    defining = [p for p in candidates if pattern.search(p.read_text(encoding="utf-8", errors="replace"))]
    if len(defining) == 1:
        return defining[0]
    names = ", ".join(str(p.relative_to(folder)) for p in (defining or candidates))
    raise FileNotFoundError(f"the folder {shown}/ holds several candidate files ({names}); "
                            f"keep exactly one file that defines `{builder}()`")


def prepare_workdir(submission: Submission, workdir: Path, builder: str) -> Path:
    """Copy the submission into `workdir` (which must exist, empty); return the script to import.

    Raises `FileNotFoundError`/`ValueError` with a student-readable message when the
    submission has nothing to run.
    """
    source = submission.path
    if source.is_symlink():
        raise ValueError(f"{source.name} is a symbolic link; hand in the file itself")
    if source.is_dir():
        shutil.copytree(source, workdir, dirs_exist_ok=True, ignore=_skipped)
        entry = workdir / _entry_file(workdir, builder, source.name).relative_to(workdir)
    else:
        entry = workdir / source.name
        shutil.copyfile(source, entry)
    if entry.suffix == ".ipynb":
        try:
            script = notebook_source(entry)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{entry.name} is not a readable Jupyter notebook ({exc})") from None
        entry = entry.with_suffix(".py")
        entry.write_text(script, encoding="utf-8")
    return entry
