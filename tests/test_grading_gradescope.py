"""``modelcheck gradescope``: the autograder bundle, and its run_autograder run in a folder laid
out like Gradescope's ``/autograder``, with the bundled modelcheck."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import modelcheck
from modelcheck.cli import main
from modelcheck.grading.gradescope import _minimum_python, requirements

SUBMISSIONS = Path(__file__).parent / "submissions"
TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundle")
    (folder / "notes.txt").write_text("data the assignment needs\n")
    shutil.copy(SUBMISSIONS / "toy.toml", folder / "toy.toml")
    out = folder / "autograder.zip"
    assert main(["gradescope", str(folder / "toy.toml"), "--out", str(out), "--include", str(folder / "notes.txt")]) == 0
    return out


def test_writing_the_bundle_says_the_timeout_gradescope_needs(tmp_path: Path, capsys):
    assert main(["gradescope", str(SUBMISSIONS / "toy.toml"), "--out", str(tmp_path / "a.zip")]) == 0
    assert "set its timeout on Gradescope to at least 76 s" in capsys.readouterr().err  # toy.toml: timeout_s 8


def test_the_bundle_holds_setup_run_autograder_the_assignment_and_this_modelcheck(bundle: Path):
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        pins = archive.read("requirements.txt").decode().split()
    assert {"setup.sh", "run_autograder", "requirements.txt", "assignment/toy.toml", "assignment/notes.txt",
            "lib/modelcheck/__init__.py", "lib/modelcheck/grading/gradescope.py"} <= names
    assert not any("__pycache__" in name for name in names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert f"modelcheck.__version__ == '{modelcheck.__version__}'" in setup
    assert pins == requirements() and any(pin.startswith("tensorflow==") for pin in pins)
    assert subprocess.run(["bash", "-n", "-c", setup]).returncode == 0


def test_packages_the_students_code_imports_are_installed_by_setup(tmp_path: Path):
    """A notebook importing matplotlib beside keras in one cell lost its builder on Gradescope:
    setup.sh installed modelcheck's dependencies only, and the bundle had no way to add one."""
    import importlib.metadata

    out = tmp_path / "a.zip"
    assert main(["gradescope", str(SUBMISSIONS / "toy.toml"), "--out", str(out), "--package", "h5py",
                 "--package", "not-installed-here", "--package", "pandas>=2", "--package", "numpy"]) == 0
    with zipfile.ZipFile(out) as archive:
        pins = archive.read("requirements.txt").decode().split()
    assert pins == requirements() + [f"h5py=={importlib.metadata.version('h5py')}", "not-installed-here", "pandas>=2"]


def test_setup_says_which_python_the_bundle_needs_before_pip_fails_on_an_older_one(bundle: Path, tmp_path: Path):
    """The pins are this machine's versions (numpy, keras and modelcheck need Python >= 3.11);
    on an image whose python3 is 3.10, pip's 'no matching distribution' would not say why."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path / "source")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n'
                                  'case "$1" in -V) echo "Python 3.10.12";; -c) exit 1;; esac\nexit 0\n')
    (fake / "python3").chmod(0o755)
    done = subprocess.run(["bash", str(tmp_path / "source" / "setup.sh")], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}, timeout=60)
    needed = ".".join(map(str, _minimum_python(requirements())))  # 3.11 with this machine's pins
    assert done.returncode == 1
    assert (f"setup.sh: this autograder needs Python >= {needed} (modelcheck and the versions pinned in "
            "requirements.txt), and python3 here is Python 3.10.12") in done.stderr
    assert "install" not in (fake / "calls").read_text()  # pip never ran


def test_setup_installs_into_a_venv_of_its_own_where_the_system_python_refuses_pip(bundle: Path, tmp_path: Path):
    """Ubuntu 24.04's and Debian 12's python3 refuse `pip install` outside a virtual environment
    (PEP 668): setup.sh ran `python3 -m pip install` there, and the image failed to build."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp_path / "source")
    fake = tmp_path / "bin"
    fake.mkdir()
    calls = tmp_path / "calls"
    # an image without python3-venv (ensurepip missing, as Debian ships it) whose pip refuses to install
    (fake / "python3").write_text(f"""#!/bin/sh
echo "python3 $*" >> {calls}
case "$1" in
  -V) echo "Python 3.12.3";;
  -m) case "$2" in
        venv) mkdir -p "$3/bin" && cp {fake}/venv-python "$3/bin/python";;
        pip) echo "error: externally-managed-environment" >&2; exit 1;;
      esac;;
  -c) case "$2" in *ensurepip*) [ -e {fake}/venv-installed ] || exit 1;; esac;;
esac
exit 0
""")
    (fake / "venv-python").write_text(f'#!/bin/sh\necho "venv-python $*" >> {calls}\n')
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "apt-get $*" >> {calls}\ntouch {fake}/venv-installed\n')
    for name in ("python3", "venv-python", "apt-get"):
        (fake / name).chmod(0o755)
    done = subprocess.run(["bash", str(tmp_path / "source" / "setup.sh")], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}, timeout=60)
    assert done.returncode == 0, done.stderr
    said = calls.read_text().splitlines()
    assert "apt-get install -y python3-venv" in said
    assert "python3 -m venv venv" in said
    assert "venv-python -m pip install --no-cache-dir -r requirements.txt" in said
    assert not [line for line in said if line.startswith("python3 -m pip")]
    assert (tmp_path / "source" / "venv" / "bin" / "python").exists()


