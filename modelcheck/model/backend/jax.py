"""The JAX adapter: `jax.value_and_grad` over `model.stateless_call`, `jax.vjp` for inputs.

JAX has no notion of a variable the loss does not reach: it gives such a variable zeros. The
adapter finds those from the jaxpr and returns None, as TensorFlow and PyTorch do.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from jax.extend.core import Var
import numpy as np

from . import LossFn, ScalarsFn
from ._common import aux_to_numpy, to_numpy, with_model_losses

__all__ = ["ADAPTER", "JaxAdapter"]


def _with_unconnected(backward: Any, trainable: list[Any]) -> tuple[Any, list[Any], list[bool]]:
    """Run `backward` through its jaxpr, and tell which gradients depend on no input at all:
    those of variables the loss does not reach, which JAX fills with zeros where TensorFlow and
    PyTorch say None (dependence is over-approximated: any equation fed by an input counts)."""
    closed, shape = jax.make_jaxpr(backward, return_shape=True)(trainable)
    jaxpr = closed.jaxpr
    dependent = set(jaxpr.invars)
    for equation in jaxpr.eqns:
        if any(isinstance(v, Var) and v in dependent for v in equation.invars):
            dependent.update(equation.outvars)
    flat = jax.core.eval_jaxpr(jaxpr, closed.consts, *jax.tree_util.tree_leaves(trainable))
    (loss, updated), grads = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shape), flat)
    outs = jaxpr.outvars[len(jaxpr.outvars) - len(grads):]
    return (loss, updated), grads, [not (isinstance(v, Var) and v in dependent) for v in outs]


class JaxAdapter:
    """Gradients through Keras' stateless call, so no variable is touched while tracing."""

    name = "jax"
    to_numpy = staticmethod(to_numpy)

    def gradients(self, model: Any, loss_fn: LossFn, x: Any, y: Any) -> tuple[float, list[np.ndarray | None]]:
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def compute(values: list[Any]) -> tuple[Any, list[Any]]:
            outputs, updated, losses = model.stateless_call(values, non_trainable, x, training=True,
                                                            return_losses=True)
            return with_model_losses(loss_fn(y, outputs), losses), updated

        backward = jax.value_and_grad(compute, has_aux=True)
        try:
            (loss, updated), grads, unconnected = _with_unconnected(backward, trainable)
        except Exception:  # a model that cannot be staged (Python branching on values): run it eagerly
            (loss, updated), grads = backward(trainable)
            unconnected = [False] * len(grads)
        # a training-mode call updates BatchNormalization's moving statistics, as on the other backends
        for variable, value in zip(model.non_trainable_variables, updated):
            variable.assign(value)
        return float(loss), [None if cut and not np.any(to_numpy(grad)) else to_numpy(grad)
                             for grad, cut in zip(grads, unconnected)]

    def input_gradients(self, fn: ScalarsFn, inputs: Sequence[np.ndarray],
                        wrt: Sequence[int]) -> tuple[Any, list[list[np.ndarray | None]]]:
        tensors = [jnp.asarray(a) for a in inputs]
        if not wrt:
            scalars, aux = fn(tensors)
            return aux_to_numpy(aux), [[] for _ in scalars]

        def scalars_of(*watched: Any) -> tuple[list[Any], Any]:
            current = list(tensors)
            for k, value in zip(wrt, watched):
                current[k] = value
            scalars, aux = fn(current)
            return [jnp.asarray(s, dtype=jnp.float32) for s in scalars], aux

        values, pull_back, aux = jax.vjp(scalars_of, *[tensors[k] for k in wrt], has_aux=True)
        grads = []
        for s in range(len(values)):
            cotangent = [jnp.ones_like(v) if j == s else jnp.zeros_like(v) for j, v in enumerate(values)]
            grads.append([to_numpy(g) for g in pull_back(cotangent)])
        return aux_to_numpy(aux), grads


ADAPTER = JaxAdapter()
