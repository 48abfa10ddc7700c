"""A class that attacks the grader, graded once by `modelcheck grade`, one test per class of attack.

The class (tests/submissions/attacks/class/, plus special files and hostile file names made
here) holds two correct submissions, ``aaa_first`` sorting before every attacker and
``zzz_last`` after. Every test checks that both keep full marks and all their files, that
the run exited 0, and its own attacker's verdict. The attackers name their processes
``mc-attacker`` (inherited by forks) and set ``MODELCHECK_TEST_ATTACKER=1`` (inherited by
exec'd programs), so the tests can look for survivors in /proc.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelcheck.grading.isolation import Isolation, detect

ATTACKS = Path(__file__).parent / "submissions" / "attacks"
PLANTED = ("/tmp/modelcheck-attack-planted", "/var/tmp/modelcheck-attack-planted",
           "/dev/shm/modelcheck-attack-planted", "/work/modelcheck-attack-planted")
UNIX_SOCKET = "/tmp/modelcheck-attack.sock"
LOCK_FILE = "/tmp/modelcheck-attack.lock"
NEIGHBOURS = ("aaa_first", "zzz_last")
HOSTILE_NAMES = {  # file name (bytes) -> the id the outputs show
    b"caf\xe9.py": "caf\\xe9",
    b"back\\slash.py": "back\\slash",
    b"<img src=x onerror=alert(1)>.py": "<img src=x onerror=alert(1)>",
    b".hidden.py": ".hidden",
    b'=HYPERLINK("evil.example").py': '=HYPERLINK("evil.example")',
    b"-2+3.py": "-2+3",
    b"esc\x1b[31m.py": "esc\\x1b[31m",
}
HOSTILE_FOLDERS = ("index.html", "gradebook.csv", "..x")
ISOLATION: Isolation = detect()
needs_kernel = pytest.mark.skipif(not (ISOLATION.namespaces and ISOLATION.cgroup),
                                  reason=f"needs namespaces and cgroups ({ISOLATION.describe()})")


@dataclass
class Run:
    """One `modelcheck grade` run of the hostile class."""

    returncode: int
    stderr: str
    out: Path
    rows: dict[str, dict[str, str]]  # gradebook: id -> row
    results: dict[str, dict]  # id -> results.json
    survivors: list[str]
    received: list[bytes]  # what the test's UDP/TCP/UNIX listeners received


def _model_source() -> bytes:
    return (ATTACKS / "class" / "aaa_first.py").read_bytes()


def _special_folder(folder: Path, classmate: Path) -> None:
    """A folder submission holding a correct model.py among everything a folder should not hold."""
    folder.mkdir()
    (folder / "model.py").write_bytes(_model_source())
    os.mkfifo(folder / "fifo.txt")
    os.symlink("/etc/passwd", folder / "passwd.txt")
    os.symlink("/", folder / "root_link")
    os.link(classmate, folder / "classmate_solution.txt")  # a hard link to another student's file
    with open(folder / "huge.bin", "wb") as huge:
        huge.truncate(10 * 2**30)  # sparse: 10 GB of zeros on paper
    deep = folder
    for _ in range(40):
        deep = deep / "d"
    deep.mkdir(parents=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(folder / "socket.sock"))
    server.close()
    if os.geteuid() == 0:
        os.mknod(folder / "zero.txt", stat.S_IFCHR | 0o666, os.makedev(1, 5))  # /dev/zero: endless


def _write_class(folder: Path) -> None:
    shutil.copytree(ATTACKS / "class", folder)
    _special_folder(folder / "special_files", folder / "aaa_first.py")
    os.mkfifo(folder / "fifo.py")
    if os.geteuid() == 0:
        os.mknod(folder / "device.py", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    for name in HOSTILE_NAMES:
        with open(os.path.join(os.fsencode(folder), name), "wb") as out:
            out.write(_model_source())
    for name in HOSTILE_FOLDERS:
        (folder / name).mkdir()
        (folder / name / "model.py").write_bytes(_model_source())


def _marked_processes() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if comm == "mc-attacker" or b"MODELCHECK_TEST_ATTACKER=1" in environ.split(b"\0"):
            found.append(f"{entry} ({comm})")
    return found


def _listeners() -> list[socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 47999))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 47998))
    tcp.listen()
    if os.path.exists(UNIX_SOCKET):
        os.unlink(UNIX_SOCKET)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    unix.bind(UNIX_SOCKET)
    os.chmod(UNIX_SOCKET, 0o777)
    for sock in (udp, tcp, unix):
        sock.setblocking(False)
    return [udp, tcp, unix]


def _drain(sockets: list[socket.socket]) -> list[bytes]:
    received = []
    for sock in sockets:
        try:
            if sock.type == socket.SOCK_STREAM:
                connection, _ = sock.accept()
                received.append(connection.recv(100) or b"(connected)")
            else:
                received.append(sock.recv(100))
        except BlockingIOError:
            pass
        sock.close()
    return received


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("attacks")
    submissions, out = base / "class", base / "out"
    _write_class(submissions)
    for path in PLANTED:
        if os.path.exists(path):
            os.unlink(path)
    # The class listens on fixed ports and leaves marked processes to look for: under xdist two
    # workers may both run this module, so one grades (and looks for survivors) at a time.
    with open(LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        listeners = _listeners()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "modelcheck.cli", "grade", str(ATTACKS / "toy.toml"), str(submissions),
                 "--out", str(out), "--workers", "2"],
                capture_output=True, text=True, errors="replace", timeout=600, cwd=base)
        finally:
            received = _drain(listeners)
            os.unlink(UNIX_SOCKET)
        survivors = _marked_processes()
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    results = {}
    for folder in out.iterdir():
        if (folder / "results.json").exists():
            data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            results[data["extra_data"]["student"]] = data
    return Run(done.returncode, done.stderr, out, rows, results, survivors, received)


def _neighbours_intact(run: Run) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    for student in NEIGHBOURS:
        assert run.rows[student]["score"] == "3", run.rows[student]
        assert run.results[student]["score"] == 3.0
        assert (run.out / student / "feedback.html").is_file()
        assert f'href="{student}/feedback.html"' in (run.out / "index.html").read_text(encoding="utf-8")
    assert not run.survivors
    assert not any(os.path.exists(path) for path in PLANTED)


def _error(run: Run, student: str) -> str:
    """The student's row is 0 points and their results.json says why, on every check."""
    assert run.rows[student]["score"] == "0", run.rows[student]
    data = run.results[student]
    assert all(test["status"] == "failed" for test in data["tests"])
    return data["tests"][0]["output"]


