"""The ``modelcheck`` console command.

    modelcheck grade ASSIGNMENT.toml SUBMISSIONS_DIR --out OUT_DIR [--workers N]
        [--scheduler tcp://HOST:PORT | --executor dask] [--resume] [--only NAME ...]
    modelcheck gradescope ASSIGNMENT.toml --out autograder.zip [--include FILE ...] [--package NAME ...]
    modelcheck mutants ASSIGNMENT.toml [--reference module:builder] [--json FILE] [--html FILE] [--workers N]

Exit status: 0 when every submission was graded (whatever the students scored), 2 for a
usage error (a bad assignment file, a missing folder), 1 when the grader itself failed on some
submissions (grader errors: rerun with --resume) or, for `mutants`, on an error of its own (printed as
"internal error in modelcheck" with its traceback), 130 when interrupted (what was graded is kept),
143 when stopped by SIGTERM (the same: what was graded is kept).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main", "grade_folder", "mutants"]


def grade_folder(assignment_path: str | Path, submissions: str | Path, out_dir: str | Path, *,
                 workers: int | None = None, quiet: bool = False, executor: str = "local",
                 scheduler: str | None = None, resume: bool = False, only: Sequence[str] = ()) -> list:
    """Grade the submissions in `submissions` into `out_dir` (streamed, resumable); return the
    gradebook's grades. See `modelcheck.grading.course.grade_course`."""
    from .grading.course import grade_course

    run = grade_course(assignment_path, submissions, out_dir, workers=workers, executor=executor,
                       scheduler=scheduler, resume=resume, only=only, quiet=quiet)
    if quiet:  # as the isolation line: a grader error or a missing module must never go unnoticed
        for line in run.summary(actions_only=True):
            print(f"modelcheck: {line}", file=sys.stderr, flush=True)
    else:
        lines = run.summary()
        for line in lines[:-1]:
            print(f"modelcheck: {line}", file=sys.stderr)
        print(f"modelcheck: {lines[-1]}; gradebook: {run.out_dir / 'gradebook.csv'}; class page: {run.index}",
              file=sys.stderr, flush=True)
    return run.grades


