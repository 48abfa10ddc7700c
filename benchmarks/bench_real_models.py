"""Every default check on real-size models, against ``model.fit`` for the same steps.

    python benchmarks/bench_real_models.py [--models MobileNetV2,ResNet50] [--size 224] [--jit]

For each model (``keras.applications`` with ``weights=None``, compiled with Adam and sparse
categorical cross-entropy, and the Fashion-MNIST MLP of document 003): builds it once, runs every
default check in one `ModelSession` (as ``pytest --modelcheck`` does) and prints each check's time,
status and, for the training checks, steps and tracing time; then the total; then, in the same
process, ``model.fit`` on the same batch of 8 for as many steps as the training checks took
together (fit traces its own step once, as the checks share theirs). ``--jit`` compiles the step
loop with XLA (spec key ``jit_compile``) to compare.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from modelcheck.checks.common import prepare_batch  # noqa: E402
from modelcheck.core.registry import applicable_checks  # noqa: E402
from modelcheck.core.spec import ModelSpec  # noqa: E402
from modelcheck.session.runner import ModelSession  # noqa: E402

APPLICATIONS = ("MobileNetV2", "ResNet50", "EfficientNetB0", "DenseNet121")


def fashion_mlp() -> keras.Model:
    model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(300, activation="relu"),
                              layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def application(name: str, size: int):  # type: ignore[no-untyped-def]
    def build() -> keras.Model:
        model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    build.__name__ = name
    return build


def bench(name: str, builder, jit: bool) -> dict:  # type: ignore[no-untyped-def]
    keras.backend.clear_session()
    spec = ModelSpec(id=name, builder=builder, jit_compile=jit)
    rows, total, steps = [], 0.0, 0
    start = time.perf_counter()
    with ModelSession(spec, seed=0) as session:
        for check in applicable_checks(spec):
            began = time.perf_counter()
            result = session.run(check)
            took = time.perf_counter() - began
            total += took
            details = result.details
            extra = ""
            if "steps" in details:
                steps += int(details["steps"])
                extra = f", {details['steps']} steps, {details.get('tracing_s', 0):.1f} s tracing"
            rows.append((check, took, result.status, extra))
            print(f"  {name:>15} {check:<20} {took:7.2f} s  {result.status}{extra}", flush=True)
        model = session.model()
        batch = prepare_batch("overfit_batch", model, batch_size=8, seed=0, fittable=True)
        training = sum(t for c, t, _, e in rows if e)
        fit_s = None
        if steps:
            began = time.perf_counter()
            model.fit(batch.x, batch.targets[0], epochs=steps, batch_size=8, verbose=0)
            fit_s = time.perf_counter() - began
    wall = time.perf_counter() - start
    fit_text = f"model.fit {steps} steps {fit_s:.1f} s" if fit_s is not None else "no training steps"
    print(f"{name}: every default check {total:.1f} s (wall {wall:.1f} s incl. fit); training checks "
          f"{training:.1f} s for {steps} steps; {fit_text}", flush=True)
    return {"model": name, "total": total, "training": training, "steps": steps, "fit": fit_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(APPLICATIONS) + ",fashion_mlp")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--jit", action="store_true", help="compile the step loop with XLA")
    args = parser.parse_args()
    summary = []
    for name in args.models.split(","):
        builder = fashion_mlp if name == "fashion_mlp" else application(name, args.size)
        summary.append(bench(name, builder, args.jit))
    print("\n| model | every default check | training checks (steps) | model.fit, same steps |")
    print("|---|---|---|---|")
    for row in summary:
        fit = f"{row['fit']:.1f} s" if row["fit"] is not None else "-"
        print(f"| {row['model']} | {row['total']:.1f} s | {row['training']:.1f} s ({row['steps']}) | {fit} |")


if __name__ == "__main__":
    main()
