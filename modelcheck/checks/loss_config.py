"""Does the compiled loss fit the output layer? Judged from the configuration alone.

These are the mistakes students make most: ``from_logits=True`` on a softmax, categorical
cross-entropy on a sigmoid or a 1-unit output, binary cross-entropy on a 10-way softmax, a
ReLU or sigmoid output trained on a regression loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from ..model.outputs import (ACTIVATION_RANGES, activation_of, innermost_output_layer, output_kinds, output_layers,
                             softmax_axes, softmax_size)
from ..model.targets import class_axis
from ..model.inputs import synthetic_inputs
from ..model.origin import is_library_code
from ..model.objective import (MetricAsLoss, NothingTrained, OutputLoss, WholeNumberOutput, canonical_loss_name,
                               objective_for)
from ..core.messages import also, for_audience, mismatch, output_ref
from ..model import loops
from ..core.errors import UserCodeError
from ..core.result import CheckResult
from ..model.compiled import compiled_loss
from .common import check, forward
from .loss_identity import keras_equivalent

__all__ = ["check_loss_matches_output", "loss_misfit", "cross_entropy_misfit", "output_misfits", "LossFacts",
           "loss_facts", "loss_family", "negative_weight", "zero_weight", "unweighted"]

NAME = "loss_matches_output"

SPARSE_CE = "sparse_ce"
CATEGORICAL_CE = "categorical_ce"
BINARY_CE = "binary_ce"
REGRESSION = "regression"
OTHER = "other"

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
_PROBABILITIES = ("softmax", "sigmoid")
# Regression losses whose targets are 0 or more by definition (log(1 + y)): the range they imply.
_IMPLIED_RANGES: dict[str, tuple[float | None, float | None]] = {"mean_squared_logarithmic_error": (0.0, None)}


@dataclass(frozen=True)
class LossFacts:
    """What a loss is: its canonical snake_case name, its family and whether it expects logits;
    for the user's own loss found to compute a Keras one, `written` is the name the user gave it."""

    name: str
    family: str
    from_logits: bool
    written: str | None = None

    @property
    def shown(self) -> str:
        """The loss as messages name it: the user's own function with what it computes."""
        return self.name if self.written is None else f"{self.written} (which computes {self.name})"


def loss_facts(loss: OutputLoss, output_shape: tuple[Any, ...] | None = None) -> LossFacts:
    """The `LossFacts` of one output's loss (compiled or default). Given the output's shape, a loss
    of the user's own that computes a Keras loss is judged as that loss (`keras_equivalent`)."""
    name = canonical_loss_name(loss.name.split("(")[0])
    config = {}
    if isinstance(loss.function, keras.losses.Loss):
        try:
            config = loss.function.get_config() or {}
        except NotImplementedError:  # a custom Loss without get_config
            config = {}
    from_logits = bool(config.get("from_logits", "from_logits=True" in loss.name))
    if name not in _FAMILIES and output_shape is not None:
        found = keras_equivalent(loss.function, output_shape)
        if found is not None:
            return LossFacts(found[0], _FAMILIES[found[0]], found[1], written=loss.name)
    return LossFacts(name, _FAMILIES.get(name, OTHER), from_logits)


def loss_family(name: str) -> str:
    """The family of a loss named in any of Keras' spellings (`SPARSE_CE`, `CATEGORICAL_CE`,
    `BINARY_CE`, `REGRESSION` or `OTHER`)."""
    return _FAMILIES.get(canonical_loss_name(name), OTHER)


def negative_weight(loss: OutputLoss) -> str:
    """The `mismatch` message for an output whose loss weight is negative."""
    return mismatch("loss weight", "a weight of 0 or more", f"{loss.weight:g}", at=output_ref(loss.output),
                    note=f"a negative weight makes training maximise {loss.name}: the model learns to be as wrong as "
                    "it can, while the total loss it reports falls; use a positive loss_weights entry")


