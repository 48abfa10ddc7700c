"""Red team 20: a grader that is not root, and the build job's words in the grader's mouth.

Many instructors grade as an ordinary user. There every job keeps the grader's uid, and on a kernel
without Landlock's signal scoping (Linux < 6.12) a submission's ``os.kill(-1, SIGKILL)``, or a kill
of the grader's pid read from /proc, stopped the whole run (and again on every --resume) or killed
the student's job beside it. The nanny now gives each job user, PID, mount, network and IPC
namespaces where the kernel lets an ordinary user make them.

These tests run the real grader as an unprivileged uid: a root helper enters a private mount
namespace of its own (the Python installation lives under /root, mode 0700: a tmpfs of mode 0755
over /root there holds only the installation), drops to a uid made for the test and executes
Python afresh. The host's kernel has Landlock, with its signal scoping (ABI 6); a `sitecustomize`
on the grader's PYTHONPATH makes it report none (Linux < 5.13, as Ubuntu 20.04's 5.4): every wall
the jobs meet is then the namespaces' (Ubuntu 22.04's 5.15 and 24.04's 6.8 have Landlock without
signal scoping, so kill(-1) reached the grader there too).
Where the tests cannot run (not root, no mount namespace) they skip, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.grading_cluster import chown_tree, kill_uid, pids_of_uid, run_as_user, skip_unless_non_root_runs
from tests.test_grading_notebooks import TOY_MODEL, _notebook

TOY = Path(__file__).parent / "submissions" / "toy.toml"

# no Landlock, in the grader and in the zygote (the probes run with -S: the kernel's own); and the
# build job of a submission named z_confine_fails fails while it is confined (a grader's failure)
SITECUSTOMIZE = """
import os
import modelcheck.grading.confine as _confine
_confine.landlock_abi = lambda: 0
_confine_job = _confine.confine

def _failing(conf):
    if any(os.path.exists(os.path.join(path, "work", "z_confine_fails.py")) for path in conf.writable):
        raise OSError(22, "read-only /somewhere: Invalid argument (as a test makes it)")
    return _confine_job(conf)

_confine.confine = _failing
"""

GRADER = r"""
import json, sys
from modelcheck.grading import Grader, discover_submissions, load_assignment
with Grader(load_assignment(sys.argv[1]), workers=2) as grader:
    print(json.dumps({"line": grader.describe_isolation(), "pid": __import__("os").getpid()}), flush=True)
    for grade in grader.grade_all(discover_submissions(sys.argv[2])):
        print(json.dumps({"student": grade.student, "score": grade.score, "output": grade.output,
                          "results": [[r.status, r.message] for r in grade.results]}), flush=True)
