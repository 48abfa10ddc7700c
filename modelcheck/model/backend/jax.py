"""The JAX adapter: `jax.value_and_grad` over the model's stateless call, `jax.vjp` for inputs, and
the step loop as one `jax.jit`-compiled `lax.fori_loop` over the model's stateless call and
`optimizer.stateless_apply` that threads every variable (weights, BatchNormalization statistics,
seed generator states, optimizer slots) through the loop and writes them back after each call.

JAX has no notion of a variable the loss does not reach: it gives such a variable zeros. The
adapter finds those from the jaxpr and returns None, as TensorFlow and PyTorch do.

A layer Keras marks as one that cannot be compiled (``supports_jit = False``: the TensorFlow-backed
preprocessing layers HashedCrossing, Hashing, StringLookup, IntegerLookup, TextVectorization) fails
on the traced arrays of a compiled loop, as it does in Keras' own ``fit`` on JAX: the model cannot
train here, and the loops say so as the user's error (`uncompilable_layer_error`), naming the layer.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from jax.extend.core import Var, jaxpr_as_fun
import keras
import numpy as np

from . import LossFn, OwnLoop, ScalarsFn, StepLoop
from ...core.errors import UserCodeError
from ...core.messages import for_audience
from ..loops import current
from ..state import reset_states
from ._common import aux_to_numpy, loss_of, to_numpy, with_model_losses
from .jax_calls import compiled_for_few_runs, run_eagerly, worth_compiling

__all__ = ["ADAPTER", "JaxAdapter", "uncompilable_layer_error"]


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
    # compiled as one XLA program: evaluating the jaxpr equation by equation compiles each op on its own
    flat = _run_once(jaxpr_as_fun(closed), jax.tree_util.tree_leaves(trainable))
    (loss, updated), grads = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shape), flat)
    outs = jaxpr.outvars[len(jaxpr.outvars) - len(grads):]
    return (loss, updated), grads, [not (isinstance(v, Var) and v in dependent) for v in outs]


def _run_once(function: Callable[..., Any], args: list[Any]) -> Any:
    """``jax.jit(function)(*args)`` for a function called once, compiled without XLA's costly passes."""
    return compiled_for_few_runs(function, args)(*args)


def _all_input_gradients(scalars_of: Callable[..., tuple[list[Any], Any]],
                         watched: list[Any]) -> tuple[Any, list[list[Any]]]:
    """(aux, the gradient of each scalar `scalars_of(*watched)` returns with respect to each of
    `watched`), by one forward pass and one pull-back per scalar."""
    values, pull_back, aux = jax.vjp(scalars_of, *watched, has_aux=True)
    grads = []
    for s in range(len(values)):
        cotangent = [jnp.ones_like(v) if j == s else jnp.zeros_like(v) for j, v in enumerate(values)]
        grads.append(list(pull_back(cotangent)))
    return aux, grads


def _compiled_input_gradients(scalars_of: Callable[..., tuple[list[Any], Any]], watched: list[Any],
                              variables: list[Any]) -> tuple[Any, list[list[Any]]]:
    """`_all_input_gradients` as one program compiled without XLA's costly passes, the model's
    variables passed in (not baked into the program as constants); what the call writes stays in
    the scope. Eagerly, each op of a large model compiles on its own at each new shape:
    MobileNetV3Small's first input gradients took 115 s on 2 busy cores, this program 20 s."""
    def run(values: list[Any], inputs: list[Any]) -> tuple[Any, list[list[Any]]]:
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return _all_input_gradients(scalars_of, inputs)

    return _run_once(run, [[v.value for v in variables], watched])


def _forward(model: Any, trainable: list[Any], non_trainable: list[Any], x: Any) -> tuple[Any, list[Any], list[Any]]:
    """``model(x, training=True)`` on the given variable values: (outputs, the updated
    non-trainable values, the model's own losses). Like ``model.stateless_call``, but through
    ``__call__``, which that skips: so training mode reaches the layers of a subclassed model whose
    ``call`` takes no ``training`` argument or does not pass it on, as on the other backends."""
    mapping = list(zip(model.trainable_variables, trainable)) + list(zip(model.non_trainable_variables, non_trainable))
    with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
        reset_states(model)  # each step starts from a fresh model's state (zeros, not traced variables)
        outputs = model(x, training=True)
        losses = model.losses
    return outputs, [scope.get_current_value(v) for v in model.non_trainable_variables], losses