def _autograde(bundle: Path, root: Path, submission: Path) -> tuple[dict, str]:
    """Lay out `root` like /autograder, run run_autograder there; its results.json and stderr."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    (root / "submission").mkdir(parents=True)
    shutil.copy(submission, root / "submission" / submission.name)
    # setup.sh's venv, standing in: its Python is run_autograder's unless MODELCHECK_PYTHON says otherwise
    venv_python = root / "source" / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    venv_python.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MODELCHECK_PYTHON")}  # bundled modelcheck
    env.update(MODELCHECK_AUTOGRADER_ROOT=str(root))
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text()), done.stderr


def test_run_autograder_grades_the_submission_into_gradescopes_results_json(bundle: Path, tmp_path: Path):
    data, stderr = _autograde(bundle, tmp_path / "autograder", SUBMISSIONS / "threats" / "forge_files.py")
    assert f"from {tmp_path / 'autograder' / 'source' / 'lib'}" in stderr  # not the installed modelcheck
    assert {"score", "execution_time", "output", "visibility", "tests"} <= set(data)
    assert data["score"] == 1.0 and data["execution_time"] > 0 and "Score 1 / 3." in data["output"]
    assert [set(test) for test in data["tests"]] == [TEST_KEYS, TEST_KEYS]
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in data["tests"]] == [
        ("output_shape", 1.0, 1.0, "passed"), ("param_count", 0.0, 2.0, "failed")]
    assert "expected 67, received 75" in data["tests"][1]["output"]
    assert not list((tmp_path / "autograder").rglob("report.html"))  # its forgeries reached nothing here


def test_a_submission_that_fails_gets_its_reason_and_no_points(bundle: Path, tmp_path: Path):
    data, _ = _autograde(bundle, tmp_path / "autograder", SUBMISSIONS / "threats" / "returns_none.py")
    assert data["score"] == 0.0
    assert all(t["status"] == "failed" and "build_model() returned None" in t["output"] for t in data["tests"])


def test_results_say_grading_did_not_finish_until_it_does_and_the_assignment_is_owner_only(tmp_path: Path,
                                                                                            monkeypatch):
    """Gradescope kills a run that outlasts its time limit; whatever results.json holds then is what
    the student gets. A job (own uid) must not read the reference solution beside the assignment."""
    from modelcheck.grading import gradescope
    from modelcheck.grading.grade import Grader

    root = tmp_path / "autograder"
    (root / "source" / "assignment").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "toy.toml", root / "source" / "assignment" / "toy.toml")
    (root / "submission").mkdir()
    shutil.copy(SUBMISSIONS / "threats" / "good_toy.py", root / "submission" / "good_toy.py")
    seen = {}

    def killed_here(self, submission):
        seen["results"] = json.loads((root / "results" / "results.json").read_text())
        seen["modes"] = [(root / name).stat().st_mode & 0o777 for name in ("source/assignment", "results")]
        raise KeyboardInterrupt  # stands for Gradescope's kill: nothing after this line runs

    monkeypatch.setattr(Grader, "grade", killed_here)
    with pytest.raises(KeyboardInterrupt):
        gradescope.run(root / "source" / "assignment" / "toy.toml", root)
    assert seen["results"]["score"] == 0.0
    assert seen["results"]["output"].startswith("Grading did not finish within Gradescope's time limit")
    assert json.loads((root / "results" / "results.json").read_text()) == seen["results"]
    assert seen["modes"] == [0o700, 0o700]
    monkeypatch.undo()
    data = gradescope.run(root / "source" / "assignment" / "toy.toml", root)
    assert data["score"] == 3.0 and json.loads((root / "results" / "results.json").read_text()) == data


def test_gradescope_refuses_to_grade_where_a_job_could_read_the_reference_solution():
    from types import SimpleNamespace

    from modelcheck.grading.gradescope import _unconfined
    from modelcheck.grading.isolation import Isolation

    assert "cannot keep a submission's code away from the assignment's files" in _unconfined(
        SimpleNamespace(isolation=Isolation(), separate_uids=False))
    assert _unconfined(SimpleNamespace(isolation=Isolation(), separate_uids=True)) is None
    assert _unconfined(SimpleNamespace(isolation=Isolation(landlock=1), separate_uids=False)) is None
    assert _unconfined(SimpleNamespace(isolation=Isolation(namespaces=True), separate_uids=False)) is None


def test_the_bundle_carries_the_files_the_assignment_names(tmp_path: Path):
    out = tmp_path / "autograder.zip"
    assert main(["gradescope", str(SUBMISSIONS / "fashion.toml"), "--out", str(out)]) == 0
    names = set(zipfile.ZipFile(out).namelist())
    assert {"assignment/fashion.toml", "assignment/fashion_solution.py", "assignment/fashion_sample.npz"} <= names


def test_the_resume_hash_follows_the_files_the_assignment_names(tmp_path: Path):
    from modelcheck.grading.assignment import load_assignment
    from modelcheck.grading.resume import assignment_hash

    for name in ("fashion.toml", "fashion_solution.py", "fashion_sample.npz"):
        shutil.copy(SUBMISSIONS / name, tmp_path / name)
    before = assignment_hash(load_assignment(tmp_path / "fashion.toml"))
    assert assignment_hash(load_assignment(tmp_path / "fashion.toml")) == before
    (tmp_path / "fashion_solution.py").write_text((tmp_path / "fashion_solution.py").read_text() + "\n# changed\n")
    assert assignment_hash(load_assignment(tmp_path / "fashion.toml")) != before
