"""Submissions graded per minute, every isolation mechanism the host has on, for the chapter-10 Fashion-MNIST assignment.

    python benchmarks/bench_grading.py [--students 30] [--workers 2]

Writes a class of synthetic submissions (mostly correct, some with 200 units, some broken),
grades them with the warm zygote pool exactly as ``modelcheck grade`` does, and prints the
rate. For comparison it times what every submission would pay without the warm pool: a fresh
``import tensorflow, keras`` per process (two processes per submission: build and check).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "tests" / "submissions" / "fashion.toml"

TEMPLATE = '''import keras
from keras import layers


def build_model():
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense({units}, activation="relu"),
        layers.Dense(100, activation="relu"),
        layers.Dense(10, activation="{last}"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model
'''


def write_class(folder: Path, students: int) -> None:
    """A class: 70 % correct, 20 % with 200 units, 10 % that do not build."""
    for i in range(students):
        kind = i % 10
        if kind < 7:
            text = TEMPLATE.format(units=300, last="softmax")
        elif kind < 9:
            text = TEMPLATE.format(units=200, last="softmax")
        else:
            text = TEMPLATE.format(units=300, last="softmax").replace("layers.Dense(100", "layers.Dense(output_dim=100")
        (folder / f"student_{i:03d}.py").write_text(text)


def cpu_seconds(zygote_pid: int) -> float:
    """CPU used so far by this process and by the zygote with every job process it reaped
    (each nanny waits for its job, the zygote for each nanny, so ``cutime`` holds them all)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    with open(f"/proc/{zygote_pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return own.ru_utime + own.ru_stime + ticks / os.sysconf("SC_CLK_TCK")


def fresh_import_seconds() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import tensorflow, keras"], check=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from modelcheck.grading import Grader, discover_submissions, load_assignment, write_outputs

    assignment = load_assignment(ASSIGNMENT)
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "submissions", Path(tmp) / "out"
        folder.mkdir()
        write_class(folder, args.students)
        started = time.monotonic()
        with Grader(assignment, workers=args.workers) as grader:
            isolation = grader.describe_isolation()
            warm = time.monotonic()
            cpu_before = cpu_seconds(grader.pool._process.pid)
            grades = grader.grade_all(discover_submissions(folder))
            graded = time.monotonic()
            time.sleep(1.0)  # let the zygote reap the last nannies
            cpu = cpu_seconds(grader.pool._process.pid) - cpu_before
        write_outputs(grades, assignment, out)
        finished = time.monotonic()
    scores = sorted({g.score for g in grades})
    steady = len(grades) / (graded - warm) * 60
    overall = len(grades) / (finished - started) * 60
    per_submission = sorted(g.execution_time for g in grades)
    print(f"{len(grades)} submissions, {args.workers} workers, {os.cpu_count()} CPUs; scores seen: {scores}")
    print(isolation)
    print(f"zygote start (one TensorFlow import): {warm - started:.1f} s")
    print(f"grading: {graded - warm:.1f} s -> {steady:.1f} submissions/minute (warm pool)")
    print(f"overall, with the zygote start and writing outputs: {finished - started:.1f} s -> {overall:.1f}/minute")
    print(f"per submission (build + check, wall): median {per_submission[len(per_submission) // 2]:.2f} s, "
          f"max {per_submission[-1]:.2f} s")
    cores = os.cpu_count() or 1
    print(f"CPU per submission (grader + build + check processes): {cpu / len(grades):.2f} s -> on {cores} "
          f"otherwise idle CPUs: {cores * 60 / (cpu / len(grades)):.1f} submissions/minute")
    with open("/proc/loadavg") as load:
        print(f"(load average during the run, other users included: {load.read().split()[0]})")
    cold = fresh_import_seconds()
    print(f"a fresh `import tensorflow, keras` takes {cold:.1f} s; two per submission (build, check) would add "
          f"{2 * cold:.1f} s of CPU to each")


if __name__ == "__main__":
    main()