def zero_weight(loss: OutputLoss) -> str:
    """The `mismatch` message for an output whose loss weight is zero."""
    return mismatch("loss weight", "a weight above 0", f"{loss.weight:g}", at=output_ref(loss.output),
                    note=f"a weight of 0 multiplies {loss.name} by zero, so no gradient reaches any weight and the "
                    "model never learns from its labels: use a positive loss_weights entry (or leave loss_weights out)")


def unweighted(objective: Any) -> list[OutputLoss]:
    """The trained outputs of `objective` when every one of them has a loss weight of 0 (the
    compiled loss then trains nothing), else an empty list (a 0 on one head of several is a choice)."""
    trained = [loss for loss in getattr(objective, "losses", []) if loss.trained]
    return trained if trained and all(loss.weight == 0 for loss in trained) else []


def _findings(facts: LossFacts, activation: str | None, units: int, output: str,
              target_range: tuple[float | None, float | None] | None, softmax_units: int | None = None) -> list[str]:
    """One `mismatch` message, with its fix, per problem of one output: `units` counted along the
    axis the loss reads the classes on, `softmax_units` along the softmax's own axis."""
    loss = facts.shown
    where = output_ref(output)
    found = []
    softmax_units = units if softmax_units is None else softmax_units
    if activation == "softmax" and softmax_units == 1:
        found.append(mismatch("output units", "2 or more units under a softmax", "a softmax over a single unit",
                              at=where, note="it always outputs 1.0: for two classes use "
                              "Dense(1, activation=\"sigmoid\") with binary_crossentropy"))
    if facts.from_logits and activation in _PROBABILITIES:
        found.append(mismatch("loss", f"{loss} without from_logits=True, since the output applies {activation}",
                              f"{loss} compiled with from_logits=True", at=where,
                              note=f"the loss applies {activation} a second time and the gradients flatten: remove "
                              f"from_logits=True (or remove the {activation} activation and keep from_logits=True)"))
    if facts.family in (SPARSE_CE, CATEGORICAL_CE):
        if units == 1:
            labels = ("integer labels 0..n-1 need n output units; label 1 is out of range for 1 unit"
                      if facts.family == SPARSE_CE else "the loss divides the outputs by their sum, so a single unit is always 1 and the loss "
                      "always 0")
            found.append(mismatch("output units", f"one unit per class for {loss}", "1 unit", at=where,
                                  note=f"{labels}; for two classes use Dense(1, activation=\"sigmoid\") with "
                                  "binary_crossentropy, or Dense(2, activation=\"softmax\")"))
        elif activation == "sigmoid" and not facts.from_logits:
            found.append(mismatch("output activation", f"softmax for {loss}, which expects probabilities that sum "
                                  "to 1", "sigmoid", at=where, note="use activation=\"softmax\" for one class per "
                                  "sample, or binary_crossentropy for several labels per sample"))
        elif activation is not None and activation not in _PROBABILITIES and not facts.from_logits:
            found.append(mismatch("output activation", f"softmax for {loss}, which expects probabilities",
                                  repr(activation), at=where, note="raw scores can be negative: add "
                                  "activation=\"softmax\", or compile with "
                                  f"keras.losses.{_class_name(facts.name)}(from_logits=True)"))
    elif facts.family == BINARY_CE:
        if activation == "softmax" and softmax_units > 1:
            found.append(mismatch("loss", f"sparse_categorical_crossentropy or categorical_crossentropy for a "
                                  f"{softmax_units}-way softmax", loss, at=where,
                                  note=f"{loss} treats each of the {softmax_units} units as its own yes/no question while "
                                  "the softmax makes them compete: use sparse_categorical_crossentropy (integer "
                                  "labels) or categorical_crossentropy (one-hot labels); for several labels per "
                                  "sample use activation=\"sigmoid\""))
        elif activation is not None and activation not in _PROBABILITIES and not facts.from_logits:
            found.append(mismatch("output activation", f"sigmoid for {loss}, which expects probabilities between 0 "
                                  "and 1", repr(activation), at=where, note="add activation=\"sigmoid\", or compile "
                                  "with keras.losses.BinaryCrossentropy(from_logits=True)"))
    elif facts.family == REGRESSION and activation in ACTIVATION_RANGES:
        low, high, words = ACTIVATION_RANGES[activation]
        target_range = target_range if target_range is not None else _IMPLIED_RANGES.get(facts.name)
        fits = target_range is not None and _within(target_range, low, high)
        if not fits:
            classes = "; for classification use a cross-entropy loss" if activation == "softmax" else ""
            # a softmax is a classifier's: the student reads the fix for that first
            student = ("a softmax gives class probabilities: for classification use a cross-entropy loss "
                       "(categorical_crossentropy for one-hot labels, sparse_categorical_crossentropy for class ids); "
                       "for a regression use activation=None (a linear output)" if activation == "softmax" else
                       "the grader is not told that the targets stay within that range: use activation=None (a "
                       "linear output), or ask your instructor if they do")
            found.append(mismatch("output activation", f"a linear output for the regression loss {loss}",
                                  f"{activation}, which can only predict {words}", at=where,
                                  note=for_audience(
                                      loops.current().audience,
                                      configurer=f"if the targets can be outside that range use activation=None"
                                      f"{classes}, or pass target_range=(low, high) when the targets fit",
                                      student=student)))
    return found


