"""Run one job in a confined process and watch it from the grader's side.

The grader starts the job through the warm pool, then reads its pipes until they close:
stdout/stderr keep their first `Limits.output_kb` KB and drain the rest (a 200 MB flood neither
blocks the job nor fills the grader's memory); the result pipe carries the job's JSON; the
status pipe carries the nanny's report (the job's pid, then its exit status). Meanwhile the
grader enforces the wall-clock limit, and the memory limit through the job's cgroup (or, where
there is none, by watching the job process's resident memory), by killing the whole job.
The report is validated by `modelcheck.grading.schema` before anything reads it. Whatever the
job process claims, `RunOutcome` records what the grader saw.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from .cgroups import JobCgroup
from .confine import Confinement
from .isolation import user_namespaces
from .schema import MAX_REPORT_BYTES, ReportError, parse_report, printed_text
from .worker import WarmPool

__all__ = ["Limits", "RunOutcome", "run_job"]

_POLL_S = 0.02
_GROUP_POLL_S = 0.25  # the other processes of a job's group are found by reading /proc: less often
_GRACE_S = 2.0  # after the job ended, how long stray holders of its pipes may keep them open


@dataclass(frozen=True)
class Limits:
    """Per-job limits (each phase of a submission, build and check, gets its own)."""

    timeout_s: float = 120.0
    memory_mb: int = 4096
    output_kb: int = 64
    file_mb: int = 256
    max_processes: int = 512  # tasks: processes and threads (TensorFlow starts a few dozen)
    disk_mb: int = 512  # the job's tmpfs, where namespaces are available


@dataclass
class RunOutcome:
    """What the grader observed about one job process."""

    exit_code: int | None = None
    signal: int | None = None
    killed_for: str | None = None  # "timeout" or "memory" when the grader stopped it
    supervisor_lost: bool = False  # the nanny died before reporting (the job killed it)
    zygote_lost: bool = False  # ... because the grader's zygote that forked it died (not the job's doing)
    setup_error: str | None = None  # the grader could not isolate the job (not the student's fault)
    copied: list[str] = field(default_factory=list)  # exports the nanny copied out of the tmpfs
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    kept_bytes: dict[str, int] = field(default_factory=dict)  # of stdout/stderr, before `printed_text`
    result: Any = None
    result_problem: str | None = None
    peak_rss_mb: float = 0.0
    wall_s: float = 0.0
    limits: Limits = field(default_factory=Limits)

    @property
    def clean_exit(self) -> bool:
        return self.killed_for is None and not self.supervisor_lost and self.exit_code == 0

    def problem(self, *, building: bool = True) -> str | None:
        """How the process ended, in plain words, when it did not end normally; `building`: the
        job that ran the student's file (else the one that only ran their saved model)."""
        limits = self.limits
        if self.setup_error:
            return f"the grader could not start the job: {self.setup_error}"
        if self.killed_for == "timeout" and building:
            return (f"stopped after {limits.timeout_s:g} s (the time limit): an endless loop or far too much work, in "
                    "the code your file runs when it is imported (training or waiting at its top level: put that "
                    "under `if __name__ == \"__main__\":`), in the builder or in a layer's call()")
        if self.killed_for == "timeout":
            return (f"stopped after {limits.timeout_s:g} s (the time limit): an endless loop in a layer's call(), "
                    "or a model far too slow to check")
        if self.killed_for == "memory" or self.signal == signal.SIGKILL and self.peak_rss_mb > limits.memory_mb * 0.8:
            return (f"stopped for using more than {limits.memory_mb} MB of memory (the memory limit, which "
                    f"counts every process of the submission and its shared memory; peak "
                    f"{self.peak_rss_mb:,.0f} MB)")
        if self.zygote_lost:
            return ("the grader's process that starts the jobs died while this one ran (killed from outside it: the "
                    "system's out-of-memory killer, an administrator); the submission was not judged")
        if self.supervisor_lost:
            return ("the submission killed the grader's process that supervised it "
                    "(e.g. os.kill(os.getppid(), ...)); nothing it produced is used")
        if self.signal == signal.SIGXCPU:
            return f"stopped for using more CPU time than allowed ({limits.timeout_s:g} s of wall time)"
        if self.signal is not None:
            return f"the process was killed by signal {signal.Signals(self.signal).name}"
        if self.exit_code not in (0, None):
            return f"the process exited with code {self.exit_code} before reporting"
        return None

    def output_note(self) -> str:
        """A note on truncated output, if any (what was kept is counted as printed: a progress bar's
        carriage returns and colour codes, left out of the text shown, are no truncation)."""
        notes = []
        for name, size, text in (("stdout", self.stdout_bytes, self.stdout), ("stderr", self.stderr_bytes, self.stderr)):
            if size > self.kept_bytes.get(name, len(text.encode())):
                notes.append(f"{name}: {size:,} bytes printed, first {self.limits.output_kb} KB kept")
        return "; ".join(notes)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _private_mb(pid: int) -> float:
    """The memory only process `pid` holds (its private pages): a forked child's pages still shared
    with its parent are not counted twice."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except (OSError, ValueError):
        pass
    return total / 1024


def _group_members(pgid: int) -> list[int]:
    """The processes of process group `pgid` other than its leader (a job's children, and their
    orphans, which the seccomp filter keeps in the group)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == pgid:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat_file:
                fields = stat_file.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid).encode():
            members.append(int(entry))
    return members


