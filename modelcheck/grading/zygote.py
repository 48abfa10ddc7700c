"""The warm zygote: imports TensorFlow/Keras once, then forks one process per job.

Run as ``python -c "from modelcheck.grading.zygote import main; main()" FD`` by `modelcheck.grading.worker`; FD is one end
of an ``AF_UNIX``/``SOCK_SEQPACKET`` socket pair. Each message on it is a job (JSON) with four
file descriptors attached: the job's stdout, stderr, result and status pipes (write ends).

Per job the zygote forks a *nanny*, which forks the *job process*:

    grader ──socket──> zygote ──fork──> nanny ──fork──> job process (confined, runs the job)
       <────────── status pipe: {"pid"}, {"exit"} ──┘         │
       <────────── stdout / stderr / result pipes ────────────┘

The nanny reports the job process's pid and, when it ends, its exit status; then it kills any
process the job left behind (it is a child subreaper, so orphans come back to it). Where the
host allows it (root), the nanny first enters a mount namespace of its own holding the job's
size-limited tmpfs, and makes the job process the first process of a new PID namespace (the
kernel kills every process of that namespace when the job process ends); a grader that is not
root gets the PID namespace too where the kernel lets it make a user namespace (its job, though
of the grader's uid, then signals only its own processes); the nanny puts the job in its
cgroup before letting it start, and copies the job's exports out of the tmpfs afterwards
(`modelcheck.grading.isolation`). A job that
kills its parent kills only its nanny: the grader sees the status pipe close without an exit
status, records an error for that student and carries on; the zygote is untouched.

The zygote itself never runs student code and never starts a TensorFlow thread pool (forking
after that point is unsafe); it only imports.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import sys
import time

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
PIPES = ("stdout", "stderr", "result", "status")
JOB_FAILED = 70  # the exit status of a job that raised past its own report (the last resort below)
JOB_FAILED_MARK = "[modelcheck] job process failed: "


def _preload() -> None:
    """Import what the jobs need (Keras and the framework of the backend it runs on), without
    running any op."""
    import importlib

    import keras
    import numpy  # noqa: F401

    importlib.import_module(keras.backend.backend())

    import modelcheck.grading.isolation  # noqa: F401  (the nannies' namespaces)
    import modelcheck.grading.jobs  # noqa: F401  (imports the checks and the runner)


def _children() -> list[int]:
    pids: list[int] = []
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/children") as handle:
                pids += [int(p) for p in handle.read().split()]
        except OSError:
            pass
    return pids


def _kill_as(uid: int) -> None:
    """As root: kill every process that runs under `uid` (an escaped daemon included)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _clean_up(pgid: int, uid: int | None) -> None:
    """Kill what the job process left: its group, its uid's processes, orphans reparented here."""
    for _ in range(50):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if uid is not None and os.geteuid() == 0:
            _kill_as(uid)
        left = _children()
        if not _kill_and_reap(left) or not left:
            return
        time.sleep(0.01)


_CONFINED_FD = 4


def _job_process(job: dict, fds: dict[str, int], confined: int) -> None:
    """In the job process: wire the pipes, confine, say so to the nanny on `confined` (closed
    before any code of the submission runs, so that code cannot say it), run the job, exit
    without cleanup hooks."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(fds["stdout"], 1)
    os.dup2(fds["stderr"], 2)
    os.dup2(fds["result"], 3)
    os.dup2(confined, _CONFINED_FD)
    from modelcheck.grading import jobs
    from modelcheck.grading.confine import Confinement, confine

    code = 0
    try:
        conf = Confinement(**job["confine"])
        conf.keep_fds = (*conf.keep_fds, _CONFINED_FD)
        try:
            applied = confine(conf)
        except BaseException as exc:
            os.write(_CONFINED_FD, f"{type(exc).__name__}: {exc}"[:300].encode())
            raise
        os.write(_CONFINED_FD, b"confined")
        os.close(_CONFINED_FD)
        jobs.job_process_main(job["kind"], job["params"], applied)
    except BaseException as exc:  # the job reports its own errors; this is the last resort
        try:
            os.write(2, failure_line(exc).encode())
        except OSError:
            pass
        code = JOB_FAILED
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def failure_line(exc: BaseException) -> str:
    """The last resort's line on stderr, which the grader reads to name a clean job's failure: one
    line, so text of the model's own inside the exception (a layer's name holding a newline and
    this mark) cannot stand after it as the job's own last word."""
    said = f"{type(exc).__name__}: {exc}".replace("\r", " ").replace("\n", " | ")
    return f"\n{JOB_FAILED_MARK}{said}\n"


def _isolate_nanny(isolate: dict) -> None:
    """In the nanny, before forking the job: the job's tmpfs (in the nanny's own mount
    namespace, so it vanishes with the nanny) and a new PID namespace for the job."""
    from modelcheck.grading.isolation import mount_job_folder, unshare_pid

    mount_job_folder(isolate["folder"], isolate["stage"], isolate["size_mb"])
    unshare_pid()