def _softmax_axis_finding(loss: OutputLoss, facts: LossFacts, layer: Any, shape: tuple[Any, ...]) -> str | None:
    """The finding for a softmax over another axis than the one the cross-entropy reads the classes
    along (a tagger's softmax over its tokens): Keras' cross-entropy divides each position's outputs
    by their sum, so fit trains and reports nothing wrong, while predict() gives no probabilities."""
    if facts.family not in (SPARSE_CE, CATEGORICAL_CE) or facts.from_logits or len(shape) < 2:
        return None
    axes = softmax_axes(layer, len(shape))
    loss_axis = class_axis(loss.function, len(shape))
    if axes is None or axes == (loss_axis,):
        return None
    sizes = " x ".join(str(shape[a]) for a in axes)
    received = f"a softmax over axis {axes[0]}" if len(axes) == 1 else f"a softmax over axes {axes}"
    reads = "the last (axis=-1)" if loss_axis == len(shape) - 1 else f"axis {loss_axis}"
    return mismatch("softmax axis", f"the classes' axis, {reads}, where {facts.shown} reads them",
                    f"{received} ({sizes} values)", at=output_ref(loss.output),
                    note="the class scores of each position do not sum to 1: Keras' cross-entropy divides them by "
                    "their sum, so fit trains and reports nothing wrong, but predict() gives no class "
                    "probabilities; apply the softmax over the classes (Softmax() or axis=-1)")


def _shown(judged: dict[str, Any]) -> str:
    """A judged output's loss as messages name it (see `LossFacts.shown`)."""
    written = judged.get("written")
    return judged["loss"] if written is None else f"{written} (which computes {judged['loss']})"


def _within(target_range: tuple[float | None, float | None], low: float, high: float | None) -> bool:
    t_low, t_high = target_range
    ok_low = t_low is not None and t_low >= low
    ok_high = high is None or (t_high is not None and t_high <= high)
    return ok_low and ok_high


