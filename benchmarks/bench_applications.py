"""The keras.applications sweep as CI runs it, and the time per model.

    python benchmarks/bench_applications.py [--workers 2] [-k EXPR]

Runs ``python -m pytest -n 2 -m applications tests/realworld`` (every builder keras.applications
exports, ``weights=None``: param_count at the default input size against the documented figure,
counted inside ``keras.StatelessScope`` before any weight is allocated; then output_shape,
gradient_flow, finite, batch_independence and input_dependence on the model built at the
smallest input size with the same count), reads each test's time from its JUnit XML and prints
the sweep's wall time, the load average before and after, any test that did not pass, and the
README's table (model, input size of the checks, static time, checks time).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def sweep(workers: int, keyword: str | None) -> tuple[float, Path, str]:
    report = Path(tempfile.mkdtemp()) / "sweep.xml"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "applications",
            f"--junitxml={report}", "tests/realworld/test_applications.py"]
    if workers > 0:
        args += ["-n", str(workers)]
    if keyword:
        args += ["-k", keyword]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    return time.perf_counter() - start, report, lines[-1] if lines else done.stderr[-2000:]


def per_model(report: Path) -> tuple[dict[str, dict[str, float]], list[str]]:
    times: dict[str, dict[str, float]] = {}
    problems = []
    for case in ET.parse(report).iter("testcase"):
        match = re.fullmatch(r"(test_\w+)\[(\w+)\]", case.get("name", ""))
        if match is None:
            continue
        test, model = match.groups()
        times.setdefault(model, {})[test] = float(case.get("time", 0.0))
        failure = case.find("failure") or case.find("error")
        if failure is not None:
            problems.append(f"{model} {test}: {(failure.get('message') or '')[:300]}")
    return times, problems


def table(times: dict[str, dict[str, float]]) -> str:
    from tests.realworld.applications import smallest_input

    rows = [(name, smallest_input(name) or 224, t.get("test_documented_param_count", 0.0),
             t.get("test_no_false_alarm", 0.0)) for name, t in sorted(times.items())]
    half = (len(rows) + 1) // 2
    cell = lambda r: f"{r[0]} ({r[1]}) | {r[2]:.1f} s | {r[3]:.1f} s"  # noqa: E731
    lines = ["| model (input) | param_count | the five checks | | model (input) | param_count | the five checks |",
             "|---|---|---|---|---|---|---|"]
    for left, right in zip(rows[:half], rows[half:] + [None]):  # type: ignore[operator]
        lines.append(f"| {cell(left)} | | {cell(right) if right else ' | | '} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (0: no xdist)")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression (default: every model)")
    args = parser.parse_args()
    print(f"load average before (1, 5, 15 min): {load()}", flush=True)
    seconds, report, summary = sweep(args.workers, args.keyword)
    print(f"sweep: {seconds / 60:.1f} min wall with {args.workers} workers: {summary}")
    print(f"load average after (1, 5, 15 min): {load()}")
    times, problems = per_model(report)
    for problem in problems:
        print("NOT PASSED:", problem)
    print(table(times))


if __name__ == "__main__":
    main()
