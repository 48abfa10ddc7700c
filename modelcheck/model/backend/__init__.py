"""One adapter per Keras 3 backend behind one small interface, so checks never import
TensorFlow, JAX or PyTorch themselves.

    from modelcheck.model import backend
    loss, grads = backend.current().gradients(model, loss_fn, x, y)

An adapter differentiates (a loss with respect to the trainable variables, or scalars with
respect to some inputs), compiles the training engine's step loop (`modelcheck.model.engine`)
and converts backend tensors to NumPy. Each adapter module imports its
framework at import time, and `current()` imports only the one Keras runs on.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from typing import Any, Callable, ContextManager, Protocol, Sequence

import numpy as np

__all__ = ["Adapter", "LossFn", "StepLoop", "OwnLoop", "current", "name", "installed", "compute_threads", "call_model",
           "BACKENDS"]

BACKENDS = ("tensorflow", "jax", "torch")

# loss_fn(y, outputs) -> scalar tensor: `outputs` is what the model returned (training mode)
LossFn = Callable[[Any, Any], Any]
# fn(tensors) -> (scalars, aux): the scalars to differentiate, and anything else to keep
ScalarsFn = Callable[[list[Any]], tuple[list[Any], Any]]
# loop(x, y, steps) -> the loss before each of `steps` update steps on the batch (x, y), as NumPy
StepLoop = Callable[[Any, Any, int], np.ndarray]
# loop(steps) -> the loss of each of `steps` calls of the model's own train_step, as NumPy
OwnLoop = Callable[[int], np.ndarray]


class Adapter(Protocol):
    """What modelcheck needs from a backend."""

    name: str
    traces: bool  # whether `make_loop`'s loop is traced and compiled before its first step
    # what Keras' fit passes a model's own train_step on this backend: (data,), or (state, data) on JAX
    train_step_arguments: tuple[str, ...]

    def gradients(self, model: Any, loss_fn: LossFn, x: Any, y: Any) -> tuple[float, list[np.ndarray | None]]:
        """One backward pass in training mode: (loss, gradient of every trainable variable in
        ``model.trainable_variables`` order, None where the backend knows it is not connected).

        The loss is ``loss_fn(y, model(x, training=True))`` plus the model's own losses
        (regularisers, ``add_loss``)."""
        ...

    def input_gradients(self, fn: ScalarsFn, inputs: Sequence[np.ndarray], wrt: Sequence[int],
                        model: Any = None) -> tuple[Any, list[list[np.ndarray | None]]]:
        """Call ``fn(tensors)`` on the inputs as backend tensors and differentiate each scalar it
        returns with respect to the inputs at indices `wrt`: (aux, grads[scalar][j] for wrt[j]),
        the gradients as NumPy (None where not connected). `model`, the model `fn` runs (its
        variables only read), lets JAX compile a large model's call and gradients as one program."""
        ...

    def make_loop(self, model: Any, objective: Any, optimizer: Any, x: Any, y: Any,
                  on_trace: Callable[[], None], jit_compile: bool = False) -> StepLoop:
        """The compiled step loop of `model`: each step computes ``objective.total(y, outputs)``
        in training mode plus the model's own losses, scales it with ``optimizer.scale_loss``
        (mixed precision) and applies the gradients of every trainable variable with
        `optimizer` (built; its variables are read at each call, so assigning them resets it).
        Every variable of the model and the optimizer holds the trained values when the call
        returns. `x` and `y` are examples of the batches (any batch size); `on_trace` is called
        each time the loop is traced (compiled) anew."""
        ...

    def loop_key(self, x: Any, y: Any) -> Any:
        """What about a batch (hashable) makes `make_loop`'s loop compile anew: batches that
        differ in it get loops of their own, so trace and step times are measured per loop."""
        ...

    def own_loop(self, model: Any, data: Any, on_missing: Callable[[Any], None] | None = None) -> OwnLoop:
        """A loop over the model's own ``train_step(data)`` (its objective and its compiled
        optimizer), the metrics reset before each step so each loss is that step's; when the logs
        hold no loss, raises `_common.NoLoss`, or given `on_missing`, records 0 after telling it
        what the logs hold (`_common.loss_of`)."""
        ...

    def to_numpy(self, value: Any) -> np.ndarray:
        """A backend tensor (or anything array-like) as a NumPy array, detached from any graph."""
        ...


def name() -> str:
    """The backend Keras runs on: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    import keras

    return keras.backend.backend()


def current() -> Adapter:
    """The adapter for the backend Keras runs on."""
    backend = name()
    if backend not in BACKENDS:
        raise RuntimeError(f"modelcheck supports the Keras backends {', '.join(BACKENDS)}; Keras runs on {backend!r}")
    return importlib.import_module(f"{__name__}.{backend}").ADAPTER


def call_model(model: Any, x: Any, training: bool = False) -> Any:
    """``model(x, training=training)``; on JAX a large model's call is one compiled program per
    input signature (`jax_calls`). The caller wraps it in `call_user_code`."""
    if name() == "jax":
        from .jax_calls import call

        return call(model, x, training)
    return model(x, training=training)


def compute_threads() -> ContextManager[Any]:
    """The threads a check computes with, for its duration: on PyTorch one intra-op thread (or
    ``MODELCHECK_TORCH_THREADS``; 0 keeps PyTorch's own setting), on the other backends theirs."""
    if name() != "torch":
        return contextlib.nullcontext()
    from .torch import intra_op_threads

    return intra_op_threads()


def installed() -> list[str]:
    """The Keras backends whose framework is installed, in `BACKENDS` order (found without
    importing them)."""
    return [backend for backend in BACKENDS if importlib.util.find_spec(backend) is not None]
