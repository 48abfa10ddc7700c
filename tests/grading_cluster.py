"""Helpers of the course-grading tests: a small class of toy submissions, real Dask scheduler and
worker processes on 127.0.0.1 (no network beyond loopback), torn down after, and a grader run as a
uid that is not root (`run_as_user`)."""

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


# -- a grader that is not root (red team 20) ------------------------------------------------------
# The real grader run as an unprivileged uid of the test run's own, exactly as on a university server:
# `detect()`'s probes, the zygote and the Grader all run as it. Nothing machine-wide changes.

UID = 61000 + os.getpid() % 2000  # a uid of this test run's own (no passwd entry needed)

# As root: a private mount namespace where the Python under /root is reachable, a uid of the test's
# own, optionally a seccomp filter refusing unshare() (a host without unprivileged user namespaces:
# Ubuntu's apparmor_restrict_unprivileged_userns, user.max_user_namespaces=0), then exec.
LAUNCHER = r"""
import ctypes, json, os, sys
uid, scratch, deny_userns, package_root = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1", sys.argv[4]
sys.path.insert(0, package_root)  # the modelcheck under test, in this helper and in the grader
from modelcheck.grading import confine
libc = ctypes.CDLL(None, use_errno=True)

def check(result, what):
    if result != 0:
        sys.exit(f"SKIP {what}: {os.strerror(ctypes.get_errno())}")

check(libc.unshare(0x00020000), "unshare(mount)")
check(libc.mount(None, b"/", None, ctypes.c_ulong((1 << 18) | 16384), None), "private /")
hold = os.path.join(scratch, f"hold-{os.getpid()}").encode()
os.mkdir(hold)
check(libc.mount(b"/root/.pyenv", hold, None, ctypes.c_ulong(4096 | 16384), None), "bind /root/.pyenv")
check(libc.mount(b"tmpfs", b"/root", b"tmpfs", ctypes.c_ulong(0), b"mode=0755,size=1m"), "tmpfs /root")
os.mkdir("/root/.pyenv")
check(libc.mount(hold, b"/root/.pyenv", None, ctypes.c_ulong(8192), None), "move /root/.pyenv")
os.setgroups([])
os.setgid(uid)
os.setuid(uid)
if deny_userns:
    libc.prctl(38, 1, 0, 0, 0)
    arch, _ = confine._SECCOMP_DENIED[os.uname().machine]
    unshare = {"x86_64": 272, "aarch64": 97}[os.uname().machine]
    program = [(0x20, 0, 0, 4), (0x15, 1, 0, arch), (0x06, 0, 0, 0x7FFF0000), (0x20, 0, 0, 0),
               (0x15, 0, 1, unshare), (0x06, 0, 0, 0x00050001), (0x06, 0, 0, 0x7FFF0000)]
    filters = (confine._SockFilter * len(program))(*[confine._SockFilter(*i) for i in program])
    check(libc.prctl(22, 2, ctypes.byref(confine._SockFprog(len(program), filters)), 0, 0), "seccomp")
os.chdir(scratch)
env = {"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": os.path.join(scratch, "tmp"),
       "PYTHONPATH": package_root + os.pathsep + os.path.join(scratch, "site"), "TF_CPP_MIN_LOG_LEVEL": "3",
       "KERAS_BACKEND": "tensorflow"}
os.execve(sys.argv[5], sys.argv[5:], env)
"""


def run_as_user(scratch: Path, argv: list[str], *, deny_userns: bool = False, timeout: float = 170) -> str:
    """Run `argv` (a Python command, in `scratch`) as `UID`, through `LAUNCHER`: its stdout, then its
    exit code and the end of its stderr when it failed; skips the test when the launcher cannot run
    (no mount namespace)."""
    import pytest

    import modelcheck

    package_root = str(Path(modelcheck.__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", LAUNCHER, str(UID), str(scratch), "1" if deny_userns else "0",
                           package_root, *argv], capture_output=True, text=True, timeout=timeout)
    if done.stderr.startswith("SKIP") or "\nSKIP " in done.stderr:
        pytest.skip(done.stderr.strip().splitlines()[-1])
    return done.stdout + ("\n" if done.returncode else "") + (
        f"EXIT {done.returncode}\n{done.stderr[-3000:]}" if done.returncode else "")


def pids_of_uid() -> list[str]:
    """The processes of the test's uid: pid, state and command line of each."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == UID:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")[:200]
                with open(f"/proc/{entry}/stat") as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[:2]
                found.append(f"{entry} {state} {command}")
        except OSError:
            pass
    return found


def kill_uid() -> None:
    """SIGKILL every process of `UID` (what a run left)."""
    for line in pids_of_uid():
        try:
            os.kill(int(line.split()[0]), 9)
        except OSError:
            pass


def chown_tree(folder: Path) -> None:
    """Give `folder` and all it holds to `UID`."""
    for root, dirs, files in os.walk(folder):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.chown(name, UID, UID)


def skip_unless_non_root_runs() -> None:
    """Skip the test, saying why, where `run_as_user` cannot run a grader that is not root."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("needs root, to run the grader as another, unprivileged uid (the grader's own uid cannot "
                    "stand for it: its jobs would kill this test's pytest)")
    if not os.path.isdir("/root/.pyenv") or not sys.executable.startswith(("/root/.pyenv", "/work/venv")):
        pytest.skip("this machine's Python is not the /root/.pyenv the launcher makes reachable")
