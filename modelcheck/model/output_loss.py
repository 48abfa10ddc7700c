"""The loss of one output as the checks use it (`OutputLoss`), and how a loss is named.

A loss is known by its snake_case Keras name (`canonical_loss_name`): `CategoricalCrossentropy`,
`categorical_crossentropy` and aliases such as `mse` alike. The name says which kind of
target the loss takes (`modelcheck.model.targets`) and whether it is judged by its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import keras
import numpy as np

from .targets import BINARY, LABELS, ONE_HOT, REAL, SPARSE, class_axis

__all__ = ["OutputLoss", "canonical_loss_name", "loss_name", "target_kind"]


@dataclass
class OutputLoss:
    """The loss of one output: its function, weight, target kind and a readable name."""

    name: str
    function: Callable[[Any, Any], Any]
    weight: float
    targets: str
    kind: str  # the output kind: probabilities, binary, logits, regression
    output: str  # the output's name
    bounds: tuple[float, float] | None = None  # what a bounded activation (sigmoid, tanh) can produce
    nonnegative: bool = False  # an activation that produces values of 0 or more only (relu, softplus, exponential)
    trained: bool = True  # False for an output compiled with no loss (None in a list, or left out of a dict)
    # the output's range is set by more than an activation read here (a layer or operation after it,
    # a weight constraint): only values the same architecture computes are sure to be reachable
    reachable_only: bool = False

    @property
    def classification(self) -> bool:
        return self.targets in (SPARSE, ONE_HOT, BINARY)

    @property
    def judged_by_value(self) -> bool:
        """Whether memorising is judged by the loss's value (regressions, overlap losses) rather
        than by accuracy. An output without a loss is judged by neither."""
        return self.trained and (not self.classification or self.overlap)

    @property
    def per_sample_labels(self) -> bool:
        """A loss that takes one label per sample rather than a target per output (Circle)."""
        return self.targets == LABELS

    @property
    def ignored_class(self) -> int | None:
        """The class id a sparse cross-entropy skips (Keras' ``ignore_class``, a segmentation's
        "void" label), else None."""
        value = (getattr(self.function, "_fn_kwargs", None) or {}).get("ignore_class")
        return None if value is None or self.targets != SPARSE else int(value)

    @property
    def percent(self) -> bool:
        """A loss in percent (mean absolute percentage error): 100 times a loss in fractions."""
        return "percentage" in canonical_loss_name(self.name)

    @property
    def positive(self) -> bool:
        """A loss of positive quantities (percentage and logarithmic errors, Poisson): targets near
        or below zero make it explode or have no meaning, so they are kept above zero."""
        if self.classification:
            return False
        return self.nonnegative or any(word in canonical_loss_name(self.name) for word in _POSITIVE_LOSSES)

    @property
    def overlap(self) -> bool:
        """An overlap loss (Dice, Tversky, ...): its targets are masks, but it is judged by its value
        (0 for a perfect overlap), not by per-pixel accuracy, which it does not drive to 100%."""
        return _is_overlap(self.name)

    def class_axis(self, prediction: Any) -> int:
        """The axis of `prediction` the classes lie along: a categorical cross-entropy's ``axis``
        (a pointer's softmax over its steps, axis 1), else the last."""
        rank = len(np.shape(prediction))
        return class_axis(self.function, rank) if self.targets == ONE_HOT else max(rank - 1, 0)

    def summed_terms(self, prediction: Any) -> int:
        """How many losses a Keras `Loss` built with ``reduction="sum"`` adds up for `prediction`
        (one per sample, or per step or pixel: Keras reduces the classes' axis, then sums the rest);
        1 for any other reduction, whose value is already one sample's."""
        shape = tuple(np.shape(prediction))
        if getattr(self.function, "reduction", None) != "sum" or len(shape) < 2:
            return 1
        return max(1, int(np.prod(shape)) // max(1, int(shape[self.class_axis(prediction)])))


def loss_name(identifier: Any) -> str:
    """A readable name for a compiled loss: the string, the `Loss` class's or the function's name."""
    if isinstance(identifier, str):
        return identifier
    if isinstance(identifier, keras.losses.Loss):
        return type(identifier).__name__
    return getattr(identifier, "__name__", type(identifier).__name__)


def target_kind(name: str, kind: str) -> str:
    """The kind of target the loss called `name` takes on an output of kind `kind`."""
    snake = canonical_loss_name(name)
    if "sparse" in snake:
        return SPARSE
    if "categorical" in snake or snake in ("kl_divergence", "kld", "kullback_leibler_divergence", "poisson_categorical"):
        return ONE_HOT
    if "binary" in snake or "hinge" in snake:
        return BINARY
    if _is_overlap(name):  # masks: one-hot over a softmax's classes, else 0/1
        return ONE_HOT if kind == "probabilities" else BINARY
    return REAL


_ALIASES = {
    "mse": "mean_squared_error", "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error", "k_l_divergence": "kl_divergence", "kld": "kl_divergence",
    "logcosh": "log_cosh", "huber_loss": "huber",
}


def canonical_loss_name(name: str) -> str:
    """A loss's snake_case Keras name (`CategoricalCrossentropy` and aliases such as `mse` alike)."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return _ALIASES.get(name, name)


# Losses that measure the overlap of a predicted mask with the true one (Keras' Dice and Tversky, and
# users' own of these names): soft targets would leave a least value above zero.
_OVERLAP_LOSSES = ("dice", "tversky", "jaccard", "iou")


# Losses of positive quantities (see `OutputLoss.positive`).
_POSITIVE_LOSSES = ("percentage", "logarithmic", "poisson")


def _is_overlap(name: str) -> bool:
    return any(word in canonical_loss_name(name) for word in _OVERLAP_LOSSES)