def test_the_run_says_its_isolation_once_and_every_submission_gets_a_row(run: Run) -> None:
    _neighbours_intact(run)
    assert sum(line.startswith("modelcheck: isolation: ") for line in run.stderr.splitlines()) == 1
    assert len(run.rows) == len(run.results) == len(list(run.out.glob("*/feedback.html")))
    index = (run.out / "index.html").read_text(encoding="utf-8")
    assert index.count("/feedback.html") == len(run.rows)
    for data in run.results.values():
        assert data["extra_data"]["isolation"]["isolation"].startswith("isolation: ")


@pytest.mark.parametrize(("student", "says"), [
    ("report_deep", "nested more than 12 levels deep"),
    ("report_wrong_types", "`report.exported` should be true or false"),
])
def test_a_malformed_report_is_that_students_error(run: Run, student: str, says: str) -> None:
    _neighbours_intact(run)
    message = _error(run, student)
    assert "sent a report the grader cannot use" in message and says in message


def test_a_notebook_whose_json_is_a_list_is_an_error(run: Run) -> None:
    _neighbours_intact(run)
    assert "not a readable Jupyter notebook (its JSON is list" in _error(run, "notebook_list")


def test_text_that_is_not_unicode_is_written_safely_everywhere(run: Run) -> None:
    _neighbours_intact(run)
    message = _error(run, "surrogate_message")
    assert "ValueError: bad \ufffd\ufffd" in message
    assert "\x1b" not in message and "\u202e" not in message
    assert "\x1b" not in run.stderr  # progress lines carry no terminal control sequence
    feedback = (run.out / "surrogate_message" / "feedback.html").read_text(encoding="utf-8")
    assert "bad" in feedback