def _children_mb(pgid: int) -> float:
    """The private memory of every process in the job's group but its leader."""
    return sum(_private_mb(member) for member in _group_members(pgid))


def _kill_group(pgid: int) -> None:
    if pgid <= 1:  # never the grader's own group, nor every process
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_status(kept: bytes, seen: dict[str, Any]) -> None:
    for line in kept.split(b"\n")[:-1]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            seen.update(entry)


def run_job(pool: WarmPool, kind: str, params: dict, conf: Confinement, limits: Limits, *,
            isolate: dict[str, Any] | None = None, cgroup: JobCgroup | None = None,
            user_namespace: str | None = None) -> RunOutcome:
    """Run one job (`kind` = "build" or "check") confined by `conf` and `limits`; never raises
    for anything the job does.

    With `isolate` (see `modelcheck.grading.isolation`) the nanny gives the job its namespaces
    and tmpfs; with `cgroup` the kernel enforces memory and tasks for the whole job, and every
    process in it is dead when this returns. Without a cgroup the grader watches the memory
    itself: the job process's resident memory, and the private memory of the other processes of
    its group (which the seccomp filter keeps them in), a few times a second.

    `user_namespace` is what the grader's `Isolation` chose for a grader that is not root (None:
    asked of `user_namespaces` here), so the jobs do what its isolation line says.
    """
    if user_namespace is None:
        user_namespace = user_namespaces()[0] if os.geteuid() != 0 else ""
    job = {"kind": kind, "params": params, "confine": vars(conf), "isolate": isolate,
           # a grader that is not root: the nanny gives its job user and PID namespaces where the
           # kernel allows them
           "user_namespace": user_namespace}
    launched = pool.launch(job)  # may first restart a dead zygote: not the job's time
    started = time.monotonic()
    outcome = RunOutcome(limits=limits)
    caps = {"stdout": limits.output_kb * 1024, "stderr": limits.output_kb * 1024,
            "result": MAX_REPORT_BYTES + 1, "status": 65536}
    kept = {name: bytearray() for name in caps}
    total = dict.fromkeys(caps, 0)
    selector = selectors.DefaultSelector()
    for name, fd in launched.fds.items():
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ, name)
    pid: int | None = None
    baseline: float | None = None
    children_mb, children_at = 0.0, 0.0
    status_seen: dict[str, Any] = {}
    ended_at: float | None = None
    deadline = started + limits.timeout_s

    def stop(reason: str) -> None:
        outcome.killed_for = reason
        if pid is not None:
            _kill_group(pid)
        if cgroup is not None:
            cgroup.kill()

    try:
        while selector.get_map():
            for key, _ in selector.select(_POLL_S):
                name = key.data
                try:
                    data = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(key.fd)
                    if name == "status" and ended_at is None:
                        ended_at = time.monotonic()
                    continue
                total[name] += len(data)
                room = caps[name] - len(kept[name])
                if room > 0:
                    kept[name] += data[:room]
                if name == "status":
                    _read_status(bytes(kept["status"]), status_seen)
                    pid = status_seen.get("pid", pid)
            now = time.monotonic()
            running = "exit" not in status_seen and "signal" not in status_seen
            if pid is not None and outcome.killed_for is None and running:
                if cgroup is not None:
                    if cgroup.oom_kills():
                        stop("memory")
                else:  # measured above what the process shared with the warm zygote when it started
                    rss = _rss_mb(pid)
                    baseline = rss if baseline is None else baseline
                    if now >= children_at:
                        children_mb, children_at = _children_mb(pid), now + _GROUP_POLL_S
                    rss += children_mb - baseline
                    outcome.peak_rss_mb = max(outcome.peak_rss_mb, rss)
                    if rss > limits.memory_mb:
                        stop("memory")
                if outcome.killed_for is None and now > deadline:
                    stop("timeout")
            elif pid is None and now > deadline + _GRACE_S:
                outcome.supervisor_lost = True  # the nanny never reported a pid
                break
            if ended_at is not None and now > ended_at + _GRACE_S:
                break  # something the job left behind still holds a pipe open
    finally:
        if pid is not None:
            _kill_group(pid)
        if cgroup is not None:
            cgroup.kill()
            if outcome.killed_for is None and cgroup.oom_kills():
                outcome.killed_for = "memory"
            outcome.peak_rss_mb = max(outcome.peak_rss_mb, cgroup.peak_mb())
        selector.close()
        launched.close()
    outcome.wall_s = time.monotonic() - started
    outcome.exit_code = status_seen.get("exit")
    outcome.signal = status_seen.get("signal")
    outcome.setup_error = status_seen.get("setup_error")
    outcome.copied = list(status_seen.get("copied") or [])
    if outcome.exit_code is None and outcome.signal is None:
        outcome.supervisor_lost = True
    if outcome.supervisor_lost and launched.zygote_died():
        outcome.zygote_lost = True
    outcome.stdout = printed_text(bytes(kept["stdout"]))
    outcome.stderr = printed_text(bytes(kept["stderr"]))
    outcome.stdout_bytes, outcome.stderr_bytes = total["stdout"], total["stderr"]
    outcome.kept_bytes = {name: len(kept[name]) for name in ("stdout", "stderr")}
    try:
        outcome.result = parse_report(bytes(kept["result"]), kind)
    except ReportError as exc:
        outcome.result_problem = str(exc)
    return outcome
