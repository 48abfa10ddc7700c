"""Tracing the training engine's step loop with and without Grappler (TensorFlow's graph rewriting).

    python benchmarks/bench_trace.py [--models mlp,cnn,resnet50] [--steps 20]

For each model (the Fashion-MNIST MLP, a small CNN on 32x32x3, ResNet50 at 64x64 with
``weights=None``), in a fresh process per setting: builds the step loop the checks train with
(`modelcheck.model.backend.tensorflow`), times its first call (tracing, graph optimisation and one
Adam step on a batch of 8) and then one step, averaged over `--steps` calls; once with TensorFlow's
defaults and once under `without_graph_rewrites()`, which the engine uses.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
MODELS = ("mlp", "cnn", "resnet50")


def _model(name: str) -> tuple[Any, tuple[int, ...]]:
    import keras
    from keras import layers

    if name == "mlp":
        model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(300, activation="relu"),
                                  layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])
        return model, (28, 28)
    if name == "cnn":
        model = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
                                  layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
                                  layers.Conv2D(64, 3, activation="relu"), layers.Flatten(),
                                  layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
        return model, (32, 32, 3)
    return keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10), (64, 64, 3)


def measure(name: str, rewrites: bool, steps: int) -> tuple[float, float]:
    """(first call, one step) in seconds, in this process."""
    import contextlib

    import keras
    import numpy as np
    import tensorflow as tf

    from modelcheck.model.backend.tensorflow import ADAPTER, without_graph_rewrites
    from modelcheck.model.objective import objective_for

    keras.utils.set_random_seed(0)
    model, shape = _model(name)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    x = tf.constant(np.random.default_rng(0).random((8, *shape), dtype="float32"))
    y = [tf.constant(np.arange(8) % 10)]
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    loop = ADAPTER.make_loop(model, objective_for(model, [model(x)]), optimizer, x, y, lambda: None)
    compiled = loop.compiled  # type: ignore[attr-defined]
    scope = contextlib.nullcontext if rewrites else without_graph_rewrites
    steps_t = tf.constant(1)

    def call() -> None:
        with scope():
            compiled(x, y, steps_t).numpy()

    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    call()
    start = time.perf_counter()
    for _ in range(steps):
        call()
    return first, (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "REWRITES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        first, step = measure(args.one[0], args.one[1] == "on", args.steps)
        print(f"{first} {step}")
        return
    print("| model | first call, Grappler on | off | one step, on | off |\n|---|---|---|---|---|")
    for name in args.models.split(","):
        figures = []
        for setting in ("on", "off"):
            out = subprocess.run([sys.executable, __file__, "--one", name, setting, "--steps", str(args.steps)],
                                 capture_output=True, text=True, check=True).stdout.split()
            figures.append((float(out[-2]), float(out[-1])))
        (first_on, step_on), (first_off, step_off) = figures
        print(f"| {name} | {first_on:.3f} s | {first_off:.3f} s | {1000 * step_on:.1f} ms | {1000 * step_off:.1f} ms |",
              flush=True)


if __name__ == "__main__":
    main()
