"""The loss a check trains or differentiates, with synthetic targets that fit it.

A model's compiled loss is used when it has one; otherwise a loss suited to each output's
kind: cross-entropy for softmax/sigmoid outputs, mean squared error otherwise. A loss whose
name modelcheck cannot know (the user's own function) gets the targets it accepts, tried in
the order the output's kind suggests.

Targets for training checks come from a teacher (`Objective.targets` with ``teacher=``): the
outputs of the same architecture with its weights shuffled, so a sound model can always fit
them; a teacher whose outputs do not vary (e.g. all-zero kernels) gives random targets instead.
How each kind of target is made is in `modelcheck.model.targets`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from .compiled import (compile_arguments, compiled_loss as compiled_loss_of, compiled_without_loss, output_loss_weights,
                       per_output)
from ..core.errors import UserCodeError
from .graph import has_symbolic_inputs
from .labels import labels_as_targets
from .origin import is_library_code
from .output_loss import OutputLoss, canonical_loss_name, loss_name, target_kind
from .outputs import ACTIVATION_RANGES, activation_of, output_keys, output_kinds, output_layers, output_names
from .targets import BINARY, LABELS, ONE_HOT, REAL, SPARSE, random_target, standardise, teacher_target, varies

__all__ = ["OutputLoss", "Objective", "objective_for", "canonical_loss_name", "NothingTrained", "MetricAsLoss",
           "WholeNumberOutput"]


def _mean_reduced(function: Callable[..., Any]) -> Callable[[Any, Any], Any]:
    """`function` as a loss of its mean. A plain function gets tensors, as fit() gives it (a `Loss`
    converts its own arguments): on PyTorch a NumPy array has no ``detach`` for `ops.stop_gradient`,
    and ``ndarray - tensor`` fails for a tensor that needs grad."""
    if isinstance(function, keras.losses.Loss):
        return function

    def mean_loss(y_true: Any, y_pred: Any) -> Any:
        return ops.mean(function(ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)))

    mean_loss.__wrapped__ = function  # type: ignore[attr-defined]  # (what the user wrote, for loss_identity)
    return mean_loss


def _default_loss(kind: str) -> tuple[Any, str]:
    if kind == "probabilities":
        return keras.losses.SparseCategoricalCrossentropy(), "sparse_categorical_crossentropy"
    if kind == "binary":
        return keras.losses.BinaryCrossentropy(), "binary_crossentropy"
    if kind == "logits":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse_categorical_crossentropy(from_logits=True)"
    return keras.losses.MeanSquaredError(), "mean_squared_error"


OWN_LOSSES = "the losses its layers add (add_loss), as compiled without a loss"
NO_LOSS = "no loss (compiled with None for it)"
NOT_IN_DICT = "no loss (not in the loss dict)"


class MetricAsLoss(UserCodeError):
    """The model is compiled with a metric object (``keras.metrics.Accuracy()``) as its loss: a
    metric records a running value that carries no gradient, and Keras' fit raises "No gradients
    provided for any variable"."""


def _metric_as_loss(identifier: Any, output: str) -> MetricAsLoss:
    """The error for a compiled loss that is a `keras.metrics.Metric` object."""
    cls = type(identifier).__name__
    same = hasattr(keras.losses, cls) and isinstance(getattr(keras.losses, cls), type)
    fix = (f"use the loss of the same name, keras.losses.{cls}()" if same else
           "use a loss (keras.losses..., or a name such as \"sparse_categorical_crossentropy\")")
    return MetricAsLoss(f"the model is compiled with the metric keras.metrics.{cls}() as the loss of output "
                        f"{output!r}: a metric only keeps a running value, which carries no gradient, so nothing "
                        "trains and Keras' fit raises \"No gradients provided for any variable\"",
                        hint=f"{fix}; metrics belong in metrics=[...]")


class WholeNumberOutput(UserCodeError):
    """An output with a loss gives integers or booleans (``Identity(dtype="int32")`` or a cast last):
    no gradient flows through whole numbers, and Keras' fit raises "No gradients provided"."""


class NothingTrained(UserCodeError):
    """The compiled loss trains none of the model's outputs (a loss dict whose keys name none of
    them, None for every output): Keras' own fit raises too, and there is no loss to differentiate."""


