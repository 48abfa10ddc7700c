"""The grader's job folders: one per submission, named for the grader's process, so that a
grader killed outright (SIGKILL, a power cut), which cannot clean up, leaves folders the next
grader on the machine can tell apart from those of graders still running, and removes."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["new_jobdir", "sweep_dead_jobdirs", "remove_jobdir"]

_JOBDIR_PREFIX = "modelcheck-grade-"


def sweep_dead_jobdirs(workroot: Path | None = None) -> list[Path]:
    """Remove the job folders that a grader killed outright (SIGKILL, a power cut) left in
    `workroot` (the temporary folder by default): those named for a grader process that no
    longer runs and owned by this user. Returns what was removed."""
    root = Path(workroot) if workroot else Path(tempfile.gettempdir())
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = re.fullmatch(re.escape(_JOBDIR_PREFIX) + r"(\d+)-[A-Za-z0-9_]+", entry.name)
        if match is None:
            continue
        try:
            info = os.lstat(entry)
            os.kill(int(match.group(1)), 0)
            continue  # its grader still runs (or the number is another live process's)
        except ProcessLookupError:
            pass
        except (OSError, OverflowError):
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
            remove_jobdir(entry)
            removed.append(entry)
    return removed


def new_jobdir(workroot: Path | None = None) -> Path:
    """A new, empty job folder in `workroot` (the temporary folder by default), named for this
    grader process."""
    return Path(tempfile.mkdtemp(prefix=f"{_JOBDIR_PREFIX}{os.getpid()}-", dir=workroot))


_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def remove_jobdir(folder: Path) -> None:
    """Remove `folder` and everything in it, as far as it can be removed, never raising: where jobs
    have no tmpfs of their own, a job's folder holds whatever the submission made, nested as deep
    as it liked (shutil.rmtree recurses once per level: 1,000 levels raised RecursionError and
    stopped the whole run). The subfolders of each folder in `folder` are moved up into it, so
    nothing is ever more than two levels down and two descriptors are open, until none is left."""
    try:
        top = os.open(folder, _FOLDER)
    except OSError:
        return
    moved, stuck = 0, set()  # folders that cannot be emptied (not ours to remove) are left
    try:
        while True:
            entries = list(os.scandir(top))
            subfolders = [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
            for entry in entries:
                if not entry.is_dir(follow_symlinks=False):
                    _quietly(os.unlink, entry.name, dir_fd=top)
            subfolders = [name for name in subfolders if name not in stuck]
            if not subfolders:
                break
            for name in subfolders:
                try:
                    inner = os.open(name, _FOLDER, dir_fd=top)
                except OSError:
                    stuck.add(name)
                    continue
                try:
                    for entry in list(os.scandir(inner)):
                        if entry.is_dir(follow_symlinks=False):
                            moved += 1  # `folder` holds only the grader's own names: `.rm-N` is free
                            _quietly(os.rename, entry.name, f".rm-{moved}", src_dir_fd=inner, dst_dir_fd=top)
                        else:
                            _quietly(os.unlink, entry.name, dir_fd=inner)
                finally:
                    os.close(inner)
                if not _quietly(os.rmdir, name, dir_fd=top):
                    stuck.add(name)
    except OSError:
        pass
    finally:
        os.close(top)
    _quietly(os.rmdir, folder)


def _quietly(operation: Any, *args: Any, **kwargs: Any) -> bool:
    """Run the file operation; whether it succeeded."""
    try:
        operation(*args, **kwargs)
        return True
    except OSError:
        return False