def _isolate_nanny_unprivileged(job: dict) -> None:
    """In the nanny of a grader that is not root: user, PID, mount, network and IPC namespaces,
    so the job's signals reach only its own processes though it keeps the grader's uid."""
    from modelcheck.grading.isolation import enter_user_namespaces

    enter_user_namespaces()
    job["confine"]["user_namespace"] = job["user_namespace"]  # the job's own mounts too, where they work


def _enter_cgroups(pid: int, procs_files: list[str]) -> None:
    for path in procs_files:
        with open(path, "w") as procs:
            procs.write(str(pid))


def _nanny(job: dict, fds: dict[str, int]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the grader stopped: so do we
    status = fds["status"]
    isolate = job.get("isolate") or {}
    if isolate.get("folder") or job.get("user_namespace"):
        try:
            if isolate.get("folder"):
                _isolate_nanny(isolate)
            else:
                _isolate_nanny_unprivileged(job)
        except OSError as exc:
            os.write(status, (json.dumps({"setup_error": f"isolating the job failed: {exc}"}) + "\n").encode())
            return
    go_read, go_write = os.pipe()
    said_read, said = os.pipe()
    said_write = fcntl.fcntl(said, fcntl.F_DUPFD, 10)  # (not one of the numbers the job wires)
    os.close(said)
    pid = os.fork()
    if pid == 0:
        os.close(status)
        os.close(go_write)
        os.close(said_read)
        if os.read(go_read, 1) != b"g":  # the nanny could not put us in the job's cgroup
            os._exit(71)
        os.close(go_read)
        _job_process(job, fds, said_write)
    os.close(go_read)
    os.close(said_write)
    for name in ("stdout", "stderr", "result"):
        os.close(fds[name])
    os.write(status, (json.dumps({"pid": pid}) + "\n").encode())
    started = False
    try:
        _enter_cgroups(pid, isolate.get("cgroup_procs", []))
        os.write(go_write, b"g")  # only now may the job start: it is inside its limits
        started = True
    except OSError as exc:
        os.write(status, (json.dumps({"setup_error": f"putting the job in its cgroup failed: {exc}"}) + "\n").encode())
    os.close(go_write)
    _, wait_status, usage = os.wait4(pid, 0)
    if not isolate.get("folder"):  # (with a PID namespace the kernel has already killed the rest)
        _clean_up(pid, job["confine"].get("uid"))
    report = {"maxrss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime}
    said = _read_said(said_read)
    if said != "confined" and started:  # the grader's failure, before any code of the student's ran
        report["setup_error"] = f"confining the job failed: {said or 'it ended first'}"
    if isolate.get("folder"):  # the job's files live only in this namespace's tmpfs: hand the exports over
        from modelcheck.grading.isolation import copy_out

        report["copied"] = copy_out(os.path.join(isolate["folder"], "out"), tuple(isolate["exports"]),
                                    isolate["export"], isolate["max_export_bytes"])
    if os.WIFSIGNALED(wait_status):
        report["signal"] = os.WTERMSIG(wait_status)
    else:
        report["exit"] = os.WEXITSTATUS(wait_status)
    os.write(status, (json.dumps(report) + "\n").encode())


def _read_said(fd: int) -> str:
    """What the job said on its confinement pipe (which it, or its end, has closed)."""
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 512).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _kill_and_reap(victims: list[int], reaped: set[int] | None = None) -> bool:
    """SIGKILL `victims`, then reap every child that has ended (removing it from `reaped`).
    False when no child is left at all."""
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True
        if reaped is not None:
            reaped.discard(pid)


def _reap(nannies: set[int]) -> None:
    """Reap finished nannies; kill orphans a killed nanny left (they are reparented here)."""
    _kill_and_reap([pid for pid in _children() if pid not in nannies], nannies)


def serve(sock: socket.socket) -> None:
    """Fork a nanny per job message until the grader closes its end."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # not dumpable: a job that keeps our uid (no separate uids) cannot open /proc/<pid>/mem of this
    # process, nor of the nannies forked from it, to plant code in the jobs that follow
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    # no parent-death signal here: it fires when the grader *thread* that started us ends;
    # the grader's death closes the socket, which ends the loop below
    _preload()
    sock.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    nannies: set[int] = set()
    while True:
        readable, _, _ = select.select([sock], [], [], 0.5)
        _reap(nannies)
        if not readable:
            continue
        message, received, _, _ = socket.recv_fds(sock, 1 << 20, len(PIPES))
        if not message:
            return
        job = json.loads(message)
        fds = dict(zip(PIPES, received))
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            sock.close()
            try:
                _nanny(job, fds)
            except Exception as exc:  # the grader's failure, not the student's: said as such, not as a lost nanny
                try:
                    said = f"the job's supervisor failed ({type(exc).__name__}: {exc})"
                    os.write(fds["status"], (json.dumps({"setup_error": said}) + "\n").encode())
                except OSError:
                    pass
            finally:
                os._exit(0)
        nannies.add(pid)
        for fd in received:
            os.close(fd)


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    try:
        serve(sock)
    except (BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()
