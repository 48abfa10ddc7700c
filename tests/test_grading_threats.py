"""Every threat of the grading issue, one fixture submission each (tests/submissions/threats/).

All are graded once, two at a time, by one warm pool (the toy assignment: fast models, an 8 s
time limit, 700 MB of memory). Each test then reads one student's recorded grade.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from modelcheck.grading import Grader, discover_submissions, load_assignment
from modelcheck.grading.confine import landlock_abi
from modelcheck.grading.grade import StudentGrade
from modelcheck.grading.isolation import Isolation, detect
from modelcheck.grading.worker import WarmPool
from modelcheck.core.result import ERROR

SUBMISSIONS = Path(__file__).parent / "submissions"


@pytest.fixture(scope="module")
def grader_isolation() -> Isolation:
    return detect()


@pytest.fixture(scope="module")
def assignment():
    return load_assignment(SUBMISSIONS / "toy.toml")


@pytest.fixture(scope="module")
def grades(pool, assignment) -> dict[str, StudentGrade]:
    grader = Grader(assignment, workers=2, pool=pool)
    graded = grader.grade_all(discover_submissions(SUBMISSIONS / "threats"))
    return {grade.student: grade for grade in graded}


def _error_everywhere(grade: StudentGrade) -> str:
    """The grade is an error on every check (never a pass); return the message."""
    assert grade.score == 0
    assert {r.status for r in grade.results} == {ERROR}
    assert grade.problem
    return grade.results[0].message


def test_a_correct_submission_gets_full_marks(grades):
    assert grades["good_toy"].score == grades["good_toy"].max_score == 3


def test_a_sequential_without_an_input_is_built_on_the_assignments_input_shape(grades):
    """Keras' guides write Sequential([Dense(...), ...]) without keras.Input: it scored 0 ("has no input
    shape"), as the build job was not told the input shape the assignment states."""
    assert grades["unbuilt_sequential"].score == grades["unbuilt_sequential"].max_score == 3


@pytest.mark.parametrize("student", ["loop_in_builder", "loop_in_layer_call"])
def test_an_endless_loop_is_a_timeout_for_that_student(grades, student):
    assert "stopped after 8 s (the time limit)" in _error_everywhere(grades[student])


def test_sys_exit_at_import_is_an_error_quoting_the_line(grades):
    message = _error_everywhere(grades["exit_at_import"])
    assert "called sys.exit(0)" in message and "exit_at_import.py:3: sys.exit(0)" in message


def test_os_exit_in_the_builder_is_an_error(grades):
    assert "ended before it returned a model" in _error_everywhere(grades["os_exit_in_builder"])


def test_keyboard_interrupt_in_the_builder_is_the_students_error_in_plain_words(grades):
    """No one presses Ctrl-C in a job: the student's own raise, told as such (it used to read
    "the process exited with code 70 before reporting", with the job's last-resort line)."""
    message = _error_everywhere(grades["interrupt_in_builder"])
    assert "build_model() raised KeyboardInterrupt" in message and "interrupt_in_builder.py:2" in message
    assert "code 70" not in message and "[modelcheck]" not in grades["interrupt_in_builder"].output


def test_killing_the_parent_is_an_error_and_grading_goes_on(grades, grader_isolation):
    if grader_isolation.namespaces:  # its parent is outside its PID namespace: getppid() is 0
        assert grades["kill_parent"].score == 3
        assert grades["good_toy"].score == 3
        return
    message = _error_everywhere(grades["kill_parent"])
    if landlock_abi() >= 6:  # the signal is refused, so the student's line is quoted
        assert "PermissionError" in message and "os.kill(os.getppid(), signal.SIGKILL)" in message
    else:  # the signal kills the nanny; the job's result is discarded
        assert "killed the grader's process" in message
    assert grades["good_toy"].score == 3