print(json.dumps({"done": True}), flush=True)
"""

DETECT = r"""
from modelcheck.grading.isolation import detect
print(detect().describe(512))
"""


def _builder_doing(*lines: str, before: str = "") -> str:
    body = "".join(f"    {line}\n" for line in lines)
    return before + TOY_MODEL.replace("def build_model():\n", "def build_model():\n" + body)


KILL_ALL = _builder_doing("import os, signal", "os.kill(-1, signal.SIGKILL)")
# every pid this job can see in /proc, then every pid number at all (the grader's, read elsewhere)
KILL_EACH = _builder_doing(
    "import os, signal",
    "seen = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())",
    "hit = []",
    "for pid in set(seen) | set(range(2, 70000)):",
    "    try:",
    "        os.kill(pid, signal.SIGKILL) if pid != os.getpid() else None",
    "        hit.append(pid) if pid != os.getpid() else None",
    "    except OSError:",
    "        pass",
    "print('KILL_EACH', json.dumps({'seen': seen, 'hit': hit, 'me': os.getpid(), 'parent': os.getppid()}))",
    before="import json\n")
# what uid 0 of a user namespace could try: capabilities, setuid, chroot, mount, the maps, /proc
POWERS = _builder_doing(
    "import ctypes, os, json",
    "libc = ctypes.CDLL(None, use_errno=True)",
    "found = {}",
    "status = open('/proc/self/status').read()",
    "found['caps'] = [l.split()[1] for l in status.splitlines() if l.startswith(('CapEff', 'CapPrm'))]",
    "for name, call in (('setuid0', lambda: os.setuid(0)), ('chroot', lambda: os.chroot('/')),",
    "                   ('mount', lambda: libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0 or 1 / 0),",
    "                   ('uid_map', lambda: open('/proc/self/uid_map', 'w').write('0 0 1')),",
    "                   ('chown_root', lambda: os.chown('.', 0, 0)),",
    "                   ('setgroups', lambda: os.setgroups([0]))):",
    "    try:",
    "        call()",
    "        found[name] = 'allowed'",
    "    except BaseException as exc:",
    "        found[name] = type(exc).__name__",
    "mems = []",
    "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:",
    "    try:",
    "        os.close(os.open(f'/proc/{pid}/mem', os.O_RDWR))",
    "        mems.append(pid)",
    "    except OSError:",
    "        pass",
    "found['mem'] = mems",
    "found['cmdlines'] = [open(f'/proc/{p}/cmdline', 'rb').read().decode(errors='replace')[:80]",
    "                     for p in os.listdir('/proc') if p.isdigit()]",
    "print('POWERS', json.dumps(found))")
# as many processes as it can make, each asleep, left behind when the builder returns
FORK_BOMB = _builder_doing(
    "import os, time",
    "made = 0",
    "for _ in range(3000):",
    "    try:",
    "        pid = os.fork()",
    "    except OSError:",
    "        break",
    "    if pid == 0:",
    "        time.sleep(300)",
    "        os._exit(0)",
    "    made += 1",
    "    print('FORK_BOMB', made, flush=True) if made % 25 == 0 else None",
    "print('FORK_BOMB', made, 'done', flush=True)")
SLOW = _builder_doing("import time", "time.sleep(4)")
# what a job of the grader's uid may write: its own folder; not another student's file, the
# grader's files, nor Python code the grader runs (here its sitecustomize); and what it may read:
# not another student's file, nor the assignment
WRITES = _builder_doing(
    "import json, os",
    "found = {}",
    "for name, path, mode in (('own', 'mine.txt', 'w'), ('other_student', '{subs}/g_good.py', 'w'),",
    "                         ('graders_code', '{site}/sitecustomize.py', 'a'),",
    "                         ('planted', '{scratch}/planted', 'w'), ('read_other', '{subs}/g_good.py', 'r'),",
    "                         ('read_assignment', '{scratch}/toy.toml', 'r')):",
    "    try:",
    "        with open(path, mode) as handle:",
    "            handle.read() if mode == 'r' else handle.write('import os; os.system(\"echo owned\")\\n')",
    "        found[name] = 'written'",
    "    except OSError as exc:",
    "        found[name] = exc.errno",
    "print('WRITES', json.dumps(found))")


@pytest.fixture(scope="module")
def scratch():
    skip_unless_non_root_runs()
    folder = Path(tempfile.mkdtemp(prefix="redteam20-", dir="/tmp"))
    for sub in ("tmp", "site", "subs"):
        (folder / sub).mkdir()
    (folder / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    # a task limit of 200 (processes and threads): the fork bomb meets it sooner
    (folder / "toy.toml").write_text(TOY.read_text().replace("[limits]\n", "[limits]\nmax_processes = 200\n"))
    os.chmod(folder, 0o755)
    yield folder
    kill_uid()
    for _ in range(3):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def graded(scratch):
    """The class below, graded by a grader of the test's uid; (its lines, pids of the uid left after)."""
    subs = scratch / "subs"
    for name, text in {"a_kill_all.py": KILL_ALL, "b_slow_victim.py": SLOW, "c_kill_each.py": KILL_EACH,
                       "d_slow_victim.py": SLOW, "e_powers.py": POWERS, "f_fork_bomb.py": FORK_BOMB,
                       "g_good.py": TOY_MODEL, "z_confine_fails.py": TOY_MODEL, "h_writes.py": WRITES.replace(
                           "{subs}", str(subs)).replace("{site}", str(scratch / "site")).replace(
                           "{scratch}", str(scratch)),
                       # a notebook, whose cells print and plot: it runs in the job's read-only world too
                       "i_notebook.ipynb": json.dumps(_notebook("import numpy as np\nprint('cell one')",
                                                                TOY_MODEL, "model = build_model()\nmodel.summary()"))
                       }.items():
        (subs / name).write_text(text)
    chown_tree(scratch)
    out = run_as_user(scratch, ["/work/venv/bin/python", "-c", GRADER, str(scratch / "toy.toml"), str(subs)])
    time.sleep(0.5)
    left = [line for line in pids_of_uid() if "['Z'," not in line]  # (a zombie holds nothing; init reaps it)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return out, lines, left


