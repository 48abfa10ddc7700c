"""One job's cgroup, in the grader (Linux, as root): the grader's parent cgroups, a job's cgroup with
its memory and task limits, and the removal of what a grader that no longer runs left behind.

A cgroup (v1 memory + pids hierarchies, or v2) has a memory limit that counts every process of
the job and its tmpfs, shared-memory and memfd pages, and a task limit that holds when running as
root; the grader kills it as a whole and removes it after the job. `isolation.detect` makes the
parents (`_cgroup_parents`) and says whether they exist. Split from isolation.py, which re-exports
these names; only the standard library, no Keras.
"""

from __future__ import annotations

import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .isolation import Isolation

__all__ = ["JobCgroup", "remove_parents", "sweep_dead_cgroups"]


def _own_cgroup(controller: str) -> str:
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return path
    return "/"


def _make_parent(folder: Path) -> Path | None:
    try:
        folder.mkdir(exist_ok=True)
        return folder
    except OSError:
        return None


def _cgroup_parents(tag: str) -> tuple[str | None, tuple[str, ...], str | None]:
    """(version, parent folders, why not) for job cgroups of this grader."""
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():  # v2 only (unified)
        wanted = {"memory", "pids"}
        if not wanted <= set((base / "cgroup.controllers").read_text().split()):
            return None, (), "cgroup v2 lacks the memory or pids controller"
        try:
            (base / "cgroup.subtree_control").write_text("+memory +pids")
            parent = base / tag
            parent.mkdir(exist_ok=True)
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
        except OSError as exc:
            return None, (), f"cannot create cgroups ({exc.strerror})"
        return "v2", (str(parent),), None
    parents = []
    for controller in ("memory", "pids"):
        root = base / controller
        if not root.is_dir():
            return None, (), f"no cgroup v1 {controller} hierarchy"
        made = _make_parent(root / _own_cgroup(controller).lstrip("/") / tag)
        if made is None:
            return None, (), f"cannot create a cgroup under {root} (not root?)"
        parents.append(str(made))
    return "v1", tuple(parents), None


def remove_parents(isolation: Isolation) -> None:
    """Kill whatever is left in this grader's cgroups and remove them (at the grader's end)."""
    for parent in isolation.cgroup_parents:
        folder = Path(parent)
        if not folder.is_dir():
            continue
        for child in [p for p in folder.iterdir() if p.is_dir()]:
            JobCgroup(isolation.cgroup or "v1", (str(child),)).remove()
        try:
            folder.rmdir()
        except OSError:
            pass


def sweep_dead_cgroups(root: str) -> list[str]:
    """Remove what graders that no longer run left in `root`: their ``modelcheck-<pid>`` cgroups
    and job cgroups in them (a job whose last task was reaped only after its grader gave up
    removing it), killing any task still there. Returns the folders removed."""
    removed = []
    try:
        entries = os.listdir(root)
    except OSError:
        return removed
    for entry in entries:
        found = re.fullmatch(r"modelcheck-(\d+)", entry)
        if found is None:
            continue
        try:
            os.kill(int(found.group(1)), 0)
            continue  # its grader runs (or the number is another live process's)
        except ProcessLookupError:
            pass
        except (OSError, OverflowError):
            continue
        parent = os.path.join(root, entry)
        jobs = [os.path.join(parent, name) for name in _listing(parent) if os.path.isdir(os.path.join(parent, name))]
        for folder in jobs + [parent]:
            JobCgroup("v1", (folder,)).kill(timeout_s=1.0)
            try:
                os.rmdir(folder)
                removed.append(folder)
            except OSError:
                pass
    return removed


def _listing(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


@dataclass
class JobCgroup:
    """One job's cgroup (one folder per v1 hierarchy, or one v2 folder)."""

    version: str
    folders: tuple[str, ...]
    killed: bool = field(default=False)

    @classmethod
    def create(cls, isolation: Isolation, name: str, memory_mb: int, max_tasks: int) -> "JobCgroup":
        """Make the cgroup with its memory and task limits (swap counted too where possible)."""
        assert isolation.cgroup is not None
        folders = tuple(str(Path(parent) / name) for parent in isolation.cgroup_parents)
        for folder in folders:
            for attempt in range(5):  # another job may remove the (then empty) parent meanwhile
                try:
                    os.makedirs(folder)
                    break
                except FileNotFoundError:
                    if attempt == 4:
                        raise
            if isolation.cgroup == "v2":  # a fresh v2 parent must hand its children the controllers
                Path(folder).parent.joinpath("cgroup.subtree_control").write_text("+memory +pids")
        group = cls(isolation.cgroup, folders)
        limit = str(memory_mb * 2**20)
        if group.version == "v2":
            group._write(folders[0], "memory.max", limit)
            group._write(folders[0], "memory.swap.max", "0", optional=True)
            group._write(folders[0], "pids.max", str(max_tasks))
        else:
            memory, pids = folders
            group._write(memory, "memory.limit_in_bytes", limit)
            group._write(memory, "memory.memsw.limit_in_bytes", limit, optional=True)
            group._write(pids, "pids.max", str(max_tasks))
        return group

    @staticmethod
    def _write(folder: str, name: str, value: str, optional: bool = False) -> None:
        try:
            Path(folder, name).write_text(value)
        except OSError:
            if not optional:
                raise

    def procs_files(self) -> list[str]:
        """The files a pid is written to, to put that process in the cgroup."""
        return [os.path.join(folder, "cgroup.procs") for folder in self.folders]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.procs_files():
            try:
                found.update(int(p) for p in Path(path).read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(found)

    def oom_kills(self) -> int:
        """How many processes the kernel killed for the memory limit."""
        name = "memory.events" if self.version == "v2" else "memory.oom_control"
        try:
            for line in Path(self.folders[0], name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def peak_mb(self) -> float:
        name = "memory.peak" if self.version == "v2" else "memory.max_usage_in_bytes"
        try:
            return int(Path(self.folders[0], name).read_text()) / 2**20
        except (OSError, ValueError):
            return 0.0

    def kill(self, timeout_s: float = 10.0) -> bool:
        """SIGKILL every process in the cgroup until none is left; True when it is empty."""
        if self.version == "v2":
            self._write(self.folders[0], "cgroup.kill", "1", optional=True)
        deadline = time.monotonic() + timeout_s
        while True:
            left = self.pids()
            if not left:
                return True
            self.killed = True
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    def remove(self) -> None:
        """Kill what is left and remove the cgroup's folders."""
        self.kill()
        for folder in self.folders:
            for _ in range(200):  # a killed task leaves the cgroup a moment after it is reaped
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)
            try:  # the grader's folder goes with its last job (another job may still hold it)
                os.rmdir(os.path.dirname(folder))
            except OSError:
                pass