def test_killing_the_parent_without_landlock_kills_only_its_nanny(pool, assignment):
    """With the outer layers off, the kill succeeds: the nanny dies, the zygote lives on."""
    weak = Grader(assignment, workers=1, pool=pool, landlock=False, separate_uids=False, isolation=Isolation())
    starts = pool.starts
    killed = weak.grade(SUBMISSIONS / "threats" / "kill_parent.py")
    assert "killed the grader's process that supervised it" in _error_everywhere(killed)
    assert weak.grade(SUBMISSIONS / "threats" / "good_toy.py").score == 3
    assert pool.starts == starts  # the warm zygote was not touched


CONNECTS = """import socket

import keras
from keras import layers


def build_model():
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=5).sendall(b"escaped")
        print("network reached")
    except OSError as exc:
        print("network refused:", type(exc).__name__)
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
"""


PROBES = """import ctypes

import keras
from keras import layers

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def build_model():
    import os
    for name, number, args in (("pidfd_open", 434, (os.getpid(), 0)), ("unshare", 272, (0x10000000,)),
                               ("kcmp", 312, (os.getpid(), os.getpid(), 0, 0, 0))):
        result = libc.syscall(number, *args)
        print(name, "refused" if result < 0 and ctypes.get_errno() == 13 else "allowed")
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the probe calls x86_64 system call numbers")
@pytest.mark.parametrize("seccomp", [True, False])
def test_the_seccomp_filter_refuses_pidfd_theft_and_new_namespaces(pool, assignment, tmp_path, seccomp):
    """pidfd_getfd copies a socket out of another process of the job's uid (a Dask nanny, a
    LocalCluster's scheduler) without any socket() call: the red team wrote to a stolen connection."""
    (tmp_path / "probes.py").write_text(PROBES)
    weak = Grader(assignment, workers=1, pool=pool, landlock=False, separate_uids=False, isolation=Isolation(),
                  seccomp=seccomp)
    grade = weak.grade(tmp_path / "probes.py")
    assert grade.score == 3
    for name in ("pidfd_open", "unshare", "kcmp"):
        assert f"{name} refused" in grade.output if seccomp else f"{name} allowed" in grade.output or name == "unshare"


@pytest.mark.parametrize("seccomp", [True, False])
def test_without_namespaces_or_landlock_the_seccomp_filter_keeps_a_job_off_the_network(pool, assignment, tmp_path,
                                                                                       seccomp):
    """A host without namespaces (a container, a grader that is not root) and with a Landlock too
    old to refuse TCP: the job could reach any port of the machine (a Dask scheduler, which runs
    what it is sent). The filter refuses it a socket; without it, the connection arrives."""
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    (tmp_path / "connects.py").write_text(CONNECTS.format(port=server.getsockname()[1]))
    weak = Grader(assignment, workers=1, pool=pool, landlock=False, separate_uids=False, isolation=Isolation(),
                  seccomp=seccomp)
    with server:
        grade = weak.grade(tmp_path / "connects.py")
        try:
            server.accept()[0].close()
            arrived = True
        except TimeoutError:
            arrived = False
    assert grade.score == 3
    assert arrived is not seccomp
    assert ("network refused: PermissionError" if seccomp else "network reached") in grade.output


def test_what_a_host_cannot_confine_is_said_and_dask_refuses_an_open_network():
    from modelcheck.grading.dask_executor import refuse_open_network
    from modelcheck.grading.isolation import _unconfined

    assert detect().seccomp  # Linux on x86_64 or aarch64: the filter installs without privileges
    bare = Isolation(missing=tuple(_unconfined(False, 0, False)))
    assert not bare.network_confined and not bare.reads_confined
    described = bare.describe()
    assert "a job reads every file its uid may read" in described and "network not blocked" in described
    with pytest.raises(RuntimeError, match="could reach the Dask scheduler, which runs any code sent to it"):
        refuse_open_network(bare, "this machine", separate_uids=True)
    # seccomp keeps a job's own sockets closed; a grader process of its uid could still be reached
    # through its memory, unless Landlock scopes the job or it runs under a uid of its own
    with pytest.raises(RuntimeError, match="jobs keep the grader's uid with no Landlock"):
        refuse_open_network(Isolation(seccomp=True), "this machine", separate_uids=False)
    for confined, separate in ((Isolation(seccomp=True), True), (Isolation(seccomp=True, landlock=1), False),
                               (Isolation(landlock=4), False), (Isolation(namespaces=True), False)):
        assert confined.network_confined
        refuse_open_network(confined, "this machine", separate_uids=separate)
    assert "network not blocked" not in " ".join(_unconfined(False, 3, True))


