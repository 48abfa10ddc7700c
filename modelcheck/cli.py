"""The ``modelcheck`` console command.

    modelcheck grade ASSIGNMENT.toml SUBMISSIONS_DIR --out OUT_DIR [--workers N]
    modelcheck mutants ASSIGNMENT.toml [--reference module:builder] [--json FILE] [--workers N]

Exit status: 0 when every submission was graded (whatever the students scored), 2 for a
usage error (a bad assignment file, a missing folder), 1 when the grader itself failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

__all__ = ["main", "grade_folder", "mutants"]


def grade_folder(assignment_path: str | Path, submissions: str | Path, out_dir: str | Path, *,
                 workers: int | None = None, quiet: bool = False) -> list:
    """Grade every submission in `submissions` and write the outputs to `out_dir`."""
    from .grading import Grader, discover_submissions, load_assignment, write_outputs
    from .grading.grade import _default_progress

    assignment = load_assignment(assignment_path)
    found = discover_submissions(submissions)
    out = Path(out_dir).resolve()
    if out == Path(submissions).resolve() or Path(submissions).resolve() in out.parents:
        raise ValueError(f"--out {out_dir} lies inside the submissions folder; choose a folder outside it")
    started = time.monotonic()
    if not quiet:
        print(f"modelcheck: grading {len(found)} submissions of {assignment.name!r} "
              f"({workers or os.cpu_count()} at a time)", file=sys.stderr, flush=True)
    with Grader(assignment, workers=workers) as grader:
        # said once, even with -q: a missing mechanism must never go unnoticed
        print(f"modelcheck: {grader.describe_isolation()}", file=sys.stderr, flush=True)
        grades = grader.grade_all(found, progress=None if quiet else _default_progress)
    index = write_outputs(grades, assignment, out)
    if not quiet:
        elapsed = time.monotonic() - started
        rate = len(grades) / elapsed * 60 if elapsed else 0.0
        print(f"modelcheck: graded {len(grades)} submissions in {elapsed:.1f} s ({rate:.1f} per minute); "
              f"gradebook: {out / 'gradebook.csv'}; class page: {index}", file=sys.stderr, flush=True)
    return grades


def mutants(assignment_path: str | Path, *, reference: str | None = None, json_file: str | Path | None = None,
            workers: int = 1) -> int:
    """Run the assignment's checks with its points on every mutant of its reference solution; print
    the table, the survivors and, last, the mutation score. Returns the exit status (0)."""
    import json

    from .core.files import write_atomic
    from .mutants.assignment import load_for_mutants, resolve_reference
    from .mutants.format import format_report
    from .mutants.run import run_mutants

    assignment, key = load_for_mutants(assignment_path)
    builder = resolve_reference(assignment, assignment_path, reference=key, option=reference)
    spec = assignment.spec.replace(builder=builder, builder_kwargs=dict(assignment.builder_kwargs))
    report = run_mutants(spec, points=assignment.points, seed=assignment.seed, workers=workers)
    if json_file is not None:
        write_atomic(Path(json_file), json.dumps(report.to_json(), indent=2) + "\n")
    print(format_report(report), flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelcheck", description="Verify Keras 3 models")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser(
        "grade", help="Grade student submissions in isolated processes",
        description="Grade every submission (a .py file, a folder holding one, or a .ipynb "
                    "notebook) in SUBMISSIONS_DIR against ASSIGNMENT, each in its own sandbox.")
    grade.add_argument("assignment", metavar="ASSIGNMENT.toml", help="The assignment file")
    grade.add_argument("submissions", metavar="SUBMISSIONS_DIR", help="The folder of submissions")
    grade.add_argument("--out", required=True, metavar="OUT_DIR",
                       help="Where to write gradebook.csv, results.json, feedback and index.html")
    grade.add_argument("--workers", type=int, default=None, metavar="N",
                       help="Submissions graded at once (default: the number of CPUs)")
    grade.add_argument("-q", "--quiet", action="store_true", help="No progress lines")
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
    mutate.add_argument("--workers", type=int, default=1, metavar="N", help="Processes running mutants (default: 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    from .core.errors import SpecError, UserCodeError

    if args.workers is not None and args.workers < 1:
        print("modelcheck: error: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        if args.command == "mutants":
            return mutants(args.assignment, reference=args.reference, json_file=args.json, workers=args.workers)
        grade_folder(args.assignment, args.submissions, args.out, workers=args.workers, quiet=args.quiet)
    except (SpecError, UserCodeError, FileNotFoundError, ValueError) as exc:
        print(f"modelcheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("modelcheck: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
