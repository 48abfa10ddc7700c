"""The one training engine every training-based check shares.

The step loop runs inside one compiled function (a ``tf.function`` whose body is a
``tf.range`` loop), run in chunks so that early stopping, step budgets and timeouts are
checked between chunks without per-epoch ``model.fit`` overhead. The model's weights (and
its optimizer, which is never touched: a fresh copy is used) are restored afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from ..core.errors import call_user_code
from .objective import Objective

__all__ = ["TrainingRun", "preserved_weights", "fresh_optimizer", "train", "StopRule"]

StopRule = Callable[["TrainingRun"], bool]

# Chunk sizes grow so a model that stops early pays little, and a long run re-checks its
# budget and clock often enough; one trace serves every chunk size.
_FIRST_CHUNK = 10
_MAX_CHUNK = 100


@dataclass
class TrainingRun:
    """What happened during training.

    Attributes:
        losses: the loss at every step (before that step's update).
        steps: the number of update steps run.
        stopped: why it ended: ``"converged"`` (the stop rule held), ``"budget"`` (max steps),
            ``"timeout"``, or ``"non_finite"`` (the loss became NaN/Inf).
        seconds: wall time, tracing included.
        optimizer: a description of the optimizer used.
    """

    losses: list[float] = field(default_factory=list)
    steps: int = 0
    stopped: str = "budget"
    seconds: float = 0.0
    optimizer: str = ""

    @property
    def final_loss(self) -> float:
        return self.losses[-1] if self.losses else float("nan")


@contextlib.contextmanager
def preserved_weights(model: keras.Model) -> Iterator[None]:
    """Restore every variable of `model` (weights, statistics, seed states) on exit, so a
    check never leaves the user's model changed."""
    saved = [(variable, keras.ops.convert_to_numpy(variable)) for variable in model.variables]
    try:
        yield
    finally:
        for variable, value in saved:
            variable.assign(value)


def _describe_optimizer(optimizer: keras.optimizers.Optimizer) -> str:
    rate = optimizer.learning_rate
    try:
        rate = float(keras.ops.convert_to_numpy(rate))
        return f"{type(optimizer).__name__}(learning_rate={rate:g})"
    except (TypeError, ValueError):
        return type(optimizer).__name__


def fresh_optimizer(model: keras.Model, *, default: str = "adam", learning_rate: float | None = None,
                    use_compiled: bool = True) -> keras.optimizers.Optimizer:
    """A new optimizer like the model's compiled one (same class and settings, fresh state),
    or `default` when the model is not compiled; `learning_rate` overrides the rate."""
    compiled = getattr(model, "optimizer", None) if use_compiled else None
    if isinstance(compiled, keras.optimizers.Optimizer):
        config = compiled.get_config()
        if learning_rate is not None:
            config["learning_rate"] = learning_rate
        return type(compiled).from_config(config)
    optimizer = keras.optimizers.get(default)
    if learning_rate is not None:
        optimizer.learning_rate = learning_rate
    return optimizer


@contextlib.contextmanager
def _quiet_retracing() -> Iterator[None]:
    """Each training check traces its own loop (a fresh optimizer means new state), which
    TensorFlow's logger reports as "triggered tf.function retracing" after five checks."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)


def _make_loop(model: keras.Model, objective: Objective, optimizer: keras.optimizers.Optimizer) -> Any:
    variables = model.trainable_variables
    optimizer.build(variables)

    def step(i: tf.Tensor, losses: tf.TensorArray, x: Any, y: Any) -> tuple[tf.Tensor, tf.TensorArray]:
        with tf.GradientTape() as tape:
            predictions = keras.tree.flatten(model(x, training=True))
            loss = objective.total(y, predictions)
            if model.losses:
                loss = loss + tf.add_n([tf.cast(l, tf.float32) for l in model.losses])
        grads = tape.gradient(loss, variables)
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
        optimizer.apply(grads, variables)
        return i + 1, losses.write(i, loss)

    # An explicit while_loop with autograph off: converting a Python loop (and the Keras code it
    # calls) with AutoGraph costs more than the 500 steps of the toy model themselves.
    @tf.function(reduce_retracing=True, autograph=False)
    def loop(x: Any, y: Any, steps: tf.Tensor) -> tf.Tensor:
        losses = tf.TensorArray(tf.float32, size=steps)
        _, losses = tf.while_loop(lambda i, _: i < steps, lambda i, acc: step(i, acc, x, y),
                                  (tf.constant(0), losses))
        return losses.stack()

    return loop


def train(
    model: keras.Model,
    x: Any,
    y: list[np.ndarray],
    objective: Objective,
    optimizer: keras.optimizers.Optimizer,
    *,
    max_steps: int,
    stop: StopRule | None = None,
    timeout_s: float | None = None,
) -> TrainingRun:
    """Train `model` on the batch (`x`, `y`) for at most `max_steps` full-batch steps.

    `stop` is asked between chunks whether to end early. The caller restores the weights
    (see `preserved_weights`). Errors raised by the user's layers become `UserCodeError`.
    """
    run = TrainingRun(optimizer=_describe_optimizer(optimizer))
    start = time.perf_counter()
    loop = _make_loop(model, objective, optimizer)
    x_t = keras.tree.map_structure(tf.convert_to_tensor, x)
    y_t = [tf.convert_to_tensor(t) for t in y]
    chunk = _FIRST_CHUNK
    while run.steps < max_steps:
        n = min(chunk, max_steps - run.steps)
        with _quiet_retracing():
            losses = call_user_code("training the model", loop, x_t, y_t, tf.constant(n))
        values = [float(v) for v in losses.numpy()]
        run.losses.extend(values)
        run.steps += n
        run.seconds = time.perf_counter() - start
        if not all(math.isfinite(v) for v in values):
            run.stopped = "non_finite"
            break
        if stop is not None and stop(run):
            run.stopped = "converged"
            break
        if timeout_s is not None and run.seconds > timeout_s:
            run.stopped = "timeout"
            break
        chunk = min(chunk * 2, _MAX_CHUNK)
    else:
        run.stopped = "budget"
    run.seconds = time.perf_counter() - start
    return run
