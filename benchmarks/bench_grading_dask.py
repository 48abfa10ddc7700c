"""The Dask path against the local warm pool, on the same cores.

    python benchmarks/bench_grading_dask.py [--students 200] [--workers 2]

Writes a class of generated Fashion-MNIST submissions (70 % correct, 20 % with 200 units,
10 % with a Keras 1 spelling; `bench_grading.write_class`), grades it once on the local pool
(`--workers` at a time) and once on a `distributed.LocalCluster` of `--workers` single-threaded
workers, each writing every student's files as it is graded, and prints for both: submissions
per minute (grading only, and with the start of the pool/cluster), CPU seconds per submission
(this process and every process it started: cluster workers, zygotes, build and check jobs),
and whether the verdicts agree. Target: the Dask path keeps at least 90 % of the local
pool's throughput.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "tests" / "submissions" / "fashion.toml"


def cpu_seconds() -> float:
    """CPU of this process and of every child it reaped (each level reaps its own)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(kind: str, folder: Path, out: Path, workers: int) -> dict:
    from modelcheck.grading import discover_submissions, load_assignment
    from modelcheck.grading.executors import make_executor
    from modelcheck.grading.outputs import write_student_files

    assignment = load_assignment(ASSIGNMENT)
    submissions = discover_submissions(folder)
    grades = []

    def on_grade(grade) -> None:
        write_student_files(grade, assignment, out)
        grades.append(grade)

    cpu_before, started = cpu_seconds(), time.monotonic()
    with make_executor(assignment, executor=kind, workers=workers) as executor:
        warm = time.monotonic()
        executor.grade_many(submissions, on_grade)
        graded = time.monotonic()
    time.sleep(1.0)  # let every process be reaped
    cpu = cpu_seconds() - cpu_before
    n = len(grades)
    return {"kind": kind, "n": n, "start": warm - started, "grading": graded - warm,
            "rate": n / (graded - warm) * 60, "overall": n / (graded - started) * 60, "cpu": cpu / n,
            "verdicts": {g.student: (g.score, tuple(r.status for r in g.results)) for g in grades},
            "grader_errors": sum(bool(g.grader_error) for g in grades)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    from bench_grading import write_class

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        write_class(folder, args.students)
        results = [measure(kind, folder, Path(tmp) / f"out-{kind}", args.workers) for kind in ("local", "dask")]
    print(f"{args.students} submissions, {args.workers} workers, {os.cpu_count()} CPUs")
    for r in results:
        print(f"{r['kind']:>5}: start {r['start']:.1f} s; grading {r['grading']:.1f} s -> {r['rate']:.1f} "
              f"submissions/minute ({r['overall']:.1f} with the start); CPU per submission {r['cpu']:.2f} s; "
              f"grader errors {r['grader_errors']}")
    local, dask = results
    print(f"Dask keeps {dask['rate'] / local['rate']:.0%} of the local pool's throughput "
          f"({dask['overall'] / local['overall']:.0%} with the starts); target >= 90%")
    print(f"same verdicts on both: {local['verdicts'] == dask['verdicts']}")
    with open("/proc/loadavg") as load:
        print(f"(load average at the end, other users included: {load.read().split()[0]})")


if __name__ == "__main__":
    main()
