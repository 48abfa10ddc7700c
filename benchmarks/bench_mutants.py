"""Assignment strength: mutation scores and seconds per mutant.

    python benchmarks/bench_mutants.py [--references [ID ...]] [--grading 6] [--gradescope 4] [--workers 1]

Prints the Fashion-MNIST assignment's mutation score with its reference solution
(tests/submissions/fashion_solution.py) and seconds per mutant; with --grading N, the seconds per
submission of grading N copies of that reference solution through the sandbox (one worker, warm
pool), for the ratio, and of grading them with only the two checks that do not train
(output_shape, param_count): what the sandbox costs a submission besides its checks; with
--gradescope N, the seconds per submission of grading N copies as Gradescope does, the autograder
bundle's run_autograder once per submission (a process, a TensorFlow import and a sandbox start
each); with --references, every reference model's score against its declared checks
and its stored architecture snapshot, as `pytest --modelcheck --modelcheck-mutants reference_models`
judges it (7 minutes on the idle 2 cores, about 20 loaded), its score without the snapshot, the survivors, the survivors
per operator and the lowest score; name ids to run only those models. The load average is printed
with every figure: the machine is shared.
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
    from modelcheck.mutants.assignment import assignment_mutants
    from modelcheck.mutants.format import format_report

    report = assignment_mutants(ASSIGNMENT, workers=workers)  # as `modelcheck mutants` runs it
    print(format_report(report))
    print(f"fashion_mlp: {len(report.judged)} mutants judged, {report.seconds_per_mutant:.2f} s per mutant "
          f"({workers} worker{'s' if workers > 1 else ''})", flush=True)
    return report.seconds_per_mutant or 0.0


STATIC_POINTS = "[points]\noutput_shape = 1\nparam_count = 2\n\n"


def grading(copies: int, *, static: bool = False) -> float:
    """Seconds per submission grading `copies` of the reference solution (one worker, warm pool);
    with `static`, an assignment like it whose only checks are output_shape and param_count."""
    import re

    from modelcheck.grading import Grader, discover_submissions, load_assignment

    with tempfile.TemporaryDirectory() as work:
        assignment_file = ASSIGNMENT
        if static:
            assignment_file = Path(work) / ASSIGNMENT.name
            text = re.sub(r"\[points\].*?(?=\[)", STATIC_POINTS, ASSIGNMENT.read_text(), flags=re.S)
            assignment_file.write_text(text)
            for name in ("fashion_sample.npz", REFERENCE.name):
                shutil.copy(ASSIGNMENT.parent / name, Path(work) / name)
        assignment = load_assignment(assignment_file)
        folder = Path(work) / "submissions"
        folder.mkdir()
        for i in range(copies):
            shutil.copy(REFERENCE, folder / f"student_{i:02d}.py")
        with Grader(assignment, workers=1) as grader:
            grader.grade_all(discover_submissions(folder)[:1])  # warm the pool
            start = time.perf_counter()
            grader.grade_all(discover_submissions(folder))
            per = (time.perf_counter() - start) / copies
    what = "with only output_shape and param_count" if static else "with the assignment's checks"
    print(f"grading the same model through the sandbox {what}: {per:.2f} s per submission (1 worker, warm pool)",
          flush=True)
    return per


def gradescope(copies: int) -> float:
    """Seconds per submission grading `copies` of the reference solution as Gradescope does: the
    autograder bundle's run_autograder once per submission (a fresh process, and so one TensorFlow
    import and one sandbox start, per submission, as in Gradescope's container per submission)."""
    import subprocess
    import zipfile

    from modelcheck.grading.gradescope import write_bundle

    with tempfile.TemporaryDirectory() as work:
        bundle = write_bundle(ASSIGNMENT, Path(work) / "autograder.zip")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the bundled modelcheck only
        env["MODELCHECK_PYTHON"] = sys.executable
        seconds = []
        for i in range(copies + 1):  # the first run warms the file cache: not counted
            root = Path(work) / f"autograder_{i}"
            with zipfile.ZipFile(bundle) as archive:
                archive.extractall(root / "source")
            (root / "source" / "run_autograder").chmod(0o755)
            (root / "submission").mkdir(parents=True)
            shutil.copy(REFERENCE, root / "submission" / "student.py")
            env["MODELCHECK_AUTOGRADER_ROOT"] = str(root)
            start = time.perf_counter()
            done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                                  check=False)
            took = time.perf_counter() - start
            if done.returncode != 0 or '"score": 10.0' not in (root / "results" / "results.json").read_text():
                raise SystemExit(f"run_autograder failed:\n{done.stderr[-2000:]}")
            if i:
                seconds.append(took)
    per = sum(seconds) / len(seconds)
    print(f"grading the same model as Gradescope does (run_autograder per submission): {per:.2f} s per submission",
          flush=True)
    return per


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def without_snapshot(report) -> tuple[int, int]:
    """(caught, judged) counting only the declared checks: a mutant the snapshot alone caught survives."""
    from modelcheck.mutants.run import ARCHITECTURE

    judged = report.judged
    return sum(1 for m in judged if set(m.caught_by) - {ARCHITECTURE}), len(judged)


