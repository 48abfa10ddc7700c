"""Parameter counts, in one place: every part that counts weights (the param_count check, budgets
judged before allocation, snapshots, the report's layer table) counts them here.

Works on anything with Keras' ``weights`` / ``trainable_weights`` / ``non_trainable_weights``
(including variables deferred inside ``keras.StatelessScope``); imports no Keras.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

__all__ = ["weight_count", "param_counts"]


def weight_count(weights: Iterable[Any]) -> int:
    """How many numbers the `weights` hold (each variable once, as listed)."""
    return sum(math.prod(int(d) for d in weight.shape) for weight in weights)


def param_counts(model: Any) -> dict[str, int]:
    """``{"total", "trainable", "non_trainable"}`` of a model or layer (shared weights counted once)."""
    trainable = weight_count(model.trainable_weights)
    non_trainable = weight_count(model.non_trainable_weights)
    return {"total": trainable + non_trainable, "trainable": trainable, "non_trainable": non_trainable}