class JaxAdapter:
    """Gradients through Keras' stateless call, so no variable is touched while tracing."""

    name = "jax"
    traces = True
    to_numpy = staticmethod(to_numpy)
    train_step_arguments = ("state", "data")

    def gradients(self, model: Any, loss_fn: LossFn, x: Any, y: Any) -> tuple[float, list[np.ndarray | None]]:
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def compute(values: list[Any]) -> tuple[Any, list[Any]]:
            outputs, updated, losses = _forward(model, values, non_trainable, x)
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

    def input_gradients(self, fn: ScalarsFn, inputs: Sequence[np.ndarray], wrt: Sequence[int],
                        model: Any = None) -> tuple[Any, list[list[np.ndarray | None]]]:
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

        watched = [tensors[k] for k in wrt]
        if model is not None and worth_compiling(model, tensors):
            try:
                aux, grads = _compiled_input_gradients(scalars_of, watched, list(model.variables))
            except Exception:  # not stageable: differentiated eagerly below, which raises the user's errors
                run_eagerly(model)
            else:
                return aux_to_numpy(aux), [[to_numpy(g) for g in row] for row in grads]
        # what the call writes (a BatchNormalization called with training=True in call() updating its
        # statistics, a rewind of the seed generators) stays in the scope: written to the variables,
        # JAX's traced values would leak into them and break every later call of the model
        with keras.StatelessScope():
            aux, grads = _all_input_gradients(scalars_of, watched)
        return aux_to_numpy(aux), [[to_numpy(g) for g in row] for row in grads]


    def make_loop(self, model: Any, objective: Any, optimizer: Any, x: Any, y: Any,
                  on_trace: Callable[[], None], jit_compile: bool = False) -> StepLoop:
        # jit_compile changes nothing here: a JAX loop is always compiled with XLA
        trainable, non_trainable = model.trainable_variables, model.non_trainable_variables
        slots = optimizer.variables

        def loss_and_updates(tv: list[Any], ntv: list[Any], ov: list[Any], x: Any, y: Any) -> tuple[Any, Any]:
            outputs, ntv, losses = _forward(model, tv, ntv, x)
            loss = with_model_losses(objective.total(y, keras.tree.flatten(outputs)), losses)
            # a LossScaleOptimizer (mixed precision) divides the gradients by its scale: scale the
            # loss by it first, as Keras' own train_step does (with the loop's optimizer state)
            with keras.StatelessScope(state_mapping=list(zip(slots, ov))):
                scaled = optimizer.scale_loss(loss)
            return scaled, (loss, ntv)

        backward = jax.value_and_grad(loss_and_updates, has_aux=True)

        def loop(tv: list[Any], ntv: list[Any], ov: list[Any], x: Any, y: Any, steps: Any) -> tuple[Any, ...]:
            on_trace()

            def step(i: Any, state: tuple[Any, ...]) -> tuple[Any, ...]:
                tv, ntv, ov, losses = state
                (_, (loss, new_ntv)), grads = backward(tv, ntv, ov, x, y)
                new_tv, new_ov = optimizer.stateless_apply(ov, grads, tv)
                return (*_same_types((new_tv, new_ntv, new_ov), (tv, ntv, ov)),
                        losses.at[i].set(jnp.reshape(loss, ()).astype(jnp.float32)))

            losses = jnp.zeros((_CAPACITY,), jnp.float32)
            return jax.lax.fori_loop(0, steps, step, (tv, ntv, ov, losses))

        compiled = jax.jit(loop)
        variables = (trainable, non_trainable, slots)
        return lambda x, y, steps: _run(lambda values, n: compiled(*values, x, y, n), variables, steps)

    def loop_key(self, x: Any, y: Any) -> Any:
        return tuple((tuple(t.shape), str(t.dtype)) for t in jax.tree_util.tree_leaves((x, y)))

    def own_loop(self, model: Any, data: Any, on_missing: Callable[[Any], None] | None = None) -> OwnLoop:
        # Keras' JAX train_step is stateless: train_step(state, data) -> (logs, state); every step
        # starts from the metrics' reset values, so its loss is that step's
        def loop(tv: list[Any], ntv: list[Any], ov: list[Any], fresh_metrics: list[Any], data: Any,
                 steps: Any) -> tuple[Any, ...]:
            def step(i: Any, state: tuple[Any, ...]) -> tuple[Any, ...]:
                tv, ntv, ov, losses = state
                logs, (new_tv, new_ntv, new_ov, _) = model.train_step((tv, ntv, ov, fresh_metrics), data)
                return (*_same_types((new_tv, new_ntv, new_ov), (tv, ntv, ov)), losses.at[i].set(loss_of(logs, on_missing)))

            losses = jnp.zeros((_CAPACITY,), jnp.float32)
            return jax.lax.fori_loop(0, steps, step, (tv, ntv, ov, losses))

        compiled = jax.jit(loop)

        def run(steps: int) -> np.ndarray:
            # what fit() does first on JAX: build the compiled loss, metrics and optimizer (a stateless
            # train_step cannot create their variables)
            model._symbolic_build(data_batch=data)
            variables = (model.trainable_variables, model.non_trainable_variables, model.optimizer.variables)
            model.reset_metrics()
            fresh_metrics = [v.value for v in model.metrics_variables]
            return _run(lambda values, n: compiled(*values, fresh_metrics, data, n), variables, steps)

        return run


