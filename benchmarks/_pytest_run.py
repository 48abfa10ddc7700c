"""Run pytest in a child process and read its summary line: shared by the job benchmarks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected|warnings?)")


def run_pytest(*args: str) -> tuple[float, dict[str, int]]:
    """Wall seconds of ``python -m pytest *args`` at the repository root, and its outcome counts."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {name.rstrip("s") if name.startswith("error") else name: int(n) for n, name in _COUNT.findall(summary)}
    if done.returncode not in (0, 1) or not counts:
        sys.exit(f"pytest {' '.join(args)} ended with code {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds, counts


def describe(counts: dict[str, int]) -> str:
    """'248 passed, 13 skipped, 31 xfailed' in pytest's order."""
    order = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "deselected")
    return ", ".join(f"{counts[name]} {name}" for name in order if counts.get(name))