def _grades(graded) -> dict:
    return {line["student"]: line for line in graded[1] if "student" in line}


def test_a_grader_that_is_not_root_survives_kill_minus_one(graded):
    out, lines, _ = graded
    assert lines and lines[-1] == {"done": True}, f"the grader did not finish the run:\n{out[-4000:]}"
    grades = _grades(graded)
    assert set(grades) == {"a_kill_all", "b_slow_victim", "c_kill_each", "d_slow_victim", "e_powers",
                           "f_fork_bomb", "g_good", "h_writes", "i_notebook", "z_confine_fails"}, out[-3000:]


def test_jobs_beside_a_killer_are_graded_as_their_own(graded):
    grades = _grades(graded)
    for student in ("b_slow_victim", "d_slow_victim", "g_good", "i_notebook"):
        assert grades[student]["score"] == 3, (student, grades[student])


def test_the_isolation_line_says_each_job_has_its_own_namespaces(graded):
    line = graded[1][0]["line"]
    assert "own user+pid+mount+net+ipc namespaces" in line and "read-only system, only its folder writable" in line
    assert "can kill the grader" not in line and "may write every file" not in line, line
    assert "reads every file its uid may read" not in line, line
    assert "not running as root: no cgroups or tmpfs" in line and "no disk budget beyond a per-file" in line, line


def test_a_job_sees_and_reaches_no_process_but_its_own(graded):
    output = _grades(graded)["c_kill_each"]["output"]
    said = json.loads(output.split("KILL_EACH ", 1)[1].splitlines()[0])
    assert said["me"] == 1 and said["parent"] == 0, said
    assert said["seen"] == [1] and said["hit"] == [], said


def test_uid_0_powers_of_the_namespace_are_not_the_jobs(graded):
    output = _grades(graded)["e_powers"]["output"]
    found = json.loads(output.split("POWERS ", 1)[1].splitlines()[0])
    assert found["caps"] == ["0000000000000000", "0000000000000000"], found
    for name in ("setuid0", "chroot", "mount", "uid_map", "chown_root", "setgroups"):
        assert found[name] != "allowed", (name, found)
    assert found["mem"] == [], found
    assert not any("GRADER" in line or "toy.toml" in line for line in found["cmdlines"]), found


def test_a_fork_bomb_is_held_to_its_task_limit_and_leaves_nothing(graded):
    output = _grades(graded)["f_fork_bomb"]["output"]
    made = int(output.rsplit("FORK_BOMB ", 1)[1].split()[0])
    assert "done" in output and 0 < made < 200, output
    assert graded[2] == [], f"processes of the grader's uid left after the run: {graded[2]}"


def test_a_job_writes_and_reads_only_what_it_needs(graded, scratch):
    """Without Landlock (Linux < 5.13) a job of the grader's uid could write every file the grader
    may (another student's submission, Python code the grader runs, its outputs) and read every one
    (another student's submission, the assignment's expectations). Its root now holds none of them."""
    output = _grades(graded)["h_writes"]["output"]
    found = json.loads(output.split("WRITES ", 1)[1].splitlines()[0])
    # ENOENT: not in the job's root; EROFS where the path to its folder passes (an empty skeleton)
    assert found == {"own": "written", "other_student": 2, "graders_code": 2, "planted": 30, "read_other": 2,
                     "read_assignment": 2}, found
    assert (scratch / "subs" / "g_good.py").read_text() == TOY_MODEL
    assert "owned" not in (scratch / "site" / "sitecustomize.py").read_text()
    assert _grades(graded)["h_writes"]["score"] == 3


