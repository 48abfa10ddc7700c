"""The warm worker pool: one zygote process that has imported TensorFlow and forks per job.

A fresh ``python -c "import tensorflow"`` costs 3-5 s of CPU; forking a process that already
did it costs a few milliseconds, and every job still gets a process of its own that dies after
exactly one job. The zygote runs no TensorFlow op before forking, so no TensorFlow thread pool
exists to be broken by `fork` (measured: the only extra thread after import is OpenBLAS's,
which the zygote's environment turns off).

If the zygote dies (nothing a job can do should kill it, but the OS might), the next launch
starts a new one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .zygote import PIPES

__all__ = ["WarmPool", "Launched", "zygote_environment", "JOB_BACKEND"]

# The Keras backend every grading job runs on (the zygote pre-imports it): the grader's KERAS_BACKEND,
# TensorFlow when it names none that modelcheck supports
JOB_BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
if JOB_BACKEND not in ("tensorflow", "jax", "torch"):
    JOB_BACKEND = "tensorflow"

_READY_TIMEOUT_S = 120


def zygote_environment() -> dict[str, str]:
    """The environment the zygote (and so every job) starts with: quiet, single-threaded BLAS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "MODELCHECK_"))}
    package_root = str(Path(__file__).resolve().parents[2])
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_BACKEND=JOB_BACKEND,
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MALLOC_ARENA_MAX="2",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONPATH=os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p),
    )
    return env


@dataclass
class Launched:
    """The grader's ends of one job's pipes (read ends, non-inheritable), and the zygote that forked it."""

    fds: dict[str, int]
    zygote: subprocess.Popen[bytes] | None = None

    def zygote_died(self) -> bool:
        """Whether the zygote that forked this job has died (killed from outside: the system's
        out-of-memory killer, an administrator): its jobs' supervisors die with it."""
        return self.zygote is not None and self.zygote.poll() is not None

    def close(self) -> None:
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass


class WarmPool:
    """Starts jobs in processes forked from a warm zygote.

    Thread-safe: several grading threads may `launch` at once.
    """

    def __init__(self, *, python: str = sys.executable) -> None:
        self._python = python
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # TensorFlow's import chatter goes to a log, shown only if the zygote fails to start
        log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [self._python, "-c", "from modelcheck.grading.zygote import main; main()", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=zygote_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        theirs.close()
        ours.settimeout(_READY_TIMEOUT_S)
        try:
            hello = ours.recv(4096)
        except OSError as exc:
            raise RuntimeError(f"the grading zygote did not start: {exc}") from exc
        if not hello or not json.loads(hello).get("ready"):
            log.seek(0)
            tail = log.read()[-3000:].decode("utf-8", "replace")
            raise RuntimeError(f"the grading zygote exited while importing TensorFlow:\n{tail}")
        log.close()
        ours.settimeout(None)
        self._sock = ours
        self.starts += 1

    def start(self) -> "WarmPool":
        """Start the zygote now (otherwise the first launch does)."""
        with self._lock:
            if self._sock is None:
                self._start()
        return self

    def launch(self, job: dict) -> Launched:
        """Send `job` to the zygote; return the read ends of its four pipes."""
        pipes = {name: os.pipe() for name in PIPES}
        payload = json.dumps(job).encode()
        try:
            with self._lock:
                for attempt in range(2):
                    if self._sock is None or (self._process and self._process.poll() is not None):
                        self._restart()
                    try:
                        socket.send_fds(self._sock, [payload], [w for _, w in pipes.values()])
                        break
                    except OSError:
                        if attempt:
                            raise
                        self._sock = None
        finally:
            for _, write_end in pipes.values():
                os.close(write_end)
        return Launched({name: read_end for name, (read_end, _) in pipes.items()}, self._process)

    def _restart(self) -> None:
        self._stop()
        self._start()

    def _stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        """Stop the zygote (jobs already running finish under their nannies)."""
        with self._lock:
            self._stop()

    def __enter__(self) -> "WarmPool":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