def test_a_grader_whose_jobs_keep_its_uid_is_not_dumpable(pool, assignment):
    """Jobs that keep the grader's uid (no separate uids: a grader that is not root) could open its
    /proc/<pid>/mem and write into it; a process that is not dumpable refuses that to them."""
    import ctypes

    Grader(assignment, workers=1, pool=pool, separate_uids=False, isolation=Isolation())
    assert ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE


def test_a_memory_bomb_is_stopped_by_the_memory_limit(grades):
    message = _error_everywhere(grades["memory_bomb"])
    assert "more than 700 MB of memory" in message


ESCAPES_THE_GROUP = """import os
import time

import keras
from keras import layers


def build_model():
    try:
        os.setsid()
        print("setsid allowed")
    except PermissionError:
        print("setsid refused")
    child = os.fork()
    if child == 0:  # leave the group if it can, then grow past the limit
        try:
            os.setpgid(0, 0)
        except PermissionError:
            pass
        chunks = []
        try:
            while True:
                chunks.append(b"x" * (32 << 20))
                time.sleep(0.005)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
"""
FORKS_IDLE = """import os
import time

import keras
from keras import layers


def build_model():
    children = []
    for _ in range(3):  # copies of a process that holds TensorFlow: their pages are shared, not new
        child = os.fork()
        if child == 0:
            time.sleep(1.0)
            os._exit(0)
        children.append(child)
    for child in children:
        os.waitpid(child, 0)
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
"""


def test_without_a_cgroup_a_child_process_cannot_leave_the_group_or_grow_past_the_memory_limit(pool, assignment,
                                                                                                tmp_path):
    """A host without cgroups or namespaces (a container, a grader that is not root): the job's
    children were neither measured nor, once in a session of their own, killed."""
    (tmp_path / "escapes.py").write_text(ESCAPES_THE_GROUP)
    (tmp_path / "forks_idle.py").write_text(FORKS_IDLE)
    weak = Grader(assignment, workers=1, pool=pool, landlock=False, separate_uids=False, isolation=Isolation())
    escaped = weak.grade(tmp_path / "escapes.py")
    assert "more than 700 MB of memory" in _error_everywhere(escaped)
    assert "setsid refused" in escaped.output
    idle = weak.grade(tmp_path / "forks_idle.py")
    assert idle.score == 3, idle.problem


def test_200_mb_on_stdout_is_truncated_and_grading_goes_on(grades):
    flood = grades["flood_stdout"]
    assert flood.score == 3
    assert len(flood.output) <= 2 * 16 * 1024
    assert any("bytes printed, first 16 KB kept" in note for note in flood.notes)


@pytest.mark.parametrize("student", ["forge_files", "patch_checks"])
def test_forging_files_or_patching_the_checks_does_not_change_the_verdicts(grades, student):
    grade = grades[student]
    assert grade.result("output_shape").passed
    param_count = grade.result("param_count")
    assert param_count.status == "failed"
    assert "total parameters: expected 67, received 75" in param_count.message
    assert grade.score == 1


def test_measurements_an_assignment_did_not_ask_for_are_never_counted(grades):
    """A build report claiming an unexportable model with passing measured verdicts, and a weights
    file of the expected count, got param_count's points as 're-verified by the grader'."""
    message = _error_everywhere(grades["forge_measurements"])
    assert message.startswith("the model could not be exported, nor measured")


