"""A teacher for the training checks: the same architecture with its weights shuffled.

Targets computed by a teacher can always be fitted by a sound model of that architecture
(a two-parameter linear regressor learns a line, a CNN learns what another CNN computes), while
random targets may be beyond a small model. Shuffling the entries of every trainable weight
keeps each weight's distribution (a fresh initialisation in all but the order), works for
functional, Sequential, subclassed and nested models alike, and costs no clone or retrace.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ..core.errors import call_user_code
from . import backend
from .engine import preserved_weights
from .memo import remembered
from .outputs import flatten_outputs
from .state import reset_states

__all__ = ["teacher_outputs"]


def teacher_outputs(model: keras.Model, x: Any, seed: int) -> list[np.ndarray] | None:
    """The outputs (inference mode) of `model` with every trainable weight's entries shuffled;
    the model's own weights are restored afterwards. Frozen weights stay (the teacher must be
    reachable by training); None for a model with nothing to train (its own outputs would be
    the targets)."""
    if not model.trainable_variables:
        return None

    def run() -> list[np.ndarray]:
        rng = np.random.default_rng(seed + 104729)
        with preserved_weights(model):
            for variable in model.trainable_variables:
                value = keras.ops.convert_to_numpy(variable)
                if np.issubdtype(value.dtype, np.floating) and value.size > 1:
                    variable.assign(rng.permutation(value.reshape(-1)).reshape(value.shape))
            reset_states(model)
            outputs = call_user_code("running the model with shuffled weights (the teacher)", backend.call_model, model, x)
            return [keras.ops.convert_to_numpy(o) for o in flatten_outputs(outputs)]

    return remembered("teacher", model, x, run, extra=seed)
