"""The TensorFlow adapter: `tf.GradientTape`."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from . import LossFn, ScalarsFn
from ._common import aux_to_numpy, to_numpy, with_model_losses

__all__ = ["ADAPTER", "TensorFlowAdapter"]


class TensorFlowAdapter:
    """Gradients with `tf.GradientTape` (None for a variable the loss does not reach)."""

    name = "tensorflow"
    to_numpy = staticmethod(to_numpy)

    def gradients(self, model: Any, loss_fn: LossFn, x: Any, y: Any) -> tuple[float, list[np.ndarray | None]]:
        variables = model.trainable_variables
        with tf.GradientTape() as tape:
            loss = with_model_losses(loss_fn(y, model(x, training=True)), model.losses)
        grads = tape.gradient(loss, variables)
        return float(loss), [None if g is None else to_numpy(tf.convert_to_tensor(g)) for g in grads]

    def input_gradients(self, fn: ScalarsFn, inputs: Sequence[np.ndarray],
                        wrt: Sequence[int]) -> tuple[Any, list[list[np.ndarray | None]]]:
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


ADAPTER = TensorFlowAdapter()
