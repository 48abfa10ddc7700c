"""Assignment strength: mutation scores and seconds per mutant.

    python benchmarks/bench_mutants.py [--references] [--grading 6] [--workers 1]

Prints the Fashion-MNIST assignment's mutation score with its reference solution
(tests/submissions/fashion_solution.py) and seconds per mutant; with --grading N, the seconds per
submission of grading N copies of that reference solution through the sandbox (one worker, warm
pool), for the ratio; with --references, every reference model's score against its declared checks
(many minutes) and the survivors below 100%.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ASSIGNMENT = ROOT / "tests" / "submissions" / "fashion.toml"
REFERENCE = ROOT / "tests" / "submissions" / "fashion_solution.py"


def fashion(workers: int) -> float:
    from modelcheck.mutants.assignment import load_for_mutants, resolve_reference
    from modelcheck.mutants.format import format_report
    from modelcheck.mutants.run import run_mutants

    assignment, key = load_for_mutants(ASSIGNMENT)
    builder = resolve_reference(assignment, ASSIGNMENT, reference=key, option=f"{REFERENCE}:build_model")
    report = run_mutants(assignment.spec.replace(builder=builder), points=assignment.points, seed=assignment.seed,
                         workers=workers)
    print(format_report(report))
    print(f"fashion_mlp: {len(report.judged)} mutants judged, {report.seconds_per_mutant:.2f} s per mutant "
          f"({workers} worker{'s' if workers > 1 else ''})", flush=True)
    return report.seconds_per_mutant or 0.0


def grading(copies: int) -> float:
    from modelcheck.grading import Grader, discover_submissions, load_assignment

    assignment = load_assignment(ASSIGNMENT)
    with tempfile.TemporaryDirectory() as folder:
        for i in range(copies):
            shutil.copy(REFERENCE, Path(folder) / f"student_{i:02d}.py")
        with Grader(assignment, workers=1) as grader:
            grader.grade_all(discover_submissions(folder)[:1])  # warm the pool
            start = time.perf_counter()
            grader.grade_all(discover_submissions(folder))
            per = (time.perf_counter() - start) / copies
    print(f"grading the same model through the sandbox: {per:.2f} s per submission (1 worker, warm pool)", flush=True)
    return per


def references() -> None:
    from modelcheck.mutants.run import run_mutants
    from reference_models import catalog

    caught = total = 0
    for entry in catalog(references_only=True):
        report = run_mutants(entry.spec, seed=0)
        if report.score is None:
            print(f"{entry.id}: no mutants ({report.not_mutable or 'no operator applies'})", flush=True)
            continue
        caught, total = caught + len(report.caught), total + len(report.judged)
        print(f"{entry.id}: {100 * report.score:.0f}% ({len(report.caught)}/{len(report.judged)}), "
              f"{report.seconds_per_mutant:.2f} s per mutant", flush=True)
        for m in report.survivors:
            print(f"    survived: {m.description} at {m.where}", flush=True)
    print(f"reference models: mutation score {100 * caught / max(total, 1):.1f}% ({caught}/{total})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", action="store_true")
    parser.add_argument("--grading", type=int, default=0, metavar="N")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    per_mutant = fashion(args.workers)
    if args.grading:
        per_submission = grading(args.grading)
        print(f"ratio: grading / mutants = {per_submission / per_mutant:.1f}x")
    if args.references:
        references()


if __name__ == "__main__":
    main()
