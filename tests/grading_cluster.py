"""Helpers of the course-grading tests: a small class of toy submissions, and real Dask
scheduler and worker processes on 127.0.0.1 (no network beyond loopback), torn down after."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SUBMISSIONS = Path(__file__).parent / "submissions"
TOY = SUBMISSIONS / "toy.toml"

# build_model() waits before returning a sound model: long enough to interrupt a run, or to lose
# a worker, while this submission is being graded (well inside the toy assignment's 8 s limit)
SLOW = '''import time

import keras
from keras import layers


def build_model():
    time.sleep({seconds})
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
'''


def write_class(folder: Path, *, slow: int = 2, seconds: float = 3.0) -> list[str]:
    """A class of toy submissions: sound, wrong parameter count, returns None, exits, and `slow`
    sound ones that take `seconds` to build. Returns the students, sorted."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("good_toy.py", "forge_files.py", "returns_none.py", "os_exit_in_builder.py"):
        shutil.copy(SUBMISSIONS / "threats" / name, folder / name)
    for i in range(slow):
        (folder / f"slow_{i}.py").write_text(SLOW.format(seconds=seconds))
    return sorted(p.stem for p in folder.glob("*.py"))


def grade_files(folder: Path, files: dict, assignment: Path, pool, *, workers: int = 2) -> dict:
    """Write `files` (relative name -> text, bytes, or a notebook's JSON as a dict) into `folder`,
    grade them against `assignment` with the shared warm `pool`; student -> StudentGrade."""
    from modelcheck.grading import Grader, discover_submissions, load_assignment

    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else (
            content if isinstance(content, str) else json.dumps(content)).encode("utf-8")
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    grader = Grader(load_assignment(assignment), workers=workers, pool=pool)
    return {grade.student: grade for grade in grader.grade_all(discover_submissions(folder))}


def verdicts(grades) -> dict[str, tuple]:
    """student -> (score, each check's status): what must not depend on where grading ran."""
    return {g.student: (g.score, tuple(r.status for r in g.results), g.grader_error) for g in grades}


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", **extra)
    return env


class Cluster:
    """A `dask scheduler` and `dask worker` processes (each in its own process group)."""

    def __init__(self, folder: Path, *, allowed_failures: int = 1) -> None:
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen] = []
        self.scheduler = self._spawn("scheduler", [
            "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(self.file)],
            DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=str(allowed_failures),
            DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION="1.0")  # as the README advises: nothing queued
        self.address = self._wait_for_address()

    def _spawn(self, name: str, args: list[str], **env: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        return subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_environment(**env), start_new_session=True)

    def _wait_for_address(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.file.exists():
                try:
                    return json.loads(self.file.read_text())["address"]
                except (ValueError, KeyError):
                    pass
            if self.scheduler.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("the dask scheduler did not start:\n" + (self.logs / "scheduler.log").read_text()[-3000:])

    def add_worker(self, name: str) -> subprocess.Popen:
        """One single-threaded worker process (no nanny: killing it loses it for good)."""
        worker = self._spawn(name, [
            "-m", "distributed.cli.dask_worker", "--scheduler-file", str(self.file), "--nthreads", "1",
            "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", name,
            "--local-directory", str(self.folder / name)])
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int, timeout: float = 120) -> None:
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(count, timeout=timeout)

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL `process` and everything it started (its grading pool too)."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def close(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    self.kill(process)
