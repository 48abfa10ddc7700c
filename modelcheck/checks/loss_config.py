"""Does the compiled loss fit the output layer? Judged from the configuration alone.

These are the mistakes students make most: ``from_logits=True`` on a softmax, categorical
cross-entropy on a sigmoid or a 1-unit output, binary cross-entropy on a 10-way softmax, a
ReLU or sigmoid output trained on a regression loss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from ..model.outputs import activation_of, output_layers
from ..model.inputs import synthetic_inputs
from ..model.objective import OutputLoss, objective_for
from ..core.result import CheckResult
from .common import check, forward

__all__ = ["check_loss_matches_output", "LossFacts", "loss_facts"]

NAME = "loss_matches_output"

SPARSE_CE = "sparse_ce"
CATEGORICAL_CE = "categorical_ce"
BINARY_CE = "binary_ce"
REGRESSION = "regression"
OTHER = "other"

_ALIASES = {
    "mse": "mean_squared_error", "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error", "k_l_divergence": "kl_divergence", "kld": "kl_divergence",
    "logcosh": "log_cosh", "huber_loss": "huber",
}
_FAMILIES = {
    "sparse_categorical_crossentropy": SPARSE_CE,
    "categorical_crossentropy": CATEGORICAL_CE,
    "categorical_focal_crossentropy": CATEGORICAL_CE,
    "binary_crossentropy": BINARY_CE,
    "binary_focal_crossentropy": BINARY_CE,
    "mean_squared_error": REGRESSION,
    "mean_absolute_error": REGRESSION,
    "mean_absolute_percentage_error": REGRESSION,
    "mean_squared_logarithmic_error": REGRESSION,
    "huber": REGRESSION,
    "log_cosh": REGRESSION,
}
# What an output activation can produce, for regression losses.
_RANGES = {
    "sigmoid": (0.0, 1.0, "values between 0 and 1"),
    "softmax": (0.0, 1.0, "values between 0 and 1 that sum to 1 over the units"),
    "relu": (0.0, None, "values of 0 or more"),
    "softplus": (0.0, None, "positive values"),
    "exponential": (0.0, None, "positive values"),
    "tanh": (-1.0, 1.0, "values between -1 and 1"),
    "hard_sigmoid": (0.0, 1.0, "values between 0 and 1"),
}
_PROBABILITIES = ("softmax", "sigmoid")


@dataclass(frozen=True)
class LossFacts:
    """What a loss is: its canonical snake_case name, its family and whether it expects logits."""

    name: str
    family: str
    from_logits: bool


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return _ALIASES.get(name, name)


def loss_facts(loss: OutputLoss) -> LossFacts:
    """The `LossFacts` of one output's loss (compiled or default)."""
    name = _snake(loss.name.split("(")[0])
    config = {}
    if isinstance(loss.function, keras.losses.Loss):
        try:
            config = loss.function.get_config() or {}
        except NotImplementedError:  # a custom Loss without get_config
            config = {}
    from_logits = bool(config.get("from_logits", "from_logits=True" in loss.name))
    return LossFacts(name, _FAMILIES.get(name, OTHER), from_logits)


def _findings(facts: LossFacts, activation: str | None, units: int, output: str,
              target_range: tuple[float | None, float | None] | None) -> list[str]:
    """Plain sentences, each with its fix, for one output."""
    loss = facts.name
    where = f"output {output!r}"
    found = []
    if activation == "softmax" and units == 1:
        found.append(f"{where} is a softmax over a single unit, which always outputs 1.0: for two classes use "
                     "Dense(1, activation=\"sigmoid\") with binary_crossentropy")
    if facts.from_logits and activation in _PROBABILITIES:
        found.append(f"{loss} is compiled with from_logits=True but {where} already applies {activation}, so the "
                     f"loss applies it a second time and the gradients flatten: remove from_logits=True (or remove "
                     f"the {activation} activation and keep from_logits=True)")
    if facts.family in (SPARSE_CE, CATEGORICAL_CE):
        if units == 1:
            labels = ("integer labels 0..n-1 need n output units; label 1 is out of range for 1 unit"
                      if facts.family == SPARSE_CE else "a softmax over one class is always 1, so the loss is always 0")
            found.append(f"{loss} on {where} with 1 unit: {labels}; for two classes use Dense(1, "
                         "activation=\"sigmoid\") with binary_crossentropy, or Dense(2, activation=\"softmax\")")
        elif activation == "sigmoid" and not facts.from_logits:
            found.append(f"{loss} expects probabilities that sum to 1 (a softmax) but {where} uses sigmoid: use "
                         "activation=\"softmax\" for one class per sample, or binary_crossentropy for several "
                         "labels per sample")
        elif activation is not None and activation not in _PROBABILITIES and not facts.from_logits:
            found.append(f"{loss} expects probabilities but {where} has activation {activation!r} (raw scores that "
                         "can be negative): add activation=\"softmax\", or compile with "
                         f"keras.losses.{_class_name(loss)}(from_logits=True)")
    elif facts.family == BINARY_CE:
        if activation == "softmax" and units > 1:
            found.append(f"{loss} on {where}, a {units}-way softmax, treats each of the {units} units as its own "
                         "yes/no question while the softmax makes them compete: for one class per sample use "
                         "sparse_categorical_crossentropy (integer labels) or categorical_crossentropy (one-hot "
                         "labels); for several labels per sample use activation=\"sigmoid\"")
        elif activation is not None and activation not in _PROBABILITIES and not facts.from_logits:
            found.append(f"{loss} expects probabilities between 0 and 1 but {where} has activation {activation!r}: "
                         "add activation=\"sigmoid\", or compile with "
                         "keras.losses.BinaryCrossentropy(from_logits=True)")
    elif facts.family == REGRESSION and activation in _RANGES:
        low, high, words = _RANGES[activation]
        fits = target_range is not None and _within(target_range, low, high)
        if not fits:
            found.append(f"{where} uses {activation}, which can only predict {words}, with the regression loss "
                         f"{loss}: if the targets can be outside that range use a linear output (activation=None)"
                         + ("; for classification use a cross-entropy loss" if activation == "softmax" else "")
                         + ", or pass target_range=(low, high) when the targets fit")
    return found


