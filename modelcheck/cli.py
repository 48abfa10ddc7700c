"""The ``modelcheck`` console command.

    modelcheck grade ASSIGNMENT.toml SUBMISSIONS_DIR --out OUT_DIR [--workers N]

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

__all__ = ["main", "grade_folder"]


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    from .errors import SpecError

    if args.workers is not None and args.workers < 1:
        print("modelcheck: error: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        grade_folder(args.assignment, args.submissions, args.out, workers=args.workers, quiet=args.quiet)
    except (SpecError, FileNotFoundError, ValueError) as exc:
        print(f"modelcheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("modelcheck: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
