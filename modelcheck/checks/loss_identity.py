"""Which Keras loss a user's own loss function computes, found by evaluating both.

Students wrap Keras' losses in functions of their own (``def my_loss(y, p): return
keras.losses.mean_squared_error(y, p)``) or write them out (``ops.mean(ops.square(y - p))``,
``-ops.sum(y * ops.log(p), axis=-1)``). Judged by its name, such a loss is one modelcheck has no
rule for, so mean squared error on a softmax went unnoticed. `keras_equivalent` evaluates the
user's function and each candidate Keras loss on the same random batches, each drawn in the form
that loss takes (class ids, one-hot rows, 0/1, probabilities, logits, real values), and names the
candidate that gives the same value on every batch.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from ..model.origin import is_library_code

__all__ = ["keras_equivalent"]

_BATCHES = 2  # random batches a candidate must agree on, so that no single draw can match by chance
_ROWS = 4
_RTOL = 1e-4

# what each candidate takes: (canonical name, from_logits, targets, predictions)
_CANDIDATES = (
    ("mean_squared_error", False, "real", "real"),
    ("mean_absolute_error", False, "real", "real"),
    ("huber", False, "real", "real"),
    ("log_cosh", False, "real", "real"),
    ("mean_squared_logarithmic_error", False, "positive", "positive"),
    ("categorical_crossentropy", False, "one_hot", "probabilities"),
    ("categorical_crossentropy", True, "one_hot", "logits"),
    ("sparse_categorical_crossentropy", False, "ids", "probabilities"),
    ("sparse_categorical_crossentropy", True, "ids", "logits"),
    ("binary_crossentropy", False, "binary", "sigmoid"),
    ("binary_crossentropy", True, "binary", "logits"),
)

# the user's function -> {output shape: (name, from_logits) or None}, kept as long as the function lives
_FOUND: weakref.WeakKeyDictionary[Any, dict[tuple[int, ...], tuple[str, bool] | None]] = weakref.WeakKeyDictionary()


def _user_function(function: Callable[..., Any]) -> Callable[..., Any]:
    """The function the user wrote, under the mean-reducing wrapper the objective puts on it."""
    return getattr(function, "__wrapped__", function)


def _draw(kind: str, shape: tuple[int, ...], logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    classes = shape[-1]
    if kind == "real":
        return rng.normal(size=shape).astype("float32")
    if kind == "positive":
        return rng.uniform(0.1, 3.0, size=shape).astype("float32")
    if kind == "ids":
        return rng.integers(0, classes, size=shape[:-1]).astype("int32")
    if kind == "one_hot":
        return np.eye(classes, dtype="float32")[rng.integers(0, classes, size=shape[:-1])]
    if kind == "binary":
        return rng.integers(0, 2, size=shape).astype("float32")
    if kind == "probabilities":
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)).astype("float32")
    if kind == "sigmoid":
        return (1.0 / (1.0 + np.exp(-logits))).astype("float32")
    return logits


def _mean(value: Any) -> float | None:
    try:
        result = float(np.mean(ops.convert_to_numpy(value)))
    except Exception:  # the user's function gave what is not a number
        return None
    return result if math.isfinite(result) else None


def _agrees(function: Callable[..., Any], name: str, from_logits: bool, targets: str, predictions: str,
            shape: tuple[int, ...], values: dict[tuple[str, str, int], float | None]) -> bool:
    """Whether `function` gives the Keras loss' value on every batch; `values` keeps the user's values
    per batch and form of data, so candidates taking the same form (four take real values) share one call."""
    keras_loss = keras.losses.get(name)
    for batch in range(_BATCHES):
        rng = np.random.default_rng(1009 + batch)
        logits = rng.normal(scale=1.5, size=shape).astype("float32")
        y_true, y_pred = _draw(targets, shape, logits, rng), _draw(predictions, shape, logits, rng)
        kwargs = {"from_logits": True} if from_logits else {}
        want = _mean(keras_loss(ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred), **kwargs))
        if (targets, predictions, batch) not in values:
            try:
                values[targets, predictions, batch] = _mean(function(ops.convert_to_tensor(y_true),
                                                                     ops.convert_to_tensor(y_pred)))
            except Exception:  # the user's loss does not take targets of this form: another loss
                values[targets, predictions, batch] = None
        got = values[targets, predictions, batch]
        if want is None or got is None or not math.isclose(got, want, rel_tol=_RTOL, abs_tol=1e-6):
            return False
    return True


def keras_equivalent(function: Callable[..., Any], output_shape: tuple[Any, ...]) -> tuple[str, bool] | None:
    """The Keras loss (canonical name, from_logits) that the user's own loss `function` computes on
    outputs of `output_shape` (batch axis first, None allowed), or None when it computes none of
    them, is Keras' own, or cannot be evaluated. Class losses are only tried with 2 or more units."""
    own = _user_function(function)
    owner = type(own) if isinstance(own, keras.losses.Loss) else own
    if is_library_code(owner):
        return None
    shape = (_ROWS, *(3 if d is None else int(d) for d in tuple(output_shape)[1:]))
    if len(shape) < 2:
        shape = (_ROWS, 1)
    try:
        cache = _FOUND.setdefault(own, {})
    except TypeError:  # an object that cannot be weakly referenced: not remembered
        cache = {}
    if shape not in cache:
        values: dict[tuple[str, str, int], float | None] = {}
        cache[shape] = next(((name, logits) for name, logits, targets, predictions in _CANDIDATES
                             if (shape[-1] > 1 or targets in ("real", "positive", "binary"))
                             and _agrees(function, name, logits, targets, predictions, shape, values)), None)
    return cache[shape]