def _within(target_range: tuple[float | None, float | None], low: float, high: float | None) -> bool:
    t_low, t_high = target_range
    ok_low = t_low is not None and t_low >= low
    ok_high = high is None or (t_high is not None and t_high <= high)
    return ok_low and ok_high


def _class_name(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _compiled_loss(model: keras.Model) -> Any:
    config = getattr(model, "_compile_config", None)
    if config is None:
        return None
    values = config.config if hasattr(config, "config") else config
    return values.get("loss")


@check(NAME)
def check_loss_matches_output(
    model: keras.Model,
    *,
    target_range: tuple[float | None, float | None] | None = None,
    seed: int = 0,
) -> CheckResult:
    """Judge the compiled loss against each output layer, without training.

    Flags ``from_logits=True`` on a softmax/sigmoid output; (sparse) categorical
    cross-entropy on a sigmoid, linear or 1-unit output; binary cross-entropy on a multi-unit
    softmax or a linear output; a softmax over one unit; a ReLU/sigmoid/tanh/softmax output
    with a regression loss (pass ``target_range=(0, 1)`` when the targets do fit the range).
    An uncompiled model is skipped.

    Example::

        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
        check_loss_matches_output(model).message
        # "sparse_categorical_crossentropy is compiled with from_logits=True but output 'dense_1' already ..."
    """
    if _compiled_loss(model) is None:
        return CheckResult.skip(NAME, "the model is not compiled with a loss, so there is none to judge; compile it "
                                "in the builder (model.compile(loss=..., optimizer=...)) to have it checked")
    try:
        shapes = [tuple(t.shape) for t in model.outputs]
    except AttributeError:  # subclassed: one cheap forward pass gives the output shapes
        shapes = [tuple(o.shape) for o in forward(model, synthetic_inputs(model, 2, seed))]
    predictions = [np.zeros([1 if d is None else d for d in shape], "float32") for shape in shapes]
    objective = objective_for(model, predictions)
    layers = output_layers(model)
    activations = [activation_of(layer) if layer is not None else None for layer in layers]
    activations += [None] * (len(shapes) - len(activations))
    judged = []
    findings: list[str] = []
    for loss, shape, activation in zip(objective.losses, shapes, activations):
        facts = loss_facts(loss)
        units = int(shape[-1]) if len(shape) > 1 and shape[-1] is not None else 1
        judged.append({"output": loss.output, "loss": facts.name, "from_logits": facts.from_logits,
                       "activation": activation, "units": units})
        findings += _findings(facts, activation, units, loss.output, target_range)
    details = {"outputs": judged}
    expected = "a loss that fits each output layer"
    if findings:
        return CheckResult.fail(NAME, "; ".join(findings), expected=expected, received=judged, details=details,
                                hint="softmax + (sparse_)categorical_crossentropy for one class per sample, sigmoid + "
                                "binary_crossentropy for yes/no, a linear output + mse for regression; "
                                "from_logits=True only when the output has no activation.")
    summary = ", ".join(f"{j['output']}: {j['loss']} on {j['activation'] or 'an unknown activation'}" for j in judged)
    return CheckResult.ok(NAME, f"the loss fits the output ({summary})", expected=expected, received=judged,
                          details=details)
