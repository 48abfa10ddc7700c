"""How often each training check passes over many seeds: on every reference model (the
target is every seed) and on the broken models of the core tests (the target is none).

    python benchmarks/seed_robustness.py                  # 20 seeds, Markdown tables for README.md
    python benchmarks/seed_robustness.py --seeds 5 --models fashion_mlp toy_linear

Each seed rebuilds the model from its builder, so the initial weights, the synthetic batch and
the training order all change. The margin is `modelcheck.session.robustness.margin`: how far a seed
was from the check's threshold (positive: passed with room; negative: missed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # reference_models and tests.models

import keras  # noqa: E402
from keras import layers  # noqa: E402

from modelcheck.session.robustness import over_seeds  # noqa: E402

TRAINING_CHECKS = ("overfit_batch", "loss_decrease", "learns_linear")


def _broken_models() -> list[tuple[str, str, Callable[[], keras.Model], dict[str, Any]]]:
    """(label, check, builder, check options) for the broken models of the core tests."""
    from tests import models

    def frozen_output() -> keras.Model:
        return keras.Sequential([keras.Input((6,)), layers.Dense(4, activation="softmax", trainable=False)])

    def exploding_sgd() -> keras.Model:
        model = models.small_classifier(activation=None)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e6), loss="mse")
        return model

    return [
        ("frozen output layer", "overfit_batch", frozen_output, {"max_steps": 40}),
        ("NaN in a kernel", "overfit_batch", models.nan_weights, {}),
        ("all-zero hidden kernels", "overfit_batch", models.zero_initialised, {}),
        ("stop_gradient after the hidden layer", "overfit_batch", models.stop_gradient_lambda, {}),
        ("hidden layer frozen", "overfit_batch", models.frozen_hidden, {}),
        ("SGD learning rate 1e6", "loss_decrease", exploding_sgd, {"steps": 30}),
        ("frozen output layer", "loss_decrease", frozen_output, {}),
        ("all-zero hidden kernels", "loss_decrease", models.zero_initialised, {}),
        ("ReLU on the output", "learns_linear", lambda: models.toy(activation="relu"), {}),
        ("no bias", "learns_linear", lambda: models.toy(use_bias=False), {}),
        ("learning rate 1.0", "learns_linear", models.toy, {"learning_rate": 1.0}),
    ]


def _row(label: str, check: str, seeds: int, run: Callable[[], Any]) -> str:
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    details = result.details
    worst, median = details.get("worst_margin"), details.get("median_margin")
    errors = sum(1 for row in details.get("per_seed", []) if row["status"] == "error")
    note = f" ({errors} errors)" if errors else ""
    fmt = (lambda v: "n/a" if v is None else f"{v:+.3g}")
    keras.backend.clear_session()
    return (f"| {label} | {check} | {details.get('passes', 0)}/{seeds}{note} | {fmt(worst)} | {fmt(median)} | "
            f"{seconds:.0f} s |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Pass rates of the training checks over many seeds")
    parser.add_argument("--seeds", type=int, default=20, help="Number of seeds per model and check")
    parser.add_argument("--models", nargs="*", help="Reference model ids (default: every reference model)")
    parser.add_argument("--no-broken", action="store_true", help="Skip the broken models")
    args = parser.parse_args(argv)

    from reference_models import catalog

    header = "| model | check | passes | worst margin | median margin | time |\n|---|---|---|---|---|---|"
    print(f"Reference models ({args.seeds} seeds; target: every seed passes)\n\n{header}", flush=True)
    for entry in catalog(references_only=True):
        if args.models and entry.id not in args.models:
            continue
        for check in (c for c in entry.spec.checks or () if c in TRAINING_CHECKS):
            print(_row(entry.id, check, args.seeds, lambda: over_seeds(check, entry.spec, seeds=args.seeds,
                                                                       min_passes=args.seeds)), flush=True)
    if args.no_broken:
        return
    print(f"\nBroken models of the core tests ({args.seeds} seeds; target: no seed passes)\n\n{header}", flush=True)
    for label, check, builder, options in _broken_models():
        print(_row(label, check, args.seeds, lambda: over_seeds(check, builder, seeds=args.seeds, min_passes=1,
                                                                **options)), flush=True)


if __name__ == "__main__":
    main()