def test_two_submissions_with_one_id_are_both_reported(run: Run) -> None:
    _neighbours_intact(run)
    assert "dup_id" not in run.rows
    for student in ("dup_id.py", "dup_id.ipynb"):
        message = _error(run, student)
        assert "2 submissions map to the student id 'dup_id' (dup_id.ipynb, dup_id.py)" in message


def test_special_files_and_links_in_a_folder_are_never_opened_nor_copied(run: Run) -> None:
    _neighbours_intact(run)
    assert run.rows["special_files"]["score"] == "3"
    assert "not a plain file" in _error(run, "fifo")
    if os.geteuid() == 0:
        assert "not a plain file" in _error(run, "device")


def test_any_file_name_gets_a_safe_folder_an_escaped_name_and_a_neutral_cell(run: Run) -> None:
    _neighbours_intact(run)
    shown = {HOSTILE_NAMES[name] for name in HOSTILE_NAMES} | set(HOSTILE_FOLDERS)
    in_gradebook = {student.removeprefix("'") for student in run.rows}
    assert shown <= in_gradebook
    assert all(run.results[student]["score"] == 3.0 for student in shown)
    assert "'=HYPERLINK(\"evil.example\")" in run.rows and "'-2+3" in run.rows
    assert not any(student.startswith(("=", "+", "-", "@", "\t", "\r")) for student in run.rows)
    folders = {p.name for p in run.out.iterdir() if p.is_dir()}
    students = folders - {".modelcheck"}  # the grader's own resume records
    assert all(not name.startswith(".") and name not in ("index.html", "gradebook.csv") for name in students)
    assert (run.out / "index.html").is_file() and (run.out / "gradebook.csv").is_file()
    index = (run.out / "index.html").read_text(encoding="utf-8")
    assert "<img src=x" not in index and "&lt;img src=x onerror=alert(1)&gt;" in index


@needs_kernel
def test_no_process_outlives_its_job(run: Run) -> None:
    _neighbours_intact(run)
    assert run.rows["outlive_daemons"]["score"] == "3"
    assert run.survivors == []


@needs_kernel
@pytest.mark.parametrize("student", ["memory_children", "memory_memfd"])
def test_memory_counts_every_process_and_shared_memory(run: Run, student: str) -> None:
    _neighbours_intact(run)
    assert "more than 500 MB of memory" in _error(run, student)


@needs_kernel
def test_the_process_limit_holds_as_root(run: Run) -> None:
    _neighbours_intact(run)
    assert "Resource temporarily unavailable" in _error(run, "fork_bomb")


@needs_kernel
def test_a_submission_cannot_fill_the_disk(run: Run) -> None:
    _neighbours_intact(run)
    assert "No space left on device" in _error(run, "disk_fill")


@needs_kernel
def test_a_job_has_no_network_and_writes_nothing_outside_its_folder(run: Run) -> None:
    _neighbours_intact(run)
    assert run.rows["network_and_files"]["score"] == "3"
    assert run.received == []
    output = run.results["network_and_files"]["output"]
    # (its /dev/shm is its own folder's tmp: writing there is allowed, and stays there)
    for what in ("udp", "tcp", "unix", *(f"plant {path}" for path in PLANTED if "/shm/" not in path)):
        assert f"{what} refused" in output
