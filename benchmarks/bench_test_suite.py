"""Time the project's own tests, ``python -m pytest -n 2``, as README's set-up step 2 runs them.

    python benchmarks/bench_test_suite.py

Takes about ten minutes on 2 cores. Prints the wall time and the outcome counts.
"""

from __future__ import annotations

from _pytest_run import describe, run_pytest

if __name__ == "__main__":
    seconds, counts = run_pytest("-n", "2")
    print(f"python -m pytest -n 2: {seconds / 60:.1f} min ({seconds:.0f} s); {describe(counts)}")