@dataclass
class Objective:
    """The losses of all outputs of a model, and the targets that fit them."""

    losses: list[OutputLoss]
    expected_initial: float | None = None  # ln(n_classes) for softmax cross-entropy, ln 2 for a sigmoid unit

    @property
    def own_losses_only(self) -> bool:
        """True for a model compiled without a loss: it trains the losses its layers add
        (``add_loss``, regularisers), which the engine adds to `total` (0 here)."""
        return not self.losses

    def maximised(self) -> list[OutputLoss]:
        """The trained outputs whose loss weight is negative: training makes their loss grow."""
        return [loss for loss in self.losses if loss.trained and loss.weight < 0]

    def describe(self) -> str:
        if self.own_losses_only:
            return OWN_LOSSES
        return ", ".join(f"{loss.output}: {loss.name}" for loss in self.losses)

    def targets(self, predictions: list[np.ndarray], seed: int,
                teacher: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """Synthetic targets with the shapes of `predictions` (one array per output): random,
        or derived from `teacher` (outputs of the same architecture with other weights), which
        a sound model can fit: class ids from the teacher's centred scores, 0/1 around its
        median, real values standardised per unit."""
        rng = np.random.default_rng(seed + 7919)
        taught = teacher if teacher is not None else [None] * len(predictions)
        return [teacher_target(loss, pred, t, rng) if t is not None and varies(t) and loss.targets != LABELS else
                random_target(loss.targets, tuple(pred.shape), rng, loss.bounds, loss.positive, loss.nonnegative,
                              axis=loss.class_axis(pred))
                for loss, pred, t in zip(self.losses, predictions, taught)]

    def spread(self, targets: list[np.ndarray]) -> float:
        """How large the regression outputs' `targets` are next to targets of unit spread, in the
        outputs' own losses: the loss of predicting each unit's mean for them over that loss for
        the same targets standardised (1.0 for standardised targets, whatever the loss; the square
        of the scale for mean squared error), a loss in percent counted as 100 times its fraction
        (its threshold is in percent too). A loss threshold meant for unit-spread targets is
        multiplied by it. 1.0 when no output is a regression, the targets do not vary, or a loss
        cannot be evaluated on a prediction of zeros."""
        actual = unit = 0.0
        for loss, y in zip(self.losses, targets):
            if loss.classification or not loss.trained:
                continue
            standardised, scale = standardise(np.asarray(y, dtype="float64"))
            zeros = np.zeros(standardised.shape, dtype="float32")
            try:
                actual += loss.weight * float(np.mean(ops.convert_to_numpy(
                    loss.function((standardised * scale).astype("float32"), zeros))))
                unit += loss.weight * float(np.mean(ops.convert_to_numpy(
                    loss.function(standardised.astype("float32"), zeros)))) / (100.0 if loss.percent else 1.0)
            except Exception:  # a user's loss that rejects an all-zero prediction: the threshold stays as given
                return 1.0
        ratio = actual / unit if unit > 0 else 1.0
        if not (math.isfinite(ratio) and ratio > 0) or math.isclose(ratio, 1.0, rel_tol=1e-5):
            return 1.0  # standardised targets, up to float rounding
        return ratio

    def least(self, targets: list[np.ndarray]) -> float:
        """The total loss of a perfect fit of `targets` over the outputs judged by their loss value
        (regressions, overlap losses): 0 for most losses, not for all (Poisson's is y - y log y,
        cosine similarity's -1). 0 where a loss cannot take its targets as predictions."""
        least = 0.0
        for loss, y in zip(self.losses, targets):
            if not loss.judged_by_value:
                continue
            try:
                value = float(np.mean(ops.convert_to_numpy(loss.function(y, np.asarray(y, dtype="float32")))))
            except Exception:  # a user's loss that rejects its targets as predictions: counted as 0
                continue
            least += loss.weight * value if math.isfinite(value) else 0.0
        return least

    def not_least_at_fit(self, targets: list[np.ndarray]) -> str | None:
        """The name of a loss of the user's own, judged by its value, that is lower just beside a
        perfect fit (predictions 0.1 of the targets' spread above or below them) than at it, so
        that `least` is not its least value (a contrastive loss on a distance, given real targets,
        falls as the distance shrinks); None when there is none."""
        for loss, y in zip(self.losses, targets):
            if not loss.judged_by_value or _is_keras_loss(getattr(loss.function, "__wrapped__", loss.function)):
                continue
            y = np.asarray(y, dtype="float32")
            step = 0.1 * (float(np.std(y)) or 1.0)
            try:
                at, below, above = (float(np.mean(ops.convert_to_numpy(loss.function(y, y + shift))))
                                    for shift in (0.0, -step, step))
            except Exception:  # a user's loss that rejects its targets as predictions: not judged here
                continue
            if math.isfinite(at) and min(below, above) < at - 1e-6 * max(1.0, abs(at)):
                return loss.name
        return None

    def from_labels(self, labels: list[np.ndarray], predictions: list[np.ndarray]) -> list[np.ndarray]:
        """An instructor's labels (class ids or one-hot rows; 0/1; values) in the form each
        output's loss takes (`modelcheck.model.labels`)."""
        return labels_as_targets(self.losses, labels, predictions)

    def total(self, targets: list[Any], predictions: list[Any]) -> Any:
        """The weighted sum of the output losses (a scalar tensor; 0.0 for `own_losses_only`, to
        which the engine adds the model's own). Raises `NothingTrained` when no output has a loss,
        rather than hand a constant to the gradient code."""
        if self.losses and not any(loss.trained for loss in self.losses):
            raise NothingTrained(f"no output of the model has a loss ({self.describe()}), so there is nothing to "
                                 "train or differentiate", hint=_NOTHING_TRAINED_HINT)
        value = 0.0
        for loss, y_true, y_pred in zip(self.losses, targets, predictions):
            if not loss.trained:
                continue
            # a mean, as Keras' compiled loss takes of a loss built with reduction=None
            value = value + loss.weight * ops.cast(ops.mean(loss.function(y_true, y_pred)), "float32")
        return value

    def accuracy(self, targets: list[np.ndarray], predictions: list[np.ndarray]) -> float | None:
        """The lowest batch accuracy over classification outputs (not those `judged_by_value`), or
        None if there are none."""
        scores = []
        for loss, y_true, y_pred in zip(self.losses, targets, predictions):
            y_pred = np.asarray(y_pred)
            if loss.judged_by_value or not loss.trained:
                continue
            if loss.targets == SPARSE:
                counted = np.asarray(y_true) != loss.ignored_class  # the loss skips the ignored class's samples
                if np.any(counted):
                    scores.append(float(np.mean((np.argmax(y_pred, axis=-1) == y_true)[counted])))
            elif loss.targets == ONE_HOT and y_pred.shape[loss.class_axis(y_pred)] > 1:  # (a pointer's: axis 1)
                axis = loss.class_axis(y_pred)
                scores.append(float(np.mean(np.argmax(y_pred, axis=axis) == np.argmax(y_true, axis=axis))))
            elif loss.targets in (BINARY, ONE_HOT):  # (one unit: an argmax is always 0, so judged as yes/no)
                threshold = 0.0 if loss.kind == "logits" else 0.5
                scores.append(float(np.mean((y_pred > threshold) == (y_true > 0.5))))
        return min(scores) if scores else None


def _is_keras_loss(identifier: Any) -> bool:
    """True for a loss Keras names (a string, or a class or function of keras.losses)."""
    if isinstance(identifier, str):
        return True
    owner = type(identifier) if isinstance(identifier, keras.losses.Loss) else identifier
    return is_library_code(owner)


_CANDIDATES = {"probabilities": (ONE_HOT, SPARSE, REAL), "logits": (ONE_HOT, SPARSE, REAL),
               "binary": (BINARY, REAL), "regression": (REAL,)}


# How many rows a 1-row prediction is probed with (see `_gives_a_value`): any number above 1 rejects a
# shape that only broadcasts against one row.
_PROBE_ROWS = 3


# Tried after the candidates of an output's kind: a linear output is read as a regression, yet the
# user's own loss may take class ids for it (a cross-entropy on logits written with keras.ops).
_OTHER_KINDS = (SPARSE, ONE_HOT, BINARY, REAL)


def _accepted_targets(function: Callable[[Any, Any], Any], kind: str, prediction: Any) -> str:
    """The first target kind, in the order `kind` suggests and then any other, on which the
    user's loss gives a finite value; the first candidate when none does (its error then reaches
    the user)."""
    candidates = _CANDIDATES.get(kind, (REAL,))
    tried = candidates + tuple(k for k in _OTHER_KINDS if k not in candidates)
    return next((c for c in tried if _gives_a_value(function, c, prediction)), candidates[0])


def _gives_a_value(function: Callable[[Any, Any], Any], targets: str, prediction: Any, *,
                   finite: bool = True) -> bool:
    """Whether `function` takes random targets of kind `targets` for `prediction` without raising
    (and, with `finite`, gives a finite value). A prediction of one row is probed as `_PROBE_ROWS`
    copies of it: on one row, targets of the wrong shape may broadcast (one-hot rows flattened into
    class ids index a 1-row prediction) where the real batch rejects them."""
    pred = np.asarray(prediction)
    if pred.ndim and pred.shape[0] == 1:
        pred = np.repeat(pred, _PROBE_ROWS, axis=0)
    try:
        value = np.asarray(ops.convert_to_numpy(function(
            random_target(targets, tuple(pred.shape), np.random.default_rng(0)), pred)))
    except Exception:  # the loss rejects these targets
        return False
    return bool(value.size) and (not finite or bool(np.all(np.isfinite(value))))


def _keras_loss_targets(function: Callable[[Any, Any], Any], targets: str, prediction: Any) -> str:
    """`targets`, or one label per sample for a Keras loss that raises on targets shaped like its
    output (Circle, a metric-learning loss, takes labels of shape (batch,))."""
    if _gives_a_value(function, targets, prediction, finite=False):
        return targets
    return LABELS if _gives_a_value(function, LABELS, prediction, finite=False) else targets


def objective_for(model: keras.Model, predictions: list[Any], *, output: Any = None,
                  use_compiled: bool = True) -> Objective:
    """The `Objective` for `model`: its compiled loss if it has one (and `use_compiled`),
    else a loss suited to each output's kind (declared with `output`, or inferred)."""
    count = len(predictions)
    if use_compiled and compiled_without_loss(model) and model.losses:
        return Objective([])  # compiled without a loss: Keras trains the losses its layers add, and so do we
    kinds = output_kinds(model, output, n_outputs=count)
    layers = output_layers(model) if len(output_layers(model)) == count else []
    compiled_loss = compiled_loss_of(model) if use_compiled else None
    # the keys of a dict output; a subclassed model's are read from a forward pass, so only when a dict needs them
    weights_given = use_compiled and compiled_loss is not None and compile_arguments(model).get("loss_weights") is not None
    keys = output_keys(model) if isinstance(compiled_loss, dict) or weights_given else None
    keys = keys if keys is not None and len(keys) == count else None
    if has_symbolic_inputs(model) and len(output_names(model)) == count:
        names = output_names(model)
    else:  # a subclassed model: the keys of the dict it returns, else by position
        names = keys if keys is not None else [f"output_{i}" for i in range(count)]
    per_loss = per_output(compiled_loss, names, count, keys)
    per_weight = output_loss_weights(model, names, keys, has_symbolic_inputs(model)) if use_compiled else [None] * count
    named = keys is not None or has_symbolic_inputs(model)
    if isinstance(compiled_loss, dict) and named and any(loss is not None for loss in per_loss):
        stray = [str(key) for key in compiled_loss if str(key) not in {*names, *(keys or [])}]
        if stray:  # a misspelt key: fit() raises KeyError, so this is no output left out on purpose
            raise _nothing_trained(compiled_loss, names, named, stray)
    losses = []
    for i in range(count):
        identifier = per_loss[i]
        kind = kinds[i] if i < len(kinds) else "regression"
        if identifier is None:
            function, name = _default_loss(kind)
            if compiled_loss is not None:  # Keras trains this output with no loss: neither do we
                name = NOT_IN_DICT if isinstance(compiled_loss, dict) else NO_LOSS
        elif isinstance(identifier, keras.metrics.Metric):
            raise _metric_as_loss(identifier, names[i])
        else:
            name = loss_name(identifier)
            try:
                function = _mean_reduced(keras.losses.get(identifier) if not callable(identifier) else identifier)
            except (ValueError, TypeError) as exc:
                raise UserCodeError(
                    f"the model is compiled with loss {identifier!r}, which Keras does not know",
                    hint="use a Keras loss name such as \"mse\" or \"sparse_categorical_crossentropy\".",
                    original=exc,
                ) from exc
        weight = per_weight[i]
        targets = target_kind(name, kind)
        if identifier is not None and not _is_keras_loss(identifier):
            targets = _accepted_targets(function, kind, predictions[i])
        elif identifier is not None:
            targets = _keras_loss_targets(function, targets, predictions[i])
        layer = layers[i] if i < len(layers) else None
        losses.append(OutputLoss(name, function, 1.0 if weight is None else float(weight),
                                 targets, kind, names[i], _bounds(layer), _nonnegative(layer),
                                 trained=name not in (NO_LOSS, NOT_IN_DICT), reachable_only=_range_set_after(layer)))
    if compiled_loss is not None and losses and not any(loss.trained for loss in losses):
        raise _nothing_trained(compiled_loss, names, named)
    whole = [(loss, _whole_number_dtype(p)) for loss, p in zip(losses, predictions) if loss.trained]
    for loss, dtype in whole:
        if dtype is not None:
            alone = all(other is not None for _, other in whole)
            raise WholeNumberOutput(
                f"output {loss.output!r} gives whole numbers (dtype {dtype}): its loss {loss.name} cannot be "
                "differentiated through them, so " + ("nothing trains; Keras' fit fails on it too" if alone else
                                                      "that loss trains nothing"),
                hint="keep the model's outputs floating-point: remove dtype=\"int32\" (or the cast to integers) from "
                "the last layer, and take class ids with argmax on what predict() returns, outside the model")
    users_own = any(i is not None and not _is_keras_loss(i) for i in per_loss)
    return Objective(losses, None if users_own else _expected_initial(losses, predictions))


def _whole_number_dtype(prediction: Any) -> str | None:
    """The name of `prediction`'s dtype when it holds integers or booleans (an output cast to int32),
    else None (floats, or a dtype NumPy does not know, as bfloat16 without ml_dtypes)."""
    name = str(getattr(prediction, "dtype", "")).split(".")[-1]  # (torch.int32 -> int32)
    try:
        dtype = np.dtype(name)
    except TypeError:
        return None
    return dtype.name if dtype.kind in "biu" else None


_NOTHING_TRAINED_HINT = ("key the loss dict by the model's outputs: the keys of the dict its call returns, or the "
                         "names of its output layers (model.output_names); or compile with one loss for all of them")


def _nothing_trained(compiled_loss: Any, names: list[str], named: bool,
                     stray: list[str] | None = None) -> NothingTrained:
    """The error for a compiled loss that trains none of the outputs `names` (`named`: names the
    model gives them, rather than positions), or whose dict has `stray` keys naming no output."""
    outputs = ", ".join(repr(name) for name in names)
    if stray:
        given = ", ".join(repr(key) for key in stray)
        return NothingTrained(f"the loss dict's key{'s' if len(stray) > 1 else ''} {given} name{'' if len(stray) > 1 else 's'} "
                              f"no output of the model: its outputs are {outputs}; Keras' fit raises KeyError "
                              "for it, so the model cannot be trained as compiled",
                              hint=_NOTHING_TRAINED_HINT)
    if isinstance(compiled_loss, dict):
        given = ", ".join(repr(str(key)) for key in compiled_loss)
        received = (f"its outputs are {outputs}" if named else
                    f"it returns {len(names)} output{'s' if len(names) != 1 else ''} that a flat dict does not name")
        return NothingTrained(f"the loss dict's keys ({given}) name none of the model's outputs: {received}; "
                              "Keras' fit rejects these keys too, and no output would be trained",
                              hint=_NOTHING_TRAINED_HINT)
    return NothingTrained(f"the model is compiled with loss None for every output ({outputs}), so no output is "
                          "trained; Keras' fit raises \"No loss to compute\"",
                          hint="compile with a loss for at least one output")


def _bounds(layer: Any) -> tuple[float, float] | None:
    """The interval an output layer's activation maps into, when it is bounded on both sides
    (sigmoid, tanh, hard_sigmoid; a softmax's outputs are tied to each other), else None."""
    low, high, _ = ACTIVATION_RANGES.get(activation_of(layer) or "", (0.0, None, ""))
    return None if high is None or activation_of(layer) == "softmax" else (low, high)


def _range_set_after(layer: Any) -> bool:
    """True for an output whose range something other than a known activation may limit: an
    operation or a layer without an activation of its own (Rescaling, Dot, Lambda, a merge), or
    a layer whose bias is constrained (NonNeg: no shift downwards). Standardised targets (centred
    and scaled, which a last layer's free bias and kernel realise) may lie out of its reach; the
    teacher's own values (the same architecture, other weights) do not. False for a subclassed
    model's output (no layer known) and for a layer whose activation is read."""
    if layer is None or activation_of(layer) not in (None, "linear"):
        return False
    if not isinstance(layer, keras.layers.Layer) or not hasattr(layer, "activation"):
        return True
    return getattr(layer, "bias_constraint", None) is not None


def _nonnegative(layer: Any) -> bool:
    """True for an output layer whose activation produces values of 0 or more only, unbounded above
    (relu, softplus, exponential)."""
    low, high, _ = ACTIVATION_RANGES.get(activation_of(layer) or "", (None, None, ""))
    return low is not None and low >= 0.0 and high is None


def _expected_initial(losses: list[OutputLoss], predictions: list[Any]) -> float | None:
    total = 0.0
    for loss, pred in zip(losses, predictions):
        classes = int(pred.shape[loss.class_axis(pred)]) if len(pred.shape) > 1 else 1
        if not loss.trained:
            continue
        if loss.targets in (SPARSE, ONE_HOT) and loss.kind in ("probabilities", "logits") and classes > 1:
            total += loss.weight * math.log(classes) * loss.summed_terms(pred)
        elif loss.targets == BINARY and loss.kind in ("binary", "logits"):
            total += loss.weight * math.log(2) * loss.summed_terms(pred)
        else:
            return None
    return total