# Steps per call of a compiled loop (its loss buffer has this size): the engine's chunks are at
# most 100 steps; a longer request is split.
_CAPACITY = 128


def _same_types(new: Any, old: Any) -> Any:
    """`new` with the dtypes of `old`: a loop's state must keep its types from step to step."""
    return jax.tree_util.tree_map(lambda n, o: jnp.asarray(n).astype(o.dtype), new, old)


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or while handling, outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def uncompilable_layer_error(exc: BaseException) -> UserCodeError | None:
    """The user's error for `exc`, raised while a compiled JAX loop was traced, when a layer
    Keras marks as one that cannot be compiled (``supports_jit = False``) failed on a traced array
    (a JAX tracer error in that layer's ``call``): it names the layer and says to apply it to the
    data instead. None for any other exception."""
    for error in _chain(exc):
        if not isinstance(error, (jax.errors.JAXTypeError, jax.errors.JAXIndexError)):
            continue
        raising = None  # the innermost layer whose call was running
        for frame, _ in traceback.walk_tb(error.__traceback__):
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, keras.layers.Layer) and not isinstance(candidate, keras.Model):
                raising = candidate
        if raising is None or getattr(raising, "supports_jit", True):
            continue
        what = ("a TensorFlow-backed preprocessing layer" if type(raising).__module__.startswith("keras.")
                else "a layer marked supports_jit=False")
        return UserCodeError(
            f"layer {raising.name!r} ({type(raising).__name__}) cannot run inside a compiled JAX training step: "
            f"it is {what}, which cannot take JAX's traced arrays, so the model cannot train on JAX "
            "(Keras' own fit() fails the same way)",
            hint=for_audience(
                current().audience,
                configurer=f"apply {type(raising).__name__} to the data before the model (in the tf.data input "
                "pipeline, e.g. dataset.map(...)) and give the model its output as input, or train on the TensorFlow "
                "backend",
                student=f"the grader trains the model on JAX (your instructor's setting), where a model that trains "
                f"cannot hold {type(raising).__name__}: leave it out of the model if the assignment allows, or ask "
                "your instructor"),
            original=error)
    return None


def _run(call: Callable[[tuple[list[Any], ...], int], tuple[Any, ...]], variables: tuple[list[Any], ...],
         steps: int) -> np.ndarray:
    """Run a compiled loop `steps` steps from the variables' current values (at most `_CAPACITY`
    per call), writing the trained values back after each call; the losses as NumPy. A layer that
    cannot be compiled is the user's error (`uncompilable_layer_error`)."""
    out = []
    while steps > 0:
        n = min(steps, _CAPACITY)
        try:
            *values, losses = call(tuple([v.value for v in group] for group in variables), n)
        except Exception as exc:  # tracing runs the user's layers
            error = uncompilable_layer_error(exc)
            if error is None:
                raise
            raise error from exc
        for group, new in zip(variables, values):
            for variable, value in zip(group, new):
                variable.assign(value)
        out.append(np.asarray(losses)[:n])
        steps -= n
    return np.concatenate(out) if out else np.zeros((0,), np.float32)


ADAPTER = JaxAdapter()