def references(ids: list[str]) -> None:
    from collections import Counter

    from modelcheck.mutants.run import run_mutants
    from modelcheck.snapshot import snapshot_path
    from reference_models import catalog

    entries = [e for e in catalog(references_only=True) if not ids or e.id in ids]
    rows, survived_by = [], Counter()
    caught = total = 0
    print(f"reference models ({len(entries)}), {_load()}", flush=True)
    for entry in entries:
        snapshot = snapshot_path(ROOT / "reference_models", entry.id)
        report = run_mutants(entry.spec, seed=0, snapshot=snapshot)
        if report.score is None:
            print(f"{entry.id}: no mutants ({report.not_mutable or 'no operator applies'})", flush=True)
            continue
        caught, total = caught + len(report.caught), total + len(report.judged)
        plain = without_snapshot(report)
        rows.append((entry.id, report.score, len(report.caught), len(report.judged), plain[0] / plain[1],
                     report.seconds_per_mutant))
        print(f"{entry.id}: {100 * report.score:.0f}% ({len(report.caught)}/{len(report.judged)}); without the "
              f"snapshot {100 * plain[0] / plain[1]:.0f}% ({plain[0]}/{plain[1]}); {len(report.equivalent)} "
              f"equivalent, {len(report.invalid)} invalid dropped; {report.seconds_per_mutant:.2f} s per mutant",
              flush=True)
        for m in report.survivors:
            survived_by[m.operator] += 1
            print(f"    survived: {m.description} at {m.where}", flush=True)
    print("\n| model | score | caught / mutants | without the snapshot | s per mutant |\n|---|---|---|---|---|")
    for model, score, got, judged, plain, per in rows:
        print(f"| {model} | {100 * score:.0f}% | {got}/{judged} | {100 * plain:.0f}% | {per:.2f} |")
    if rows:
        lowest = min(rows, key=lambda row: row[1])
        print(f"\nlowest: {lowest[0]} {100 * lowest[1]:.0f}%; survivors per operator: "
              + (", ".join(f"{op} {n}" for op, n in survived_by.most_common()) or "none"))
    print(f"reference models: mutation score {100 * caught / max(total, 1):.1f}% ({caught}/{total}), {_load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", nargs="*", metavar="ID", default=None)
    parser.add_argument("--grading", type=int, default=0, metavar="N")
    parser.add_argument("--gradescope", type=int, default=0, metavar="N")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    print(_load(), flush=True)
    per_mutant = fashion(args.workers)
    if args.grading:
        per_submission = grading(args.grading)
        print(f"ratio: grading / mutants = {per_submission / per_mutant:.1f}x, {_load()}")
        floor = grading(args.grading, static=True)
        checks = max(per_submission - floor, 1e-9)
        print(f"the training checks cost a submission {checks:.2f} s; a mutant runs the same checks, so unless "
              f"mutants share that work the ratio is at most {per_submission / checks:.1f}x", flush=True)
    if args.gradescope:
        per_submission = gradescope(args.gradescope)
        print(f"ratio: Gradescope grading / mutants = {per_submission / per_mutant:.1f}x, {_load()}", flush=True)
    if args.references is not None:
        references(args.references)


if __name__ == "__main__":
    main()