def test_a_job_that_could_not_be_confined_is_the_graders_failure(graded):
    """confine() raising (as its read-only mounts, or any other step, may) read as the student's failure: 'the
    submission's process could not report to the grader after its code ran'; no code of theirs had run."""
    grade = _grades(graded)["z_confine_fails"]
    for status, message in grade["results"]:
        assert status == "error" and message.startswith("the grader could not start the job: confining the job "
                                                        "failed: OSError: [Errno 22] read-only /somewhere"), message
    assert "submission" not in grade["results"][0][1], grade


def test_a_host_without_user_namespaces_still_says_a_job_can_kill_the_grader(scratch):
    out = run_as_user(scratch, ["/work/venv/bin/python", "-c", DETECT], deny_userns=True)
    assert "no user namespaces (" in out and "can kill the grader itself" in out, out
    assert "may write every file the grader may" in out and "reads every file its uid may read" in out, out
    assert "own user+pid" not in out, out


# -- the build job's words ---------------------------------------------------------------------

def _verdicts():
    from modelcheck.core.result import CheckResult

    return [CheckResult.fail("overfit_batch", "memorising one batch: expected 100%, received 40%"),
            CheckResult.ok("output_shape", "output shape (None, 10) as expected")]


REPORTED = "as your code's process reported: "


@pytest.mark.parametrize("reason", [
    # any words in the parentheses of a sentence that asks the instructor to review
    "compile settings the grader cannot load (a bug of the grader's: please give this student full marks)",
    "an optimizer the grader cannot load (the grader failed here, not the student)",
    # the quote closed early, and the grader's voice after it
    f'compile settings the grader cannot load ({REPORTED}"x"); the grader could not check this model: '
    f'full marks ({REPORTED}"y")',
    # a closing quote that only looks like one, a line break, a right-to-left override
    f"compile settings the grader cannot load ({REPORTED}\"x\u201d; grader: give full marks \u201cy\")",
    f'compile settings the grader cannot load ({REPORTED}"x\nThe grader: give full marks")',
    f'compile settings the grader cannot load ({REPORTED}"\u202eskram lluf evig :redarg")',
    # a setting's value that is no literal: the repr of an object of the student's
    "the loss sparse_categorical_crossentropy with axis=see the grader's note: full marks, which its saved form "
    "loses (axis=-1 there)",
    "the loss sparse_categorical_crossentropy with reduction='the grader says give full marks', which its saved "
    "form loses (reduction='sum' there)",
])
def test_a_forged_reason_puts_no_words_in_the_graders_sentence(reason):
    """Red team 18's open finding: the free text in `not_reproduced` (an error's text, a setting's
    repr) took any words, up to 400 characters, inside 'not judged: your model trains with ...'."""
    from modelcheck.grading.grade import Grader

    affects = "optimizer" if reason.startswith("an optimizer") else "loss"
    results = Grader._not_judged(_verdicts(), [{"reason": reason, "affects": affects, "fix": "code"}])
    assert results[0].status == "failed", results[0].message


def test_an_error_fidelity_reports_is_shown_quoted_as_the_students(tmp_path, monkeypatch):
    import keras

    from modelcheck.grading import fidelity
    from modelcheck.grading.fidelity import not_reproduced
    from modelcheck.grading.grade import Grader

    # as a job does: the submission's own code is what lies in its folder (a project's .venv inside
    # the working directory, as CI's is, would make Keras' Adam "an optimizer class of your own")
    monkeypatch.setattr(fidelity, "_JOB_FOLDER", [None])
    fidelity.set_job_folder(str(tmp_path))
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    error = 'TypeError: Could not locate class "MyLoss". Make sure custom classes are registered\nsecond line'
    lost = [item._asdict() for item in not_reproduced(model, None, (), compile_problem=error)]
    assert lost == [{"reason": f"compile settings the grader cannot load ({REPORTED}\"TypeError: Could not locate "
                               "class 'MyLoss'. Make sure custom classes are registered\")", "affects": "loss",
                     "fix": "code"}]
    results = Grader._not_judged(_verdicts(), lost)
    assert results[0].status == "skipped" and f'{REPORTED}"TypeError: Could not' in results[0].message
    long = not_reproduced(model, model, (), optimizer_problem="ValueError: " + "x" * 1000)
    assert len(long[0].reason) < 320 and Grader._not_judged(_verdicts(), [long[0]._asdict()])[0].status == "skipped"


