"""A Gradescope autograder bundle, and what runs inside it.

    modelcheck gradescope fashion.toml --out autograder.zip

The zip (Gradescope unpacks it into ``/autograder/source``) holds:

- ``setup.sh``: installs Python if missing and, in a virtual environment of its own
  (``/autograder/source/venv``), modelcheck's dependencies pinned at the versions of the machine
  that wrote the bundle, and checks that the bundled modelcheck imports;
- ``run_autograder``: grades ``/autograder/submission`` into ``/autograder/results/results.json``
  (Gradescope's format, `modelcheck.grading.outputs.gradescope_results`) with the same isolated
  pipeline as ``modelcheck grade``;
- ``lib/modelcheck/``: this very version of modelcheck;
- ``assignment/``: the assignment file and the files it needs (``--include``).

``run_autograder`` reads ``MODELCHECK_AUTOGRADER_ROOT`` (default ``/autograder``) and
``MODELCHECK_PYTHON`` (default: setup.sh's environment's Python), so it can be tried in a folder laid out like
``/autograder``. No Keras import here.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import stat
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Iterable, Sequence

__all__ = ["write_bundle", "requirements", "run"]

_SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v python3 >/dev/null; then
    apt-get update && apt-get install -y python3
fi
if ! python3 -c "import sys; sys.exit(sys.version_info < {python})"; then
    echo "setup.sh: this autograder needs Python >= {python_text} (modelcheck and the versions pinned in" \\
         "requirements.txt), and python3 here is $(python3 -V 2>&1): choose a Gradescope base image with a" \\
         "newer Python (Ubuntu 24.04 has 3.12), or install python{python_text} as python3 first" >&2
    exit 1
fi
# A virtual environment of its own: images whose Python refuses a system-wide pip install (PEP 668's
# "externally-managed-environment", Ubuntu 24.04 and Debian 12) take it, and nothing of the image's
# own packages is changed. Debian and Ubuntu ship venv's pip apart, in python3-venv.
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt-get update && apt-get install -y python3-venv
fi
python3 -m venv {venv}
{venv}/bin/python -m pip install --no-cache-dir -r requirements.txt
PYTHONPATH="$PWD/lib" {venv}/bin/python -c \\
    "import modelcheck; assert modelcheck.__version__ == '{version}', modelcheck.__version__"
"""

_RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into
# /autograder/results/results.json.
set -uo pipefail
ROOT="${{MODELCHECK_AUTOGRADER_ROOT:-/autograder}}"
export PYTHONPATH="$ROOT/source/lib${{PYTHONPATH:+:$PYTHONPATH}}"
export TF_CPP_MIN_LOG_LEVEL=3
PYTHON="$ROOT/source/{venv}/bin/python"  # where setup.sh installed the dependencies
[ -x "$PYTHON" ] || PYTHON=python3
cd "$ROOT/source"  # python -m imports from the current folder first: never a modelcheck found there
exec "${{MODELCHECK_PYTHON:-$PYTHON}}" -m modelcheck.grading.gradescope "$ROOT/source/assignment/{assignment}" --root "$ROOT"
"""
VENV = "venv"  # setup.sh's virtual environment, in /autograder/source


def requirements(packages: Sequence[str] = ()) -> list[str]:
    """modelcheck's dependencies, each pinned at the version installed here (else as declared);
    then `packages`, what the students' code imports beside them (matplotlib, pandas): a bare
    name pinned likewise, one with a version or marker kept as written."""
    pins = [_pinned(r) for r in importlib.metadata.requires("modelcheck") or [] if "extra ==" not in r]
    for package in packages:
        package = package.strip()
        pin = _pinned(package) if re.fullmatch(r"[A-Za-z0-9._-]+", package) else package
        if pin not in pins:
            pins.append(pin)
    return pins


def _name(requirement: str) -> str:
    """The distribution name a requirement line starts with (``numpy`` of ``numpy>=1.26; python_version...``)."""
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0]


def _pinned(requirement: str) -> str:
    written = requirement.split(";")[0].strip()
    name = _name(written)
    try:
        return f"{name}=={importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return written


def _minimum_python(pins: Sequence[str]) -> tuple[int, int]:
    """The oldest Python (major, minor) that modelcheck and every package of `pins` installed here
    declare they run on (their ``Requires-Python: >=X.Y``); setup.sh checks it before pip, whose
    own error ('no matching distribution') would not say why."""
    oldest = (3, 0)
    for name in ["modelcheck", *(_name(pin) for pin in pins)]:
        try:
            declared = importlib.metadata.metadata(name).get("Requires-Python") or ""
        except importlib.metadata.PackageNotFoundError:
            continue
        found = re.search(r">=\s*(\d+)\.(\d+)", declared)
        if found:
            oldest = max(oldest, (int(found.group(1)), int(found.group(2))))
    return oldest


def _package_files() -> Iterable[tuple[Path, str]]:
    import modelcheck

    root = Path(modelcheck.__file__).resolve().parent
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and "__pycache__" not in relative.parts and path.suffix not in (".pyc", ".pyo"):
            yield path, f"lib/modelcheck/{relative.as_posix()}"


def _executable(archive: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    archive.writestr(info, text)


def write_bundle(assignment_path: str | Path, out: str | Path, *, include: Sequence[str | Path] = (),
                 packages: Sequence[str] = ()) -> Path:
    """Write the autograder zip of `assignment_path` to `out`, with the files the assignment names
    (reference solution, ``[data]`` sample, custom objects' modules); `include`: further files
    (kept at their place relative to the assignment's folder, else beside it); `packages`: what
    the students' code imports beside modelcheck's dependencies, for setup.sh to install."""
    from .. import __version__
    from .assignment import load_assignment

    assignment_path = Path(assignment_path)
    assignment = load_assignment(assignment_path)  # a broken assignment fails here, not on Gradescope
    out = Path(out)
    if out.suffix != ".zip":
        raise ValueError(f"--out {out}: the autograder bundle is a .zip file; try --out autograder.zip")
    base = assignment_path.resolve().parent
    extra: dict[str, Path] = {}
    # the reference solution, the sample data and the custom objects' modules travel with it
    for item in [*assignment.instructor_files().values(), *include]:
        path = Path(item).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"--include {item}: no such file")
        name = path.relative_to(base).as_posix() if base in path.parents else path.name
        extra[f"assignment/{name}"] = path
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        pins = requirements(packages)
        python = _minimum_python(pins)
        _executable(archive, "setup.sh", _SETUP.format(version=__version__, python=python, venv=VENV,
                                                        python_text=".".join(map(str, python))))
        _executable(archive, "run_autograder", _RUN.format(assignment=assignment_path.name, venv=VENV))
        archive.writestr("requirements.txt", "\n".join(pins) + "\n")
        archive.write(assignment_path, f"assignment/{assignment_path.name}")
        for name, path in extra.items():
            archive.write(path, name)
        for path, name in _package_files():
            archive.write(path, name)
    return out


def _failed_results(message: str) -> dict:
    return {"score": 0.0, "execution_time": 0.0, "visibility": "visible", "stdout_visibility": "hidden",
            "output": f"The autograder itself failed (not your submission); please tell your instructor.\n{message}",
            "tests": []}


# results.json until grading ends: what Gradescope shows if its own time limit kills the run first
_UNFINISHED = ("Grading did not finish within Gradescope's time limit: building the model and running its checks "
               "took longer than the autograder may run (each may take the assignment's time limit). Make the "
               "model build and run faster, or ask your instructor.")


def _unconfined(grader: Any) -> str | None:
    """Why `grader` cannot keep a submission from the assignment's files on this machine, or None.

    With no mount namespace and no Landlock, only a separate uid keeps a job from reading the
    reference solution (the assignment folder is made owner-only); a job that keeps uid 0 owns
    those files, and /autograder/results too."""
    if grader.isolation.reads_confined or grader.separate_uids:
        return None
    return ("this machine cannot keep a submission's code away from the assignment's files and the results: no "
            "mount namespace, no Landlock, and jobs would run as root (other users cannot read the Python "
            "installation). Give other users read access to Python, or use an autograder image on a kernel with "
            "Landlock (Linux >= 5.13)")


def run(assignment: str | Path, root: str | Path) -> dict:
    """Grade ``ROOT/submission`` against `assignment`; write and return ``ROOT/results/results.json``.

    Before grading: the assignment's folder (the reference solution, samples) and the results
    folder are made readable by their owner only, and results.json says grading did not finish,
    so that Gradescope killing a run that outlasts its time limit leaves the student a zero with
    the reason, not an autograder failure."""
    from .. import __version__
    from ..core.files import write_atomic
    from .executors import internal_error
    from .grade import Grader
    from .outputs import gradescope_results
    from .assignment import load_assignment
    from .submissions import Submission

    root = Path(root)
    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    for folder in (Path(assignment).resolve().parent, results_path.parent):
        folder.chmod(0o700)  # jobs run under uids of their own: none may read these
    unfinished = {"score": 0.0, "execution_time": 0.0, "visibility": "visible", "stdout_visibility": "hidden",
                  "output": _UNFINISHED, "tests": []}
    write_atomic(results_path, json.dumps(unfinished, indent=1) + "\n")
    print(f"modelcheck {__version__} from {Path(__file__).resolve().parents[1]}", file=sys.stderr, flush=True)
    try:
        with Grader(load_assignment(assignment), workers=1) as grader:
            refused = _unconfined(grader)
            if refused is not None:
                data = _failed_results(refused)
            else:
                data = gradescope_results(grader.grade(Submission("submission", root / "submission")))
    except Exception as exc:  # noqa: BLE001  shown to the student as the grader's failure, with its cause
        data = _failed_results(internal_error(exc))
    write_atomic(results_path, json.dumps(data, indent=1) + "\n")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m modelcheck.grading.gradescope ASSIGNMENT --root /autograder`` (run_autograder's call)."""
    parser = argparse.ArgumentParser(prog="run_autograder", description="Grade one Gradescope submission")
    parser.add_argument("assignment")
    parser.add_argument("--root", default="/autograder")
    args = parser.parse_args(argv)
    data = run(args.assignment, args.root)
    print(f"score: {data['score']:g}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