def _class_name(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _unseen_activation(layer: keras.layers.Layer | None) -> str | None:
    """Why the activation of an output layer cannot be read from its configuration; None when it can
    (a nested model's is its own output layer's)."""
    layer = innermost_output_layer(layer)
    if layer is None:
        return "the model is subclassed, so the layer behind each output cannot be seen"
    if not isinstance(layer, keras.layers.Layer):  # an operation: keras.ops.softmax(z) is read, z * 2.0 is not
        if activation_of(layer) is not None:
            return None
        return (f"the output is computed by the operation {layer.name!r} ({type(layer).__name__}), not by a layer, "
                "so the activation of what it is applied to is not read")
    if isinstance(layer, keras.layers.Lambda):
        return f"layer {layer.name!r} is a Lambda, whose function can apply any activation"
    if isinstance(layer, keras.Model):
        return f"layer {layer.name!r} is a nested model, whose last layer decides the activation"
    if not is_library_code(type(layer)):
        return f"layer {layer.name!r} is a custom {type(layer).__name__} layer, whose call can apply any activation"
    return None


_Reading = tuple[list[str], list[dict[str, Any]], dict[str, list[str]]]


_CLASSIFIER_KINDS = ("probabilities", "binary", "logits")


def _declared_kind_finding(facts: LossFacts, activation: str | None, kind: str | None, output: str) -> str | None:
    """A regression loss on a linear output declared a classifier's: the loss and the layer agree
    with each other (a linear output under mse), but not with what the output is for."""
    if kind not in _CLASSIFIER_KINDS or facts.family != REGRESSION or activation not in (None, "linear"):
        return None
    words = {"probabilities": "class probabilities", "binary": "yes/no probabilities", "logits": "class scores"}[kind]
    fix = ("binary_crossentropy" if kind == "binary" else
           "sparse_categorical_crossentropy (class ids) or categorical_crossentropy (one-hot labels)")
    return mismatch("loss", f"a cross-entropy loss, since the output gives {words}", f"{facts.shown} on a linear "
                    "output", at=output_ref(output), note=f"{facts.shown} fits numbers to numbers and never learns "
                    f"which class is right: use {fix}"
                    + (", with from_logits=True on a linear output" if kind != "probabilities" else
                       " after a softmax"))


def _zeros(shape: list[int], dtype: str) -> np.ndarray:
    """Zeros of an output's shape and dtype; float32 for a dtype NumPy does not know (bfloat16)."""
    try:
        return np.zeros(shape, dtype.split(".")[-1])
    except TypeError:
        return np.zeros(shape, "float32")


def _reading(model: keras.Model, target_range: tuple[float | None, float | None] | None,
             seed: int, output: Any = None) -> CheckResult | _Reading:
    """What the check reads of each output and its loss: the problems found, the outputs judged and
    why an activation could not be read (-> the outputs concerned); or the check's result when
    there is nothing to read (no loss, no output trained, a metric compiled as the loss)."""
    if compiled_loss(model) is None:
        return CheckResult.skip(NAME, "the model is not compiled with a loss, so there is none to judge; compile it "
                                "in the builder (model.compile(loss=..., optimizer=...)) to have it checked")
    try:
        shapes, dtypes = [tuple(t.shape) for t in model.outputs], [str(t.dtype) for t in model.outputs]
    except AttributeError:  # subclassed: one cheap forward pass gives the output shapes
        outputs = forward(model, synthetic_inputs(model, 2, seed))
        shapes, dtypes = [tuple(o.shape) for o in outputs], [str(o.dtype) for o in outputs]
    predictions = [_zeros([1 if d is None else d for d in shape], dtype) for shape, dtype in zip(shapes, dtypes)]
    try:
        objective = objective_for(model, predictions)
    except WholeNumberOutput as exc:  # (fit raises on it: no loss fits an integer output)
        return CheckResult.fail(NAME, exc.message, expected="floating-point outputs", received=dtypes, hint=exc.hint)
    except NothingTrained as exc:
        return CheckResult.skip(NAME, f"no output to judge the loss against: {exc.message}", hint=exc.hint)
    except MetricAsLoss as exc:  # fit raises on it: the loss does not fit any output
        return CheckResult.fail(NAME, exc.message, expected="a loss that fits each output layer",
                                received="a metric object", hint=exc.hint)
    layers = output_layers(model)
    layers += [None] * (len(shapes) - len(layers))
    kinds = output_kinds(model, output, len(shapes)) if output is not None else [None] * len(shapes)
    judged = []
    findings: list[str] = []
    unseen: dict[str, list[str]] = {}  # why an activation cannot be seen -> the outputs it concerns
    for loss, shape, layer, kind in zip(objective.losses, shapes, layers, kinds):
        if not loss.trained:
            continue  # an output compiled with no loss: nothing to fit it to
        if loss.weight < 0:
            findings.append(negative_weight(loss))
        facts = loss_facts(loss, shape)
        why = _unseen_activation(layer)
        activation = activation_of(layer) if why is None else None
        if why is not None:
            unseen.setdefault(why, []).append(output_ref(loss.output))
        # (a cross-entropy's classes lie along its axis: a pointer's softmax over its steps, axis 1)
        axis = class_axis(loss.function, len(shape)) if facts.family in (SPARSE_CE, CATEGORICAL_CE) else -1
        units = int(shape[axis]) if len(shape) > 1 and shape[axis] is not None else 1
        own = _findings(facts, activation, units, loss.output, target_range,
                        softmax_size(layer, shape) if activation == "softmax" else None)
        judged.append({"output": loss.output, "loss": facts.name, "from_logits": facts.from_logits,
                       "activation": activation, "units": units, "activation_unseen": why,
                       "misfit": own[0].splitlines()[0] if own else None,
                       **({"written": facts.written} if facts.written else {})})
        findings += own
        if why is None:
            findings += [f for f in (_declared_kind_finding(facts, activation, kind, loss.output),
                                     _softmax_axis_finding(loss, facts, layer, shape)) if f]
    return findings, judged, unseen


def loss_misfit(model: keras.Model) -> str | None:
    """The first line of the first problem `check_loss_matches_output` would find with the
    compiled loss against the outputs (a sparse cross-entropy over one sigmoid unit is always 0),
    None when it finds none. Not a check: it leaves the random generators as they are."""
    reading = _quiet_reading(model)
    if isinstance(reading, CheckResult):
        return reading.message.splitlines()[0] if reading.status == "failed" else None
    findings = reading[0] if reading is not None else []
    return also(findings[0], findings[1:]).splitlines()[0] if findings else None


def _quiet_reading(model: keras.Model) -> CheckResult | _Reading | None:
    """`_reading` for another check's message; None where the model's forward pass fails (a
    subclassed model: the caller reports that itself)."""
    try:
        return _reading(model, None, 0)
    except UserCodeError:
        return None


def output_misfits(model: keras.Model, families: tuple[str, ...] | None = None) -> dict[str, str]:
    """Output name -> the first line of how its compiled loss misfits it (`check_loss_matches_output`'s
    rules), for the outputs where one does (whose loss is of one of `families`, when given). Not a
    check: it leaves the random generators as they are."""
    reading = _quiet_reading(model)
    if reading is None or isinstance(reading, CheckResult):
        return {}
    return {j["output"]: j["misfit"] for j in reading[1]
            if j.get("misfit") and (families is None or _FAMILIES.get(j["loss"], OTHER) in families)}


def cross_entropy_misfit(model: keras.Model) -> str | None:
    """The first line of how a cross-entropy misfits its output (binary_crossentropy on a softmax,
    from_logits=True on a softmax, a softmax over one unit), None when none does: mistakes whatever
    the targets are, unlike a bounded output under a regression loss, which fits targets in its range."""
    return next(iter(output_misfits(model, (SPARSE_CE, CATEGORICAL_CE, BINARY_CE)).values()), None)


@check(NAME)
def check_loss_matches_output(
    model: keras.Model,
    *,
    target_range: tuple[float | None, float | None] | None = None,
    output: Any = None,
    seed: int = 0,
) -> CheckResult:
    """Judge the compiled loss against each output layer, without training.

    Flags ``from_logits=True`` on a softmax/sigmoid output; (sparse) categorical
    cross-entropy on a sigmoid, linear or 1-unit output; binary cross-entropy on a multi-unit
    softmax or a linear output; a softmax over one unit; a ReLU/sigmoid/tanh/softmax output
    with a regression loss (pass ``target_range=(0, 1)`` when the targets do fit the range; MSLE,
    whose targets are 0 or more by definition, takes a ReLU or softplus output).
    An activation applied with ``keras.ops`` at a functional model's output
    (``keras.ops.softmax(z)``, ``keras.ops.sigmoid(z)``, ``keras.ops.log_softmax(z)``) counts as
    that activation. Skipped: an uncompiled model; one whose compiled loss trains none of its
    outputs (a loss dict keyed by names it does not have); one whose losses are none it has a rule
    for (a loss of the user's own, hinge...); and, unless a problem is found on what
    can be read, one whose output activation cannot be read from the configuration (a subclassed
    model, a Lambda, nested model, custom layer or another operation at an output). With `output`
    (the declared kind(s), `modelcheck.core.spec.OUTPUT_KINDS`), a regression loss on a linear output
    declared a classifier's fails too: the two agree with each other, not with what the output is for.

    Example::

        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
        check_loss_matches_output(model).message
        # "loss: expected sparse_categorical_crossentropy without from_logits=True, since the output applies
        #  softmax, received sparse_categorical_crossentropy compiled with from_logits=True, at output 'dense_1'; ..."
    """
    reading = _reading(model, target_range, seed, output)
    if isinstance(reading, CheckResult):
        return reading
    findings, judged, unseen = reading
    details = {"outputs": judged}
    expected = "a loss that fits each output layer"
    if findings:
        return CheckResult.fail(NAME, also(findings[0], findings[1:]), expected=expected, received=judged,
                                details=details,
                                hint="softmax + (sparse_)categorical_crossentropy for one class per sample, sigmoid + "
                                "binary_crossentropy for yes/no, a linear output + mse for regression; "
                                "from_logits=True only when the output has no activation.")
    if not judged:  # (NothingTrained stops a compiled loss that trains no output before this)
        return CheckResult.skip(NAME, "no output has a compiled loss, so there is no loss to judge",
                                expected=expected, received=judged, details=details)
    if unseen:
        reasons = "; ".join(f"{why} ({', '.join(outputs)})" for why, outputs in unseen.items())
        return CheckResult.skip(NAME, f"cannot judge the loss without the output's activation: {reasons}"
                                + for_audience(loops.current().audience,
                                               configurer="; check the loss by hand, or run check_loss_at_init, "
                                               "check_overfit_batch and check_loss_decrease",
                                               student="; check by hand that the loss fits the output"),
                                expected=expected, received=judged, details=details)
    # a loss with no rule here (the user's own, hinge, KL divergence...): nothing was judged of it
    unruled = [j for j in judged if _FAMILIES.get(j["loss"], OTHER) == OTHER]
    if len(unruled) == len(judged):
        losses = ", ".join(dict.fromkeys(j["loss"] for j in unruled))
        return CheckResult.skip(NAME, f"cannot judge whether {losses} fits the output: modelcheck knows what the "
                                "cross-entropies and the regression losses need of an output, not what this loss "
                                "needs; overfit_batch and loss_decrease judge it by training", expected=expected,
                                received=judged, details=details)
    summary = ", ".join(f"{j['output']}: {_shown(j)} on {j['activation'] or 'no activation'}" for j in judged
                        if j not in unruled)
    named = ", ".join(f"{j['output']} ({j['loss']})" for j in unruled)
    others = f"; not judged: {named}, a loss whose needs modelcheck does not know" if unruled else ""
    return CheckResult.ok(NAME, f"the loss fits the output ({summary}){others}", expected=expected, received=judged,
                          details=details)
