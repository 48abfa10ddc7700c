"""Time the documents' training recipe against modelcheck's compiled training loop.

    python benchmarks/bench_training.py [--backend jax] [--only toy]

``--backend`` picks the Keras backend (default: ``KERAS_BACKEND``, else TensorFlow); both sides
of every comparison run in the one process, on that backend.

1. Toy model y = 2x - 1 (document 002): ``model.fit(x, y, epochs=500)`` against
   ``check_learns_linear`` (500 SGD steps in one compiled loop), from the same initial
   weights; prints both times, the ratio and the difference of the learned weights.
2. Fashion-MNIST MLP (document 003): ``model.fit(epochs=200)`` on one batch of 8 against
   ``check_overfit_batch`` (which stops once the batch is memorised).
3. The same model and batch at EQUAL step counts: ``model.fit(epochs=N)`` against the training
   engine (``modelcheck.model.engine.train``) for the same N steps with no early stop, so the
   ratio shows the compiled loop alone, without the steps early stopping saves.
Each timing includes tracing; nothing is cached between the two sides.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"], help="Keras backend to run on")
_parser.add_argument("--only", choices=["toy", "overfit", "equal"], action="append", help="Run only these benchmarks")
_ARGS = _parser.parse_args() if __name__ == "__main__" else argparse.Namespace(backend=None, only=None)
if _ARGS.backend:
    os.environ["KERAS_BACKEND"] = _ARGS.backend  # read when keras is first imported, below

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

import modelcheck as mc  # noqa: E402
from modelcheck.checks.common import prepare_batch  # noqa: E402
from modelcheck.model.engine import fresh_optimizer, preserved_weights, train  # noqa: E402


def toy() -> keras.Model:
    return keras.Sequential([keras.Input((1,)), layers.Dense(1)])


def fashion() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(300, activation="relu"),
                             layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])


def bench_toy() -> tuple[float, float, float]:
    keras.utils.set_random_seed(0)
    model = toy()
    initial = model.get_weights()
    x = np.array([-1, 0, 1, 2, 3, 4], dtype="float32").reshape(-1, 1)
    y = 2 * x - 1
    model.compile(optimizer="sgd", loss="mean_squared_error")
    start = time.perf_counter()
    model.fit(x, y, epochs=500, verbose=0)
    fit_s = time.perf_counter() - start
    fit_w = [w.copy() for w in model.get_weights()]

    model.set_weights(initial)
    start = time.perf_counter()
    result = mc.check_learns_linear(model)
    check_s = time.perf_counter() - start
    difference = max(abs(fit_w[0].item() - result.details["w"]), abs(fit_w[1].item() - result.details["b"]))
    print(f"toy y = 2x - 1, 500 steps: model.fit {fit_s:.2f} s (w {fit_w[0].item():.5f}, b {fit_w[1].item():.5f}); "
          f"check_learns_linear {check_s:.3f} s ({result.message.split(' (')[0]}); "
          f"ratio {fit_s / check_s:.0f}x; weights differ by {difference:.1e}")
    return fit_s, check_s, difference


def fashion_batch() -> tuple[keras.Model, np.ndarray, np.ndarray]:
    """The compiled Fashion-MNIST MLP (seeded) and one random batch of 8 images with labels."""
    keras.utils.set_random_seed(0)
    model = fashion()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 28, 28)).astype("float32")
    y = rng.integers(0, 10, size=8)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, x, y


def bench_overfit() -> tuple[float, float]:
    model, x, y = fashion_batch()
    initial = model.get_weights()
    start = time.perf_counter()
    model.fit(x, y, epochs=200, verbose=0)
    fit_s = time.perf_counter() - start

    model.set_weights(initial)
    start = time.perf_counter()
    result = mc.check_overfit_batch(model, max_steps=200)
    check_s = time.perf_counter() - start
    print(f"Fashion-MNIST MLP, overfit one batch of 8: model.fit(epochs=200) {fit_s:.2f} s; "
          f"check_overfit_batch {check_s:.3f} s ({result.status}, {result.details['steps']} steps); "
          f"ratio {fit_s / check_s:.0f}x")
    return fit_s, check_s


def bench_equal_steps(steps: int = 200) -> tuple[float, float]:
    model, x, y = fashion_batch()
    initial = model.get_weights()
    start = time.perf_counter()
    history = model.fit(x, y, epochs=steps, batch_size=len(x), verbose=0)
    fit_s = time.perf_counter() - start

    model.set_weights(initial)
    batch = prepare_batch("overfit_batch", model, x=x, y=y)
    with preserved_weights(model):
        start = time.perf_counter()
        run = train(model, batch.x, batch.targets, batch.objective, fresh_optimizer(model), max_steps=steps)
        engine_s = time.perf_counter() - start
    print(f"Fashion-MNIST MLP, {steps} Adam steps on one batch of 8, no early stop: "
          f"model.fit(epochs={steps}) {fit_s:.2f} s (final loss {history.history['loss'][-1]:.2g}); "
          f"engine {engine_s:.3f} s ({run.steps} steps, final loss {run.final_loss:.2g}); "
          f"ratio {fit_s / engine_s:.0f}x")
    return fit_s, engine_s


if __name__ == "__main__":
    print(f"Keras backend: {keras.backend.backend()}; load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    for name, bench in (("toy", bench_toy), ("overfit", bench_overfit), ("equal", bench_equal_steps)):
        if not _ARGS.only or name in _ARGS.only:
            bench()
