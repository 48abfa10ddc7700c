"""The PyTorch adapter: `torch.autograd.grad` (None for a variable the loss does not reach), and
the step loop as eager steps in a Python loop, as Keras' own PyTorch trainer runs them
(``torch.compile`` does not pay for the checks' short runs: see `TorchAdapter.make_loop`)."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Iterator, Sequence

import keras
import numpy as np
import torch

from . import LossFn, OwnLoop, ScalarsFn, StepLoop
from ..state import reset_states, stateful_layers
from ._common import aux_to_numpy, loss_of, to_numpy, with_model_losses

__all__ = ["ADAPTER", "TorchAdapter", "intra_op_threads", "THREADS_VARIABLE"]

THREADS_VARIABLE = "MODELCHECK_TORCH_THREADS"


@contextlib.contextmanager
def intra_op_threads() -> Iterator[None]:
    """PyTorch's intra-op threads set to ``MODELCHECK_TORCH_THREADS`` (default 1; 0 leaves PyTorch's
    own setting) for the block, restored after it. PyTorch starts one thread per core, and its
    threads wait for each other by spinning: beside any other busy process (pytest-xdist's other
    workers, a grading pool, a CI machine's neighbours) a small model's steps took 10 to 20 times
    longer with two threads on two cores than with one; the checks' batches are a few samples, too
    small for more threads to pay even on an idle machine (see README, "Keras backends")."""
    import os

    raw = os.environ.get(THREADS_VARIABLE, "1").strip()
    try:
        wanted = int(raw)
    except ValueError:
        from ...core.errors import SpecError

        raise SpecError(f"{THREADS_VARIABLE} must be a whole number of threads (0: PyTorch's own setting), "
                        f"received {raw!r}") from None
    before = torch.get_num_threads()
    if wanted <= 0 or wanted == before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _saved_may_change(needed: bool = True) -> ContextManager[Any]:
    """Autograd that lets a forward pass change in place a tensor it saved for the backward pass
    (the backward then uses the value it saved): a stateful LSTM or GRU writes its last state into
    the state variable its first step read, which fails the backward otherwise (Keras' own fit too,
    on PyTorch). It inspects every op, so it is used only where `needed`."""
    return torch.autograd.graph.allow_mutation_on_saved_tensors() if needed else contextlib.nullcontext()


def _grad(scalar: Any, leaves: list[Any]) -> list[np.ndarray | None]:
    """d scalar / d leaf for each leaf; all None when the scalar does not depend on any."""
    if not leaves or not (torch.is_tensor(scalar) and scalar.requires_grad):
        return [None] * len(leaves)
    grads = torch.autograd.grad(scalar, leaves, allow_unused=True, retain_graph=True)
    return [None if g is None else to_numpy(g) for g in grads]


class TorchAdapter:
    """Eager autograd on the model's parameters."""

    name = "torch"
    traces = False
    to_numpy = staticmethod(to_numpy)
    train_step_arguments = ("data",)

    def gradients(self, model: Any, loss_fn: LossFn, x: Any, y: Any) -> tuple[float, list[np.ndarray | None]]:
        # the targets as tensors, as fit() gives them to the loss: a loss of the user's own that
        # computes `y_true - y_pred` fails on a NumPy y_true against a torch tensor that needs grad
        y = keras.tree.map_structure(lambda t: t if t is None else keras.ops.convert_to_tensor(t), y)
        with _saved_may_change(bool(stateful_layers(model))), torch.enable_grad():
            loss = with_model_losses(loss_fn(y, model(x, training=True)), model.losses)
            grads = _grad(loss, [v.value for v in model.trainable_variables])
        return float(to_numpy(loss)), grads

    def input_gradients(self, fn: ScalarsFn, inputs: Sequence[np.ndarray], wrt: Sequence[int],
                        model: Any = None) -> tuple[Any, list[list[np.ndarray | None]]]:
        tensors = [keras.ops.convert_to_tensor(a) for a in inputs]
        for k in wrt:
            tensors[k] = tensors[k].detach().requires_grad_(True)
        # `fn` may run a stateful RNN, and which model it runs is not known here
        with _saved_may_change(), torch.enable_grad():
            scalars, aux = fn(tensors)
            grads = [_grad(s, [tensors[k] for k in wrt]) for s in scalars]
        return aux_to_numpy(aux), grads


    def make_loop(self, model: Any, objective: Any, optimizer: Any, x: Any, y: Any,
                  on_trace: Callable[[], None], jit_compile: bool = False) -> StepLoop:
        # Eager: nothing is traced, so on_trace marks the loop's first use; jit_compile changes nothing
        trainable = model.trainable_variables
        stateful = stateful_layers(model)
        first = [True]

        def step(x: Any, y: Any) -> Any:
            reset_states(model, stateful)  # each step memorises the batch from a fresh model's state
            with _saved_may_change(bool(stateful)), torch.enable_grad():
                loss = with_model_losses(objective.total(y, keras.tree.flatten(model(x, training=True))),
                                         model.losses)
                # a LossScaleOptimizer (mixed precision) divides the gradients by its scale
                scaled = optimizer.scale_loss(loss)
                leaves = [v.value for v in trainable]
                grads = (torch.autograd.grad(scaled, leaves, allow_unused=True)
                         if leaves and torch.is_tensor(scaled) and scaled.requires_grad else [None] * len(leaves))
            with torch.no_grad():
                optimizer.apply([torch.zeros_like(v) if g is None else g for g, v in zip(grads, leaves)], trainable)
            return loss.detach()

        def run(x: Any, y: Any, steps: int) -> np.ndarray:
            if first[0]:
                first[0] = False
                on_trace()
            return _stacked([step(x, y) for _ in range(steps)])

        return run

    def loop_key(self, x: Any, y: Any) -> Any:
        return ()  # eager: nothing is compiled

    def own_loop(self, model: Any, data: Any, on_missing: Callable[[Any], None] | None = None) -> OwnLoop:
        def step() -> Any:
            for metric in model.metrics:
                metric.reset_state()
            return loss_of(model.train_step(data), on_missing).detach()

        return lambda steps: _stacked([step() for _ in range(steps)])


def _stacked(losses: list[Any]) -> np.ndarray:
    """The losses of a chunk as one float32 array (one conversion per chunk, not per step)."""
    return to_numpy(torch.stack(losses).float()) if losses else np.zeros((0,), np.float32)


ADAPTER = TorchAdapter()
