"""Grading on a Dask cluster: real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

The verdicts equal the local pool's; a worker killed mid-run loses no submission (its task runs
again on another worker); a task lost on every worker allowed becomes a grader error, not a
verdict on the student."""

from __future__ import annotations

import csv
import os
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from modelcheck.grading import Grader, discover_submissions, load_assignment
from modelcheck.grading.course import grade_course

from .grading_cluster import TOY, Cluster, verdicts, write_class


@pytest.fixture
def cluster(tmp_path: Path):
    cluster = Cluster(tmp_path / "cluster")
    try:
        yield cluster
    finally:
        cluster.close()


def _grade_in_thread(*args, **kwargs) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def run() -> None:
        try:
            box["run"] = grade_course(*args, **kwargs)
        except BaseException as exc:  # shown by the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def _running_on(client, student: str, timeout: float = 120) -> str:
    """The address of the worker running `student`'s task, once one does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for address, keys in client.processing().items():
            if any(str(key).endswith(f"-{student}") for key in keys):
                return address
        time.sleep(0.05)
    raise AssertionError(f"no worker started grading {student}")


def test_a_class_graded_through_a_scheduler_gets_the_local_pools_verdicts(cluster: Cluster, tmp_path: Path):
    write_class(tmp_path / "class", slow=1, seconds=0.5)
    # what the local pool refuses, the cluster must too: one file under two names (hard links), a
    # link to another file (here a sound one: full marks if followed), a dangling link
    os.link(tmp_path / "class" / "good_toy.py", tmp_path / "class" / "twin.py")
    os.symlink(tmp_path / "class" / "good_toy.py", tmp_path / "class" / "linked.py")
    os.symlink("/nonexistent/x.py", tmp_path / "class" / "dangling.py")
    cluster.add_worker("w0")
    cluster.add_worker("w1")
    with Grader(load_assignment(TOY), workers=2) as grader:
        local = grader.grade_all(discover_submissions(tmp_path / "class"))
    cluster.wait_for_workers(2)
    run = grade_course(TOY, tmp_path / "class", tmp_path / "out", scheduler=cluster.address, quiet=True)
    assert run.executor == "dask" and run.slots == 2
    assert [g.student for g in run.grades] == sorted(g.student for g in local)
    assert verdicts(run.grades) == verdicts(local)
    assert {g.student for g in run.grades if g.score == 0} >= {"twin.py", "good_toy.py", "linked", "dangling"}
    assert not any(g.grader_error for g in run.grades)
    rows = {row["student"]: row["score"] for row in csv.DictReader((tmp_path / "out" / "gradebook.csv").open())}
    assert rows == {g.student: f"{g.score:g}" for g in local}


@pytest.mark.extended  # a worker lost mid-run: CI runs it in its own step
def test_a_worker_killed_mid_run_loses_no_submission(cluster: Cluster, tmp_path: Path):
    from distributed import Client

    write_class(tmp_path / "class", slow=2, seconds=3.0)
    workers = {"w0": cluster.add_worker("w0"), "w1": cluster.add_worker("w1")}
    cluster.wait_for_workers(2)
    thread, box = _grade_in_thread(TOY, tmp_path / "class", tmp_path / "out", scheduler=cluster.address,
                                   quiet=True)
    with Client(cluster.address, timeout="30s") as client:
        address = _running_on(client, "slow_0")
        names = {info["name"]: addr for addr, info in client.scheduler_info()["workers"].items()}
        victim = next(name for name, addr in names.items() if addr == address)
        cluster.kill(workers[victim])
    thread.join(timeout=240)
    assert not thread.is_alive() and "error" not in box, box
    run = box["run"]
    assert len(run.grades) == 6
    assert [g.grader_error for g in run.grades] == [None] * 6  # slow_0 ran again on the other worker
    assert {g.student: g.score for g in run.grades} == {
        "forge_files": 1, "good_toy": 3, "os_exit_in_builder": 0, "returns_none": 0, "slow_0": 3, "slow_1": 3}


@pytest.mark.slow
@pytest.mark.extended
def test_a_task_lost_on_every_allowed_worker_is_a_grader_error_and_resume_regrades_it(cluster: Cluster,
                                                                                    tmp_path: Path):
    from distributed import Client

    write_class(tmp_path / "class", slow=1, seconds=4.0)
    workers = {name: cluster.add_worker(name) for name in ("w0", "w1")}
    cluster.wait_for_workers(2)
    thread, box = _grade_in_thread(TOY, tmp_path / "class", tmp_path / "out", scheduler=cluster.address,
                                   quiet=True)
    with Client(cluster.address, timeout="30s") as client:
        for attempt in range(2):  # allowed-failures = 1: lost once, run again; lost twice, given up
            address = _running_on(client, "slow_0")
            names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
            cluster.kill(workers[names[address]])
            if attempt == 0:
                workers["w2"] = cluster.add_worker("w2")
    workers["w3"] = cluster.add_worker("w3")  # to grade what is left
    thread.join(timeout=300)
    assert not thread.is_alive() and "error" not in box, box
    grades = {g.student: g for g in box["run"].grades}
    lost = grades["slow_0"]
    assert lost.grader_error and "lost 2 times" in lost.grader_error
    assert lost.results[0].message.startswith("the grader failed, not your submission")
    assert [s for s, g in grades.items() if g.grader_error] == ["slow_0"]
    rows = {row["student"]: row for row in csv.DictReader((tmp_path / "out" / "gradebook.csv").open())}
    assert rows["slow_0"]["score"] == "" and rows["good_toy"]["score"] == "3"
    again = grade_course(TOY, tmp_path / "class", tmp_path / "out", scheduler=cluster.address, resume=True,
                         quiet=True)
    assert [g.student for g in again.graded] == ["slow_0"]
    assert again.graded[0].score == 3 and not again.graded[0].grader_error


@pytest.mark.extended  # a worker lost mid-run: CI runs it in its own step
def test_a_worker_holds_only_the_submission_it_grades_so_its_loss_costs_no_other(cluster: Cluster, tmp_path: Path):
    # Dask sent a class's tasks to the workers ahead of time (worker-saturation holds back only groups
    # it deems root-ish): a killed worker's queued submission counted as lost too, and a second kill
    # made an innocent submission a grader error
    from distributed import Client

    write_class(tmp_path / "class", slow=2, seconds=2.0)
    workers = {"w0": cluster.add_worker("w0")}
    cluster.wait_for_workers(1)
    thread, box = _grade_in_thread(TOY, tmp_path / "class", tmp_path / "out", scheduler=cluster.address,
                                   quiet=True)
    most, killed = 0, False
    with Client(cluster.address, timeout="30s") as client:
        while thread.is_alive():
            processing = client.processing()
            most = max([most, *(len(keys) for keys in processing.values())])
            if not killed and any(str(key).endswith("-slow_0") for keys in processing.values() for key in keys):
                cluster.kill(workers["w0"])
                workers["w1"] = cluster.add_worker("w1")
                killed = True
            time.sleep(0.02)
    assert killed and most == 1  # one single-threaded worker at a time: never a task queued behind another
    assert "error" not in box, box
    grades = {g.student: g for g in box["run"].grades}
    assert not [s for s, g in grades.items() if g.grader_error]  # slow_0 lost once, graded on w1
    assert grades["slow_0"].score == 3 and grades["good_toy"].score == 3


def test_pytest_grades_on_the_scheduler_given_on_the_command_line_or_in_the_ini(
        cluster: Cluster, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    import shutil

    from .grading_cluster import SUBMISSIONS

    shutil.copy(TOY, pytester.path / "toy.toml")
    submissions = pytester.mkdir("submissions")
    for name in ("good_toy.py", "forge_files.py", "returns_none.py"):
        shutil.copy(SUBMISSIONS / "threats" / name, submissions / name)
    cluster.add_worker("w0")
    cluster.wait_for_workers(1)
    pytester.makeini(f"[pytest]\nmodelcheck_grade_scheduler = {cluster.address}\n")
    result = pytester.runpytest_subprocess("--modelcheck-grade", "toy.toml", "submissions",
                                           "--modelcheck-grade-out", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(["*[[]0/2 points] total parameters: expected 67, received 75 (+8)*"])
    assert (pytester.path / "out" / "good_toy" / "results.json").exists()
    from distributed import Client

    with Client(cluster.address, timeout="30s") as client:  # the cluster did the grading
        prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert any(prefix.startswith("modelcheck-grade") for prefix in prefixes), prefixes
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "3s")
    nobody = pytester.runpytest_subprocess("--modelcheck-grade", "toy.toml", "submissions", "-p", "no:cacheprovider",
                                           "--modelcheck-grade-scheduler", "tcp://127.0.0.1:9")
    nobody.assert_outcomes(failed=6)
    nobody.stdout.fnmatch_lines(["*cannot reach the Dask scheduler tcp://127.0.0.1:9*"])


def test_a_task_that_never_reports_back_is_a_grader_error_not_a_hung_run(tmp_path: Path):
    """A task whose result the client never receives (seen when a failure's traceback could not be
    sent back) held `modelcheck grade --scheduler` forever; after `report_within_s` it is the
    grader's error for that student, and the run goes on."""
    from modelcheck.grading.dask_executor import DaskExecutor
    from modelcheck.grading.submissions import Submission

    class Silent:  # a Dask future whose result never arrives
        cancelled = False
        callback = None

        def done(self) -> bool:
            return False

        def cancel(self) -> None:  # the task may go on running on its worker all the same
            self.cancelled = True
            self.callback(self)

        def add_done_callback(self, callback) -> None:
            self.callback = callback

    class Client:
        def __init__(self) -> None:
            self.sent: list[Silent] = []

        def submit(self, *args, **kwargs) -> Silent:
            self.sent.append(Silent())
            return self.sent[-1]

        def scheduler_info(self) -> dict:
            return {"workers": {"tcp://w": {"host": "w", "nthreads": 1}}}

        def cancel(self, futures) -> None:
            pass

    executor = DaskExecutor(load_assignment(TOY))
    executor.client = Client()
    assert executor.report_within_s == 2 * (2 * 8 + 300)  # toy.toml: timeout_s 8, one retry
    executor.report_within_s = 0.3
    grades = []
    executor.grade_many([Submission("alice", tmp_path / "alice.py")], grades.append)
    assert [g.student for g in grades] == ["alice"]
    assert "its Dask task did not report back within 0.3 s" in grades[0].grader_error
    assert executor.client.sent[0].cancelled
    # its worker thread may still be busy with it: the slot stays taken, so no classmate is sent to
    # wait behind it (and be overdue in turn)
    assert executor._running == 1
