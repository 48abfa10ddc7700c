"""The grader's job folders: one per submission, named for the grader's process, so that a
grader killed outright (SIGKILL, a power cut), which cannot clean up, leaves folders the next
grader on the machine can tell apart from those of graders still running, and removes."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

__all__ = ["new_jobdir", "sweep_dead_jobdirs"]

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
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def new_jobdir(workroot: Path | None = None) -> Path:
    """A new, empty job folder in `workroot` (the temporary folder by default), named for this
    grader process."""
    return Path(tempfile.mkdtemp(prefix=f"{_JOBDIR_PREFIX}{os.getpid()}-", dir=workroot))
