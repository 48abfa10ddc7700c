"""The TensorFlow adapter: `tf.GradientTape`, and the step loop as one ``tf.function`` whose
body is an explicit ``tf.while_loop``."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from . import LossFn, OwnLoop, ScalarsFn, StepLoop
from ..state import reset_states, stateful_layers
from ._common import aux_to_numpy, loss_of, to_numpy, with_model_losses

__all__ = ["ADAPTER", "TensorFlowAdapter"]


def _any_batch(value: tf.Tensor) -> tf.TensorSpec:
    """The spec of `value` with any batch size, so batches of 8 and 32 share one trace."""
    shape = value.shape
    return tf.TensorSpec(shape if shape.rank in (None, 0) else (None, *shape[1:]), value.dtype)


@contextlib.contextmanager
def without_graph_rewrites() -> Iterator[None]:
    """Run the step loop without Grappler, TensorFlow's graph rewriting, on this thread only.

    Grappler optimises a function's graph the first time it runs: for the step loop that took
    40% of tracing a small model (45 of 110 ms) and 60% of ResNet50's (3.8 of 6.4 s), and the
    steps ran no faster for it on CPU (benchmarks/bench_trace.py). The config is the thread's
    function-call options, set for our calls and put back after, so the user's own functions and
    the global ``tf.config.optimizer`` settings are untouched. The loop must always run under
    it: TensorFlow instantiates a function again for each config it is called with.
    """
    from tensorflow.python.eager import context

    ctx = context.context()
    try:
        previous = ctx.function_call_options
        config = tf.compat.v1.ConfigProto.FromString(previous.config_proto_serialized)
        config.graph_options.rewrite_options.disable_meta_optimizer = True
        ctx.function_call_options = context.FunctionCallOptions(previous.executor_type, config)
    except AttributeError:  # a TensorFlow without these internals: run as configured
        yield
        return
    try:
        yield
    finally:
        ctx.function_call_options = previous


class TensorFlowAdapter:
    """Gradients with `tf.GradientTape` (None for a variable the loss does not reach)."""

    name = "tensorflow"
    traces = True
    to_numpy = staticmethod(to_numpy)
    train_step_arguments = ("data",)

    def gradients(self, model: Any, loss_fn: LossFn, x: Any, y: Any) -> tuple[float, list[np.ndarray | None]]:
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            loss = with_model_losses(loss_fn(y, model(x, training=True)), model.losses)
        grads = tape.gradient(loss, variables)
        return float(loss), [None if g is None else to_numpy(tf.convert_to_tensor(g)) for g in grads]

    def input_gradients(self, fn: ScalarsFn, inputs: Sequence[np.ndarray], wrt: Sequence[int],
                        model: Any = None) -> tuple[Any, list[list[np.ndarray | None]]]:
        tensors = [tf.convert_to_tensor(a) for a in inputs]
        with tf.GradientTape(persistent=True) as tape:
            for k in wrt:
                tape.watch(tensors[k])
            scalars, aux = fn(tensors)
        watched = [tensors[k] for k in wrt]
        grads = [[None if g is None else to_numpy(g) for g in tape.gradient(s, watched)] if watched else []
                 for s in scalars]
        del tape
        return aux_to_numpy(aux), grads

    def make_loop(self, model: Any, objective: Any, optimizer: Any, x: Any, y: Any,
                  on_trace: Callable[[], None], jit_compile: bool = False) -> StepLoop:
        variables = model.trainable_variables
        stateful = stateful_layers(model)

        def step(i: tf.Tensor, losses: tf.TensorArray, x: Any, y: Any) -> tuple[tf.Tensor, tf.TensorArray]:
            reset_states(model, stateful)  # each step memorises the batch from a fresh model's state
            with tf.GradientTape() as tape:
                predictions = keras.tree.flatten(model(x, training=True))
                loss = objective.total(y, predictions)
                if model.losses:
                    loss = loss + tf.add_n([tf.cast(l, tf.float32) for l in model.losses])
                # a LossScaleOptimizer (mixed precision) divides the gradients by its scale: scale the
                # loss by it first, as Keras' own train_step does, or every update is 32,768x too small
                scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, variables)
            grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables)]
            optimizer.apply(grads, variables)
            return i + 1, losses.write(i, loss)

        # An explicit while_loop with autograph off: converting a Python loop (and the Keras code it
        # calls) with AutoGraph costs more than the 500 steps of the toy model themselves.
        signature = [keras.tree.map_structure(_any_batch, x), [_any_batch(t) for t in y], tf.TensorSpec([], tf.int32)]

        @tf.function(input_signature=signature, autograph=False, jit_compile=jit_compile)
        def loop(x: Any, y: Any, steps: tf.Tensor) -> tf.Tensor:
            on_trace()
            losses = tf.TensorArray(tf.float32, size=steps)
            _, losses = tf.while_loop(lambda i, _: i < steps, lambda i, acc: step(i, acc, x, y),
                                      (tf.constant(0), losses))
            return losses.stack()

        def run(x: Any, y: Any, steps: int) -> np.ndarray:
            with without_graph_rewrites():
                return loop(x, y, tf.constant(steps)).numpy()

        run.compiled = loop  # type: ignore[attr-defined]
        return run

    def loop_key(self, x: Any, y: Any) -> Any:
        return ()  # the loop's signature takes any batch size

    def own_loop(self, model: Any, data: Any, on_missing: Callable[[Any], None] | None = None) -> OwnLoop:
        def step(i: tf.Tensor, losses: tf.TensorArray) -> tuple[tf.Tensor, tf.TensorArray]:
            for metric in model.metrics:
                metric.reset_state()
            return i + 1, losses.write(i, loss_of(model.train_step(data), on_missing))

        @tf.function(reduce_retracing=True, autograph=False)
        def loop(steps: tf.Tensor) -> tf.Tensor:
            losses = tf.TensorArray(tf.float32, size=steps)
            _, losses = tf.while_loop(lambda i, _: i < steps, step, (tf.constant(0), losses))
            return losses.stack()

        def run(steps: int) -> np.ndarray:
            with without_graph_rewrites():
                return loop(tf.constant(steps)).numpy()

        return run


ADAPTER = TensorFlowAdapter()
