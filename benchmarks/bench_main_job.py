"""Time the main job, ``pytest --modelcheck reference_models``, serial and on 2 workers.

    python benchmarks/bench_main_job.py

Prints, for each run, the wall time (Python start-up, TensorFlow import and collection included)
and the split of outcomes: the reference models' checks pass, checks that do not apply are
skipped, and each check of a variant kept as a document printed it is an expected failure.
"""

from __future__ import annotations

import sys

from _pytest_run import ROOT, describe, run_pytest

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from reference_models import ids

    print(f"reference_models: {len(ids())} catalogue entries")
    for label, extra in (("serial", ()), ("-n 2", ("-n", "2"))):
        seconds, counts = run_pytest("--modelcheck", "reference_models", *extra)
        print(f"pytest --modelcheck reference_models ({label}): {seconds:.0f} s; {describe(counts)}")