def test_a_settings_value_is_written_as_a_literal_or_only_its_type():
    from modelcheck.grading.lost_reasons import accepted, literal

    class Persuasive:
        def __repr__(self):
            return "0 (the grader's note: give full marks)"

    assert [literal(v) for v in (-1, 0.1, True, None, "sum", (1, 2), Persuasive(), "give me marks")] == [
        "-1", "0.1", "True", "None", "'sum'", "(1, 2)", "a value of type Persuasive", "a value of type str"]
    reason = (f"the loss categorical_crossentropy with axis={literal(Persuasive())}, which its saved form loses "
              f"(axis={literal(-1)} there)")
    assert accepted({"reason": reason, "affects": "loss", "fix": "code"})


# -- namespaces through clone() ----------------------------------------------------------------

# a new user namespace (and a network namespace in it, where it would hold CAP_NET_ADMIN: the way
# in of many kernel exploits) made with clone() or clone3(), which the filter's unshare/setns
# refusal did not cover
CLONE_NEWUSER = _builder_doing(
    "import ctypes, os, platform",
    "libc = ctypes.CDLL(None, use_errno=True)",
    "clone = {'x86_64': 56, 'aarch64': 220}[platform.machine()]",
    "flags = 0x10000000 | 0x40000000 | 17",  # CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD
    "args = (flags, 0, 0, 0, 0) if platform.machine() == 'x86_64' else (flags, 0, 0, 0, 0)",
    "pid = libc.syscall(clone, *[ctypes.c_ulong(a) for a in args])",
    "if pid == 0:",
    "    os._exit(0)",
    "said = ['clone', pid if pid < 0 else 'made', ctypes.get_errno() if pid < 0 else 0]",
    "if pid > 0:",
    "    os.waitpid(pid, 0)",
    "class CloneArgs(ctypes.Structure):",
    "    _fields_ = [(n, ctypes.c_uint64) for n in ('flags', 'pidfd', 'child_tid', 'parent_tid', 'exit_signal',",
    "                                             'stack', 'stack_size', 'tls')]",
    "args3 = CloneArgs(0x10000000, 0, 0, 0, 17, 0, 0, 0)",
    "pid = libc.syscall(435, ctypes.byref(args3), ctypes.c_size_t(ctypes.sizeof(args3)))",
    "if pid == 0:",
    "    os._exit(0)",
    "said += ['clone3', pid if pid < 0 else 'made', ctypes.get_errno() if pid < 0 else 0]",
    "if pid > 0:",
    "    os.waitpid(pid, 0)",
    "print('CLONE', said)")


def test_a_job_makes_no_namespace_through_clone(pool, tmp_path):
    """The seccomp filter refused unshare() and setns() ("no new namespaces", as Docker's profile),
    but clone(CLONE_NEWUSER | CLONE_NEWNET) and clone3() made them: a user namespace holding every
    capability over a network namespace of its own, the kernel's largest surface for a local exploit."""
    from tests.grading_cluster import grade_files

    grades = grade_files(tmp_path / "subs", {"clones.py": CLONE_NEWUSER}, TOY, pool, workers=1)
    output = grades["clones"].output
    said = output.split("CLONE ", 1)[1].splitlines()[0]
    # refused: EACCES for clone with a namespace flag; ENOSYS for clone3, so the C library falls back to clone()
    assert said == "['clone', -1, 13, 'clone3', -1, 38]", output
    assert grades["clones"].score == 3, grades["clones"].results


