"""Grading on a Dask cluster (``pip install "modelcheck[dask]"``).

One Dask task grades one submission end to end: `grade_one` runs on a worker and hands the
submission to that worker's own `Grader`, whose warm pool forks the confined build job and
the clean check job. Student code never runs inside the Dask worker's process. Each worker
keeps one `Grader` per assignment (in `GradingPlugin`, registered for the run and torn down
after it), so TensorFlow is imported once per worker, not per submission.

Workers read the assignment and the submissions at the paths the client sees: the cluster
needs them on a shared filesystem (the usual HPC set-up; a shared volume on Kubernetes).

Failures: a submission's own failure is its grade, so the task never raises for it and is
never retried. A task whose worker is lost is rescheduled by the Dask scheduler up to its
``distributed.scheduler.allowed-failures`` times (modelcheck's own LocalCluster sets 1: one
retry on another worker); then, like an exception in the grader, it becomes a grade with
``grader_error`` set, which ``--resume`` grades again. The executor keeps no more submissions on
the cluster than it has worker threads, sending the next as one finishes: a task the scheduler
has sent to a worker counts as lost with that worker even if it had not started (Dask's
``worker-saturation`` holds tasks back only for groups it deems root-ish, which a class often is
not), so a queued submission would pay for another's crash.

A Dask scheduler runs whatever code a client sends it: a job that can open a connection to it
owns the cluster. Workers therefore refuse to grade where jobs are not kept off the network
(`Isolation.network_confined`: a network namespace, the jobs' seccomp filter, or Landlock's TCP
rules), and so does a LocalCluster started here.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

from .assignment import Assignment, load_assignment
from .executors import OnGrade, grader_error_grade, internal_error
from .confine import not_dumpable
from .grade import Grader, StudentGrade
from .isolation import Isolation
from .submissions import Submission

__all__ = ["DaskExecutor", "GradingPlugin", "grade_one", "PLUGIN"]

PLUGIN = "modelcheck-grading"
INSTALL_HINT = 'Dask is not installed; install it with: pip install "modelcheck[dask]"'

try:
    from distributed.diagnostics.plugin import WorkerPlugin as _WorkerPlugin
except ImportError:  # the class below is only registered when Dask is there
    _WorkerPlugin = object  # type: ignore[assignment,misc]


def refuse_open_network(isolation: Isolation, where: str, separate_uids: bool) -> None:
    """Raise `RuntimeError` when jobs on `where` could reach the Dask scheduler, which runs any
    code sent to it: by a connection of their own, or through a process of the grader's that
    holds one (its memory, when a job keeps the grader's uid and no Landlock scopes it)."""
    if not (isolation.network_confined and (isolation.namespaces or isolation.landlock or separate_uids)):
        raise RuntimeError(f"{where} cannot keep a submission's code off the network (no network namespace, no "
                           "seccomp filter, Landlock below ABI 4; or jobs keep the grader's uid with no Landlock): it "
                           "could reach the Dask scheduler, which runs any "
                           "code sent to it, and change anyone's grade. Grade on this machine without Dask, or on "
                           "workers whose kernel allows seccomp filters or namespaces")


class GradingPlugin(_WorkerPlugin):  # type: ignore[misc,valid-type]
    """Per Dask worker: one started `Grader` per (assignment, TensorFlow threads); closed with the plugin."""

    name = PLUGIN

    def setup(self, worker: Any) -> None:
        self.worker = worker
        self._lock = threading.Lock()
        self._graders: dict[tuple[str, int], Grader] = {}

    def grader(self, assignment_path: str, threads: int) -> Grader:
        with self._lock:  # the first task starts the pool (one TensorFlow import); the others wait for it
            key = (assignment_path, threads)
            if key not in self._graders:
                grader = Grader(load_assignment(assignment_path), workers=self.worker.state.nthreads)
                refuse_open_network(grader.isolation, f"the Dask worker {self.worker.address}", grader.separate_uids)
                grader.threads = threads
                self._graders[key] = grader.__enter__()
            return self._graders[key]

    def teardown(self, worker: Any) -> None:
        with self._lock:
            graders, self._graders = list(self._graders.values()), {}
        for grader in graders:
            grader.close()


def _worker_threads(worker: Any, host_threads: dict[str, int]) -> int:
    """TensorFlow threads per job: this machine's CPUs shared by every task slot on it."""
    from distributed.comm import get_address_host

    slots = host_threads.get(get_address_host(worker.address)) or worker.state.nthreads
    return max(1, (os.cpu_count() or 1) // max(1, slots))


def grade_one(assignment_path: str, submission_path: str, options: dict[str, Any]) -> dict[str, Any]:
    """Grade ONE submission on this machine, through the isolated pipeline; `StudentGrade.to_dict()`.

    `options`: ``student`` (the id), ``problem`` (`Submission.problem`: why it is not graded, or
    None), ``host_threads`` (task slots per host, for TensorFlow's
    thread count). On a Dask worker with `GradingPlugin`, the worker's warm `Grader` is used;
    elsewhere a `Grader` is started for this call. Raises only for failures of the grader
    (a submission the worker cannot see is one: the cluster lacks the shared folder).
    """
    path = Path(submission_path)
    if not os.path.lexists(path):  # a link, even a dangling one, is graded (and refused) as the local pool does
        import socket

        raise FileNotFoundError(f"{socket.gethostname()} cannot see the submission {submission_path}; Dask "
                                "workers need the submissions folder at the same path (a shared filesystem)")
    submission = Submission(str(options["student"]), path, options.get("problem"))
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        worker = None
    plugin = worker.plugins.get(PLUGIN) if worker is not None else None
    if plugin is None:
        with Grader(load_assignment(assignment_path), workers=1) as grader:
            return grader.grade(submission).to_dict()
    threads = _worker_threads(worker, options.get("host_threads", {}))
    return plugin.grader(assignment_path, threads).grade(submission).to_dict()


class DaskExecutor:
    """Grades on the Dask cluster at `scheduler` (``tcp://host:port``), or on a LocalCluster of
    `workers` single-threaded workers started for the run when `scheduler` is None."""

    name = "dask"

    def __init__(self, assignment: Assignment, *, scheduler: str | None = None, workers: int | None = None,
                 allowed_failures: int = 1) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ValueError(INSTALL_HINT) from None
        if assignment.where == "assignment" or not Path(assignment.where).is_file():
            raise ValueError("grading on Dask needs the assignment as a file the workers can read")
        self.assignment = assignment
        self.assignment_path = str(Path(assignment.where).resolve())
        self.scheduler = scheduler
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.allowed_failures = allowed_failures
        self.client: Any = None
        self.cluster: Any = None
        self.slots = 0
        self._run = uuid.uuid4().hex[:8]
        self._futures: dict[str, tuple[Any, Submission]] = {}  # sent to the cluster, not yet collected
        self._queue: list[Submission] = []  # asked for, not sent yet (see `_top_up`)
        self._running = 0  # sent and not finished
        self._lock = threading.RLock()
        self._sent = threading.Condition(self._lock)  # notified whenever `_top_up` sends submissions
        self._finished: Any = None  # a queue.Queue of the students whose task finished, while grade_many waits
        # how long a sent task may take to report back: a build and a check job each within the time
        # limit, a worker's start (TensorFlow's import), for each try the scheduler allows
        self.report_within_s = (allowed_failures + 1) * (2 * assignment.limits.timeout_s + 300)
        self._sent_at: dict[str, float] = {}
        self._stuck: set[str] = set()  # cancelled as overdue: may still run on their worker, holding its thread
        self._here: Isolation | None = None  # this machine's, where a LocalCluster's workers run

    def describe_isolation(self) -> str:
        """Each Dask worker's warm pool isolates its own jobs; each results.json records how. A
        LocalCluster's workers are on this machine: its line, as the local pool says it."""
        if self._here is not None:
            return self._here.describe(self.assignment.limits.disk_mb)
        return ("isolation: decided on each Dask worker's machine (its own warm pool; see extra_data.isolation "
                "in each results.json)")

    def __enter__(self) -> "DaskExecutor":
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler:
            self.client = Client(self.scheduler, timeout=dask.config.get("distributed.comm.timeouts.connect"))
        else:
            from .isolation import detect

            self._here = detect()
            refuse_open_network(self._here, "this machine", os.geteuid() == 0)
            not_dumpable()  # the client: jobs of this machine must not reach into its connections
            # saturation 1.0 as well as `_top_up`'s own limit: nothing queued behind a worker's running task
            with dask.config.set({"distributed.scheduler.allowed-failures": self.allowed_failures,
                                  "distributed.scheduler.worker-saturation": 1.0}):
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                            host="127.0.0.1", dashboard_address=None)
            self.client = Client(self.cluster)
        self.client.register_plugin(GradingPlugin(), name=PLUGIN)
        self.slots = sum(self._host_threads().values())
        return self

    def _host_threads(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for info in (self.client.scheduler_info().get("workers") or {}).values():  # none while disconnected
            counts[info["host"]] = counts.get(info["host"], 0) + int(info["nthreads"])
        return counts

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            try:  # closes each worker's Grader and its pool
                self.client.unregister_worker_plugin(PLUGIN)
            except Exception:  # a worker already gone has nothing to close
                pass
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def submit(self, submissions: Sequence[Submission]) -> None:
        """Grade `submissions` on the cluster (those not asked for yet), as many at a time as it has
        worker threads; the rest are sent as those finish."""
        with self._lock:
            asked = {s.student for s in self._queue} | set(self._futures)
            self._queue.extend(s for s in submissions if s.student not in asked)
        self._top_up()

    def _top_up(self) -> None:
        """Send queued submissions while fewer are running than the cluster has worker threads (at
        least one, so that a cluster whose workers are all gone still gets the next when one joins)."""
        with self._lock:
            if not self._queue:
                return
            try:
                threads = self._host_threads()
            except Exception:  # noqa: BLE001  no answer from the scheduler: kept queued, see `_lost`
                return
            capacity = max(1, sum(threads.values()))
            options = {"host_threads": threads}
            while self._queue and self._running < capacity:
                submission = self._queue[0]
                # the path as listed, links not followed: the worker refuses a link as the local pool does
                try:
                    future = self.client.submit(
                        grade_one, self.assignment_path, os.path.abspath(submission.path),
                        {**options, "student": submission.student, "problem": submission.problem},
                        key=f"modelcheck-grade-{self._run}-{submission.student}", pure=False)
                except Exception:  # noqa: BLE001  a client that lost its scheduler: kept queued, see `_lost`
                    break
                self._queue.pop(0)
                self._futures[submission.student] = (future, submission)
                self._sent_at[submission.student] = time.monotonic()
                self._running += 1
                future.add_done_callback(lambda _, student=submission.student: self._done(student))
            self._sent.notify_all()

    def _done(self, student: str) -> None:
        """A task finished (graded, lost for good, or cancelled): send the next. One cancelled as
        overdue keeps its slot: it may still run on its worker, and a task sent there would wait
        behind it and be overdue in turn."""
        with self._lock:
            if student in self._stuck:
                return
            self._running -= 1
            finished = self._finished
        if finished is not None:
            finished.put(student)
        self._top_up()

    def _send_first(self, submission: Submission) -> None:
        """Put `submission` first in the queue (a caller waits for it), asking for it if need be."""
        with self._lock:
            if submission.student in self._futures:
                return
            self._queue = [submission] + [s for s in self._queue if s.student != submission.student]
        self._top_up()

    def _lost(self, exc: BaseException | None = None) -> str | None:
        """Why the client can grade no more (it gave up reconnecting to its scheduler), or None;
        with `exc`, also when that is a task's cancellation because the connection was lost."""
        dropped = exc is not None and "scheduler-connection-lost" in str(exc)
        if getattr(self.client, "status", "running") not in ("closing", "closed") and not dropped:
            return None
        # said to the student too (results.json): what happened, not what the instructor should do, which
        # the run's summary says (regrade grader errors with --resume)
        return f"the connection to the Dask scheduler {self.scheduler or '(LocalCluster)'} was lost"

    def _settled(self, future: Any, submission: Submission) -> StudentGrade:
        from distributed import KilledWorker

        try:
            grade = StudentGrade.from_dict(future.result())
            grade.submission = str(submission.path)
            return grade
        except KilledWorker as exc:
            return grader_error_grade(self.assignment, submission,
                                      f"the Dask worker grading it was lost {exc.allowed_failures + 1} "
                                      f"times (last {exc.last_worker.address})")
        except Exception as exc:  # noqa: BLE001  the grader's failure, never the student's
            return grader_error_grade(self.assignment, submission, self._lost(exc) or internal_error(exc))

    def grade(self, submission: Submission) -> StudentGrade:
        """The grade of `submission`, waiting for it (sent first unless it is already on the cluster)."""
        self._send_first(submission)
        with self._sent:  # sent once a running task finishes and frees a thread
            while submission.student not in self._futures:
                if lost := self._lost():  # it will never be sent
                    self._queue = [s for s in self._queue if s.student != submission.student]
                    return grader_error_grade(self.assignment, submission, lost)
                self._sent.wait(timeout=10.0)
            future, _ = self._futures.pop(submission.student)
        return self._settled(future, submission)

    def _overdue(self, students: set[str]) -> list[StudentGrade]:
        """Grader errors for the tasks of `students` sent longer than `report_within_s` ago that
        never reported back (cancelled on the cluster): a task whose result the client cannot
        receive (a failure the scheduler could not send back) would otherwise hold the run forever."""
        now = time.monotonic()
        with self._lock:
            stale = [student for student in students if student in self._futures
                     and not self._futures[student][0].done()
                     and now - self._sent_at.get(student, now) >= self.report_within_s]
            taken = [self._futures.pop(student) for student in stale]
            self._stuck.update(stale)
        grades = []
        for future, submission in taken:
            future.cancel()
            grades.append(grader_error_grade(self.assignment, submission,
                                             f"its Dask task did not report back within {self.report_within_s:g} s "
                                             "(the time limits of both jobs, a worker's start and the retries)"))
        return grades

    def grade_many(self, submissions: Sequence[Submission], on_grade: OnGrade) -> None:
        import queue

        finished: queue.Queue[str] = queue.Queue()
        wanted = {s.student for s in submissions}
        with self._lock:
            self._finished = finished
            done = [student for student, (future, _) in self._futures.items() if future.done()]
        for student in done:  # finished before this call: _done reported them to nobody
            finished.put(student)
        self.submit(submissions)
        try:
            left = set(wanted)
            while left:
                if self._lost():  # neither the queued nor the sent will ever report: each a grader error
                    self._give_up(left, on_grade)
                    return
                try:
                    student = finished.get(timeout=min(10.0, self.report_within_s))
                except queue.Empty:
                    for grade in self._overdue(left):
                        left.discard(grade.student)
                        on_grade(grade)
                    continue
                with self._lock:
                    if student not in left or student not in self._futures:
                        continue
                    future, submission = self._futures.pop(student)
                left.discard(student)
                on_grade(self._settled(future, submission))
        finally:  # on Ctrl-C: nothing more starts on the cluster
            with self._lock:
                self._finished = None
                self._queue = [s for s in self._queue if s.student not in wanted]
                running = [future for student, (future, _) in self._futures.items() if student in wanted]
            try:
                self.client.cancel(running)
            except Exception:  # noqa: BLE001  a client that lost its scheduler has nothing left to cancel
                pass

    def _give_up(self, students: set[str], on_grade: OnGrade) -> None:
        """A grader error for each of `students`, sent or queued, on a client that lost its scheduler."""
        with self._lock:
            taken = [self._futures.pop(s)[1] for s in sorted(students) if s in self._futures]
            taken += [s for s in self._queue if s.student in students]
            self._queue = [s for s in self._queue if s.student not in students]
        why = self._lost() or "the Dask client stopped"
        for submission in sorted(taken, key=lambda s: s.student):
            on_grade(grader_error_grade(self.assignment, submission, why))
