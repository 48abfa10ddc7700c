"""The PyTorch adapter: `torch.autograd.grad` (None for a variable the loss does not reach)."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import torch

from . import LossFn, ScalarsFn
from ._common import aux_to_numpy, to_numpy, with_model_losses

__all__ = ["ADAPTER", "TorchAdapter"]


def _grad(scalar: Any, leaves: list[Any]) -> list[np.ndarray | None]:
    """d scalar / d leaf for each leaf; all None when the scalar does not depend on any."""
    if not leaves or not (torch.is_tensor(scalar) and scalar.requires_grad):
        return [None] * len(leaves)
    grads = torch.autograd.grad(scalar, leaves, allow_unused=True, retain_graph=True)
    return [None if g is None else to_numpy(g) for g in grads]


class TorchAdapter:
    """Eager autograd on the model's parameters."""

    name = "torch"
    to_numpy = staticmethod(to_numpy)

    def gradients(self, model: Any, loss_fn: LossFn, x: Any, y: Any) -> tuple[float, list[np.ndarray | None]]:
        with torch.enable_grad():
            loss = with_model_losses(loss_fn(y, model(x, training=True)), model.losses)
            grads = _grad(loss, [v.value for v in model.trainable_variables])
        return float(to_numpy(loss)), grads

    def input_gradients(self, fn: ScalarsFn, inputs: Sequence[np.ndarray],
                        wrt: Sequence[int]) -> tuple[Any, list[list[np.ndarray | None]]]:
        tensors = [keras.ops.convert_to_tensor(a) for a in inputs]
        for k in wrt:
            tensors[k] = tensors[k].detach().requires_grad_(True)
        with torch.enable_grad():
            scalars, aux = fn(tensors)
            grads = [_grad(s, [tensors[k] for k in wrt]) for s in scalars]
        return aux_to_numpy(aux), grads


ADAPTER = TorchAdapter()