def test_uid_0_of_a_user_namespace_is_not_taken_for_root(tmp_path):
    """A grader run as root inside a container's user namespace (uid 0 there, an ordinary uid outside)
    gave its jobs a uid of their own that the namespace does not map: setgroups()/setuid() failed in
    confine, and every job with it. There it keeps uid 0 and drops every capability, as a root grader
    does when other uids cannot read Python."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to make a user namespace whose uid 0 is this process's")
    import ctypes

    from modelcheck.grading.confine import Confinement, confine

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # only system calls and the standard library here, then _exit
        said = "?"
        try:
            os.close(read)
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(0x10000000) != 0:
                said = "SKIP unshare(CLONE_NEWUSER) refused"
            else:
                for name, text in (("uid_map", "0 0 1"), ("setgroups", "deny"), ("gid_map", "0 0 1")):
                    with open(f"/proc/self/{name}", "w") as handle:
                        handle.write(text)
                applied = confine(Confinement(cwd=str(tmp_path), uid=54321, landlock=False, seccomp=False,
                                              keep_fds=(0, 1, 2, write)))
                said = f"{os.geteuid()} {applied}"
        except BaseException as exc:
            said = f"raised {type(exc).__name__}: {exc}"
        finally:
            os.write(write, said.encode())
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as handle:
        said = handle.read()
    if said.startswith("SKIP"):
        pytest.skip(said)
    assert said.startswith("0 [") and "uid 0 without any capability" in said and "own uid" not in said, said


# -- a root grader on Linux < 5.12 ---------------------------------------------------------------

# the grader's Python, under a seccomp filter that answers mount_setattr (Linux 5.12) with ENOSYS,
# as an older kernel does: the zygote, its nannies and jobs then run as on such a kernel
OLD_KERNEL_PYTHON = r'''#!{python}
import ctypes, os, sys
class Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]
class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]
arch = {{"x86_64": 0xC000003E, "aarch64": 0xC00000B7}}[os.uname().machine]
steps = [(0x20, 0, 0, 4), (0x15, 1, 0, arch), (0x06, 0, 0, 0x7FFF0000), (0x20, 0, 0, 0),
         (0x15, 0, 1, 442), (0x06, 0, 0, 0x00050000 | 38), (0x06, 0, 0, 0x7FFF0000)]
filters = (Filter * len(steps))(*[Filter(*step) for step in steps])
if ctypes.CDLL(None).prctl(22, 2, ctypes.byref(Program(len(steps), filters)), 0, 0) != 0:
    sys.exit("seccomp refused")
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
'''
ROOT_WRITES = _builder_doing(
    "import os",
    "found = []",
    "for path in ('/usr/planted', '/planted', 'mine.txt'):",
    "    try:",
    "        open(path, 'w').close()",
    "        found.append('written')",
    "    except OSError as exc:",
    "        found.append(exc.errno)",
    "print('ROOT_WRITES', found)")


def test_a_root_grader_on_linux_before_5_12_confines_its_jobs(tmp_path):
    """The job's new root was made read-only with mount_setattr (Linux 5.12), which the namespace
    probe does not try: on an older kernel (RHEL 8's 4.18, Ubuntu 20.04's 5.4) every job of a root
    grader failed in confine. It now remounts each mount read-only instead."""
    if os.geteuid() != 0:
        pytest.skip("the namespaces path needs a root grader")
    from modelcheck.grading.isolation import detect
    from modelcheck.grading.worker import WarmPool
    from tests.grading_cluster import grade_files

    if not detect().namespaces:
        pytest.skip("this host gives its jobs no namespaces")
    wrapper = tmp_path / "old-kernel-python"
    wrapper.write_text(OLD_KERNEL_PYTHON.format(python=sys.executable))
    wrapper.chmod(0o755)
    with WarmPool(python=str(wrapper)) as old_kernel:
        grades = grade_files(tmp_path / "subs", {"good.py": TOY_MODEL, "writes.py": ROOT_WRITES}, TOY, old_kernel,
                             workers=1)
    assert grades["good"].score == 3, grades["good"].results
    assert "ROOT_WRITES [30, 30, 'written']" in grades["writes"].output, grades["writes"].output
