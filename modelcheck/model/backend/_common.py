"""What every adapter does the same way: the model's own losses, NumPy conversion, and the
error of a ``train_step`` that returns no loss.

`NoLoss` is raised here, in modelcheck's code, but what it reports is the user's: their
``train_step`` returned logs a check cannot train on. It is a `UserCodeError`, so that
`call_user_code` passes it on as it is (not as an internal error). The engine's own loops are
told instead (`loss_of`'s `on_missing`), so that the trace completes and
`modelcheck.model.engine.train_own_step` turns it into a ``skipped`` result, or trains on (a
check that needs the steps, not the loss)."""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from ...core.errors import UserCodeError

__all__ = ["with_model_losses", "to_numpy", "aux_to_numpy", "NoLoss", "loss_of"]


def with_model_losses(loss: Any, losses: list[Any]) -> Any:
    """`loss` plus the model's own losses (regularisers, ``add_loss``), as float32."""
    for extra in losses:
        loss = loss + ops.cast(extra, "float32")
    return loss


def to_numpy(value: Any) -> np.ndarray:
    """A backend tensor, a Keras variable or an array-like as a NumPy array."""
    if isinstance(value, np.ndarray):
        return value
    return np.asarray(keras.ops.convert_to_numpy(value))


def aux_to_numpy(aux: Any) -> Any:
    """Every tensor in a nested structure as NumPy (floats and None left as they are)."""
    return keras.tree.map_structure(lambda v: v if v is None or isinstance(v, (int, float)) else to_numpy(v), aux)


class NoLoss(UserCodeError):
    """A model's own ``train_step`` returned logs without a ``"loss"`` (a GAN's ``d_loss`` and
    ``g_loss``): the user's code returned something a training check cannot use. `keys` are the
    names it returned (or the type of what it returned)."""

    def __init__(self, keys: Any) -> None:
        self.keys = keys
        super().__init__(f"train_step returns no 'loss' (it returns {keys})",
                         hint="return the loss to minimise as logs['loss'] from train_step, as fit() reports it")


def loss_of(logs: Any, on_missing: Callable[[Any], None] | None = None) -> Any:
    """The scalar ``logs["loss"]`` of a ``train_step``, as float32. When there is none: `NoLoss`,
    or, given `on_missing`, 0 after telling it what the logs hold. (Raised while a loop is traced,
    NoLoss would leave the variables its train_step made, a GAN's optimizers', without values.)"""
    if not isinstance(logs, dict) or "loss" not in logs:
        keys = sorted(logs) if isinstance(logs, dict) else type(logs).__name__
        if on_missing is None:
            raise NoLoss(keys)
        on_missing(keys)
        return ops.zeros((), "float32")
    return ops.cast(ops.reshape(logs["loss"], ()), "float32")