def mutants(assignment_path: str | Path, *, reference: str | None = None, json_file: str | Path | None = None,
            workers: int = 1, html_file: str | Path | None = None) -> int:
    """Run the assignment's checks with its points on every mutant of its reference solution; print
    the table, the survivors and, last, the mutation score (`json_file` and `html_file` get the same
    as JSON and as an HTML page). Returns the exit status (0)."""
    import json

    from .core.files import write_atomic
    from .mutants.assignment import assignment_mutants
    from .mutants.format import format_report

    report = assignment_mutants(assignment_path, reference=reference, workers=workers)
    if json_file is not None:
        write_atomic(Path(json_file), json.dumps(report.to_json(), indent=2) + "\n")
    if html_file is not None:
        from .report.mutants import render_mutants_page, views_of_json

        render_mutants_page(views_of_json(report.to_json()), html_file, title=f"{report.model}: mutants")
    print(format_report(report), flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelcheck", description="Verify Keras 3 models")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser(
        "grade", help="Grade student submissions in isolated processes",
        description="Grade every submission (a .py file, a folder holding one, or a .ipynb "
                    "notebook) in SUBMISSIONS_DIR against ASSIGNMENT, each in its own sandbox. "
                    "Each student's results are written as soon as they are graded.")
    grade.add_argument("assignment", metavar="ASSIGNMENT.toml", help="The assignment file")
    grade.add_argument("submissions", metavar="SUBMISSIONS_DIR", help="The folder of submissions")
    grade.add_argument("--out", required=True, metavar="OUT_DIR",
                       help="Where to write gradebook.csv, results.json, feedback and index.html")
    grade.add_argument("--workers", type=int, default=None, metavar="N",
                       help="Submissions graded at once (default: the number of CPUs); with --executor "
                            "dask and no scheduler, the LocalCluster's workers")
    grade.add_argument("--executor", choices=("local", "dask"), default="local",
                       help="Where to grade: the local warm pool (default) or Dask (a LocalCluster "
                            "unless --scheduler is given)")
    grade.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="Grade on the Dask cluster of this scheduler (implies --executor dask)")
    grade.add_argument("--resume", action="store_true",
                       help="Skip submissions unchanged since they were graded into OUT_DIR")
    grade.add_argument("--only", action="append", default=[], metavar="NAME",
                       help="Regrade only this student: an id, or the file or folder they handed in "
                            "(repeatable); keep everyone else's grade")
    grade.add_argument("-q", "--quiet", action="store_true",
                       help="No progress lines and no summary, except grader errors and modules not installed here")
    mutate = commands.add_parser(
        "mutants", help="Measure which mistakes an assignment's checks catch",
        description="Mutate the assignment's reference solution with students' common mistakes, run the "
                    "assignment's checks with its points on each mutant and print which checks catch which "
                    "mistake, the survivors with what would catch them, and the mutation score.")
    mutate.add_argument("assignment", metavar="ASSIGNMENT.toml", help="The assignment file")
    mutate.add_argument("--reference", metavar="MODULE:BUILDER",
                        help="The reference solution's builder (module:builder or file.py:builder); default: "
                             "the assignment's reference = \"solution.py\"")
    mutate.add_argument("--json", metavar="FILE", help="Also write the mutants and the score as JSON")
    mutate.add_argument("--html", metavar="FILE", help="Also write the mutants and the score as an HTML page")
    mutate.add_argument("--workers", type=int, default=1, metavar="N", help="Processes running mutants (default: 1)")
    bundle = commands.add_parser(
        "gradescope", help="Write a Gradescope autograder bundle",
        description="Write a Gradescope autograder zip: setup.sh, run_autograder, the assignment, "
                    "its files and this version of modelcheck.")
    bundle.add_argument("assignment", metavar="ASSIGNMENT.toml", help="The assignment file")
    bundle.add_argument("--out", required=True, metavar="autograder.zip", help="The zip file to write")
    bundle.add_argument("--include", action="append", default=[], metavar="FILE",
                        help="Another file the assignment needs (repeatable), kept beside it")
    bundle.add_argument("--package", action="append", default=[], metavar="NAME",
                        help="A package the students' code imports beside modelcheck's dependencies (repeatable: "
                             "matplotlib, pandas), for setup.sh to install; pinned at the version installed here")
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as Ctrl-C is: what a batch system (Slurm's time limit, ``scancel``), ``timeout``,
    ``docker stop`` or Kubernetes sends before SIGKILL."""


def _on_sigterm(signum: int, frame: object) -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut short what the first started
    raise Terminated()


def _grade(args: argparse.Namespace) -> int:
    import signal

    # without this, SIGTERM ended the run at once: the gradebook a few seconds behind, the job folders
    # and cgroups left for the next run to sweep, and no word of what was kept
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        grades = grade_folder(args.assignment, args.submissions, args.out, workers=args.workers, quiet=args.quiet,
                              executor=args.executor, scheduler=args.scheduler, resume=args.resume, only=args.only)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 1 if any(g.grader_error for g in grades) else 0


def _gradescope(args: argparse.Namespace) -> int:
    from .grading.gradescope import write_bundle

    from .grading.assignment import load_assignment

    written = write_bundle(args.assignment, args.out, include=args.include, packages=args.package)
    longest = 2 * load_assignment(args.assignment).limits.timeout_s + 60  # a build and a check job, and start-up
    print(f"modelcheck: wrote the Gradescope autograder {written}; set its timeout on Gradescope to at least "
          f"{longest:g} s (the build and the checks may each take timeout_s, plus start-up)", file=sys.stderr)
    return 0


def _mutants(args: argparse.Namespace) -> int:
    """`mutants`; an error of modelcheck's own (an `InternalError`, or an exception that is no usage error)
    is printed as ours, with its traceback and where to report it, and exits 1 (the tool itself failed)."""
    from .core.errors import InternalError, SpecError, UserCodeError

    try:
        return mutants(args.assignment, reference=args.reference, json_file=args.json, workers=args.workers,
                       html_file=args.html)
    except Exception as exc:
        if isinstance(exc, (SpecError, UserCodeError, FileNotFoundError, ValueError)):
            raise  # a mistake in the user's files: main says so (exit 2)
        error = exc if isinstance(exc, InternalError) else InternalError("measuring the assignment's mutants", exc)
        print(f"{error.traceback}modelcheck: {error}\nmodelcheck: this is a bug in modelcheck, not in your files: "
              "please report it to the modelcheck maintainers with the traceback above.", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    # TensorFlow's INFO/WARNING lines (a mutant's rejected shapes) and its "failed call to cuInit" ERROR
    # would bury the table and the run's progress, as in the pytest plugin; a value the user set wins.
    # (Its start-up lines, oneDNN and CUDA, are written before its logging starts: TensorFlow 2.21
    # prints them whatever the level.)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from .core.errors import SpecError, UserCodeError

    if getattr(args, "workers", None) is not None and args.workers < 1:
        print(f"modelcheck: error: --workers must be at least 1, received {args.workers}", file=sys.stderr)
        return 2
    try:
        if args.command == "mutants":
            return _mutants(args)
        return _grade(args) if args.command == "grade" else _gradescope(args)
    except (SpecError, UserCodeError, FileNotFoundError, ValueError) as exc:
        print(f"modelcheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        how = "stopped by SIGTERM" if isinstance(exc, Terminated) else "interrupted"
        print(f"modelcheck: {how}; what was graded is kept in the output folder (rerun with --resume)",
              file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