@pytest.mark.parametrize(("student", "quoted", "fix"), [
    ("syntax_error", "syntax_error.py:4: def build_model(:", "fix line 4"),
    ("no_builder", "defines no function `build_model()`; it defines build_modle()", "rename `build_modle`"),
    ("returns_none", "returns_none.py:5: def build_model():", "return model"),
    ("builder_raises", "KeyError: 'hiden'", None),
    ("keras1_spelling", "layers.Dense(output_dim=8", "layers.Dense(units=64)"),
    # told what the grader does, never about a spec file's builder_kwargs or input_shape
    ("builder_needs_arguments", "builder_needs_arguments.py:5: def build_model(input_shape, num_classes):",
     "the grader calls build_model() with no arguments: give every parameter a default value"),
])
def test_broken_code_gets_a_clear_error_quoting_the_line_and_the_fix(grades, student, quoted, fix):
    message = _error_everywhere(grades[student])
    assert quoted in message
    if student == "builder_raises":
        assert 'builder_raises.py:6: return keras.Sequential' in message
    if fix:
        assert fix in grades[student].results[0].hint
        assert "spec" not in grades[student].results[0].hint


def test_a_model_that_cannot_load_safely_is_an_error_that_says_how_to_fix_it(grades):
    message = _error_everywhere(grades["custom_lambda"])
    assert message.startswith("the exported model could not be loaded")
    for fix in ("Lambda layer: replace it with built-in layers", "@keras.saving.register_keras_serializable()",
                "get_config()"):
        assert fix in message


def test_an_exported_file_that_is_no_model_is_an_error_without_advice_that_does_not_apply(grades):
    """Every load failure got the advice about Lambda layers and custom classes, and the message
    showed the grader's own folders."""
    message = _error_everywhere(grades["corrupt_export"])
    assert message.startswith("the exported model could not be loaded")
    assert "not a model Keras can read" in message and "Lambda" not in message
    assert "modelcheck-grade-" not in message


def test_trusting_submission_measurements_is_an_explicit_opt_in(pool, assignment):
    """With `trust_submission_measurements`, the model is measured in its own process: counted and
    flagged unverified, the parameter count too (the saved weights it is compared with are the
    submission's own file)."""
    trusting = dataclasses.replace(assignment, trust_submission_measurements=True)
    assert "assignment" in trusting.build_params() and "assignment" not in assignment.build_params()
    grade = Grader(trusting, workers=1, pool=pool).grade(SUBMISSIONS / "threats" / "custom_lambda.py")
    output_shape, param_count = grade.result("output_shape"), grade.result("param_count")
    assert output_shape.passed and output_shape.details["unverified"] is True
    assert grade.points["output_shape"] == 1
    assert param_count.passed and param_count.details["unverified"] is True and "re-verified" not in param_count.message
    assert grade.score == 3


def test_a_missing_verdict_is_an_error_never_a_pass(assignment, pool):
    grader = Grader(assignment, workers=1, pool=pool)
    results = grader._verdicts([{"check": "output_shape", "status": "passed"}, "garbage"])
    assert [r.status for r in results] == [ERROR, ERROR]


def test_a_dead_zygote_is_restarted_on_the_next_launch(assignment):
    import os
    import signal

    with WarmPool() as pool:
        grader = Grader(assignment, workers=1, pool=pool)
        os.kill(pool._process.pid, signal.SIGKILL)
        pool._process.wait()
        assert grader.grade(SUBMISSIONS / "threats" / "good_toy.py").score == 3
        assert pool.starts == 2


@pytest.mark.skipif(landlock_abi() < 1 and os.geteuid() != 0, reason="needs Landlock or namespaces (root)")
def test_a_submission_cannot_read_other_submissions_or_write_outside_its_folder(pool, assignment, tmp_path):
    secret = tmp_path / "classmate.py"
    secret.write_text("SOLUTION = 42\n")
    spy = tmp_path / "spy.py"
    spy.write_text((SUBMISSIONS / "threats" / "good_toy.py").read_text() + f"""
for action, target in (("read", {str(secret)!r}), ("write", {str(tmp_path / "planted.txt")!r})):
    try:
        open(target, "r" if action == "read" else "w").close()
        print(action, "allowed")
    except OSError as exc:
        print(action, "refused:", exc.strerror)
""")
    grade = Grader(assignment, workers=1, pool=pool).grade(spy)
    assert grade.score == 3
    # hidden (not in the job's root) with namespaces, refused by Landlock without
    refusals = ("Permission denied", "No such file or directory")
    assert any(f"read refused: {why}" in grade.output for why in refusals), grade.output
    assert any(f"write refused: {why}" in grade.output for why in refusals), grade.output
    assert not (tmp_path / "planted.txt").exists()


WIDE = '''
import keras
from keras import layers


def build_model():  # 1.6 million parameters: a 6.4 MB model file, within an 8 MB disk budget
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(200_000, activation="relu"),
                             layers.Dense(3, activation="softmax")])
'''


def test_what_the_grader_stages_for_a_job_does_not_count_against_its_disk_budget(pool, tmp_path):
    """The check job's tmpfs was `disk_mb`, and it holds the exported model and the instructor's
    files: a model within the budget plus a large reference filled it, and the student got
    'the grader could not start the job: ... No space left on device'."""
    (tmp_path / "solution.py").write_text((SUBMISSIONS / "threats" / "good_toy.py").read_text()
                                          + "# " + "x" * 3_000_000 + "\n")
    toml = (SUBMISSIONS / "toy.toml").read_text().replace('builder = "build_model"',
                                                          'builder = "build_model"\nreference = "solution.py"')
    (tmp_path / "wide.toml").write_text(toml.replace("memory_mb = 700", "memory_mb = 900\ndisk_mb = 8"))
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "wide.py").write_text(WIDE)
    assignment = load_assignment(tmp_path / "wide.toml")
    grade = Grader(assignment, workers=1, pool=pool).grade(discover_submissions(tmp_path / "subs")[0])
    assert grade.problem is None and grade.grader_error is None, grade.problem
    assert grade.result("output_shape").passed
    assert "expected 67, received 1,600,003" in grade.result("param_count").message


def test_a_grader_that_fails_on_a_submission_records_a_grader_error_not_the_students(pool, assignment, monkeypatch):
    """A job the grader could not set up (a cgroup folder an earlier grader left) was counted as the
    student's error: a 0 in the class statistics that --resume would not regrade."""
    grader = Grader(assignment, workers=1, pool=pool)

    def cannot_set_up(*args, **kwargs):
        raise FileExistsError("[Errno 17] File exists: '/sys/fs/cgroup/pids/modelcheck-1/job-4'")

    monkeypatch.setattr(grader, "_run", cannot_set_up)
    grade = grader.grade(SUBMISSIONS / "threats" / "good_toy.py")
    assert grade.grader_error and "the grader itself failed on this submission (FileExistsError" in grade.grader_error
    assert all(r.details.get("internal") for r in grade.results)


def test_cgroups_a_dead_grader_left_are_swept_and_never_collide(grader_isolation):
    if grader_isolation.cgroup is None:
        pytest.skip("no cgroups here (not root, or no writable hierarchy)")
    import subprocess
    import sys

    from modelcheck.grading.cgroups import JobCgroup, sweep_dead_cgroups

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    roots = [os.path.dirname(parent) for parent in grader_isolation.cgroup_parents]
    left = [os.path.join(root, f"modelcheck-{int(dead.stdout)}", "job-4") for root in roots]
    for folder in left:
        os.makedirs(folder)
    removed = set()
    for root in roots:
        removed.update(sweep_dead_cgroups(root))
    assert set(left) <= removed and not any(os.path.exists(os.path.dirname(folder)) for folder in left)
    # a live grader's folders are left alone
    live = JobCgroup.create(grader_isolation, "job-sweep-test", 100, 10)
    try:
        for root in roots:
            sweep_dead_cgroups(root)
        assert all(os.path.isdir(folder) for folder in live.folders)
    finally:
        live.remove()
