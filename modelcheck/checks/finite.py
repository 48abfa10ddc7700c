"""No NaN or Inf anywhere: weights, every layer's output, the loss and the gradients.

Layer by layer for functional and Sequential models, so a failure names the first layer
where a non-finite value appears; subclassed models are judged on weights and outputs.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from ..core.errors import call_user_code
from ..model.outputs import describe_nonfinite, output_names
from ..model.inputs import batch_size_for, synthetic_inputs
from ..model.objective import objective_for
from ..core.messages import for_audience, layer_ref, mismatch, output_ref
from ..model import loops
from ..core.result import CheckResult
from .common import check, default_batch, forward
from .gradients import gradients
from ..model.probe import float_arrays, layer_probe
from ..model.variables import variable_labels

__all__ = ["check_finite"]

NAME = "finite"
EXPECTED = "finite weights, layer outputs, loss and gradients"


def _nonfinite(values: Any) -> bool:
    array = np.asarray(values)
    return np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array))


def _weights(model: keras.Model) -> list[tuple[keras.layers.Layer | None, str, str]]:
    """(layer, "layer/variable", what is wrong) for every weight holding NaN/Inf."""
    labels = variable_labels(model)
    found = []
    for variable in model.variables:
        value = keras.ops.convert_to_numpy(variable)
        if _nonfinite(value):
            layer, label = labels[id(variable)]
            found.append((layer, label, describe_nonfinite(value)))
    return found


def _layer_cause(layer: keras.layers.Layer) -> str:
    if isinstance(layer, keras.layers.Lambda):
        return "an operation in the Lambda is undefined or overflows (log or sqrt of a negative number, a division by 0)"
    activation = getattr(getattr(layer, "activation", None), "__name__", "")
    if activation in ("exponential", "exp"):
        return "its exponential activation overflows on large inputs"
    return "it overflows or divides by zero on a finite input (its own weights are finite)"


def _first_bad_layer(model: keras.Model, x: Any) -> tuple[str, str, dict[str, Any]] | None:
    """(layer name, message, details) for the first layer whose output is non-finite; None if
    the model cannot be probed (subclassed), ("", "", ...) if every layer is finite."""
    probe = layer_probe(model)
    if probe is None:
        return None
    for layer, outputs in zip(probe.layers, probe.run(x)):
        bad = [o for o in float_arrays(outputs) if not np.all(np.isfinite(o))]
        if bad:
            message = mismatch("layer output", "finite values", describe_nonfinite(bad[0]),
                               at=layer_ref(layer.name, type(layer).__name__),
                               note=f"the first layer to output NaN/Inf although its inputs are finite: "
                               f"{_layer_cause(layer)}")
            return layer.name, message, {"first_nonfinite_layer": layer.name}
    return "", "", {"first_nonfinite_layer": None}


@check(NAME)
def check_finite(
    model: keras.Model,
    *,
    output: Any = None,
    batch_size: int | None = None,
    seed: int = 0,
) -> CheckResult:
    """Look for NaN/Inf in the weights, the output of every layer (inference mode), the loss and
    the gradients of every trainable variable (training mode), on a finite synthetic batch.

    A failure names the first place a non-finite value appears: the weight, the first layer
    whose output is non-finite while its inputs are finite, the loss, or the variables whose
    gradient is non-finite. The batch holds `batch_size` samples: 8, or 4 of ImageNet's size.

    Example::

        result = check_finite(model)
        assert result.passed, result.message
    """
    batch_size = batch_size_for(model, batch_size or default_batch(model))
    details: dict[str, Any] = {"batch_size": batch_size}
    bad_weights = _weights(model)
    x = synthetic_inputs(model, batch_size, seed)
    if bad_weights:
        layer, label, what = bad_weights[0]
        first = call_user_code("running the model layer by layer", _first_bad_layer, model, x)
        others = f"and {len(bad_weights) - 1} more weight(s)" if len(bad_weights) > 1 else ""
        where = f"the first layer whose output turns NaN/Inf is {first[0]!r}" if first and first[0] else ""
        details.update({"nonfinite_weights": [b[1] for b in bad_weights], **(first[2] if first else {})})
        message = mismatch("weights", "finite values", what, at=f"weight {label}", note="; ".join(part for part in (others, where) if part))
        return CheckResult.fail(NAME, message, expected=EXPECTED,
                                received={"nonfinite_weights": [b[1] for b in bad_weights]}, details=details,
                                hint="a weight set by hand (set_weights, assign) or loaded from a file holds NaN/Inf, "
                                "or training diverged: look for a division by zero where the weights are set, or "
                                "lower the learning rate.")
    predictions = forward(model, x)
    first = call_user_code("running the model layer by layer", _first_bad_layer, model, x)
    details["layer_by_layer"] = first is not None
    if first is not None:
        details.update(first[2])
    if any(_nonfinite(p) for p in predictions):
        names = output_names(model)
        index = next(i for i, p in enumerate(predictions) if _nonfinite(p))
        message = first[1] if first and first[0] else mismatch(
            "output values", "finite values", describe_nonfinite(predictions[index]),
            at=output_ref(names[index] if index < len(names) else f"output_{index}"),
            note="on a finite batch (subclassed model: not probed layer by layer)")
        return CheckResult.fail(NAME, message, expected=EXPECTED,
                                received="non-finite outputs", details=details,
                                hint="guard the operation: add a small epsilon inside log/sqrt/divisions, or clip.")
    objective = objective_for(model, predictions, output=output)
    targets = objective.targets(predictions, seed)
    loss = float(call_user_code("computing the loss", objective.total, targets, predictions))
    details["loss"] = loss
    details["loss_function"] = objective.describe()
    if not math.isfinite(loss):
        return CheckResult.fail(NAME, mismatch("loss", "a finite value", loss, at=f"the loss {objective.describe()}",
                                               note="every output is finite"),
                                expected=EXPECTED, received={"loss": loss}, details=details,
                                hint="the loss does not fit the output (e.g. a log of 0 or of a negative value): "
                                + for_audience(loops.current().audience, configurer="run check_loss_matches_output.",
                                               student="compile the model with a loss that fits its output layer."))
    _, grads = gradients(model, x, targets, objective)
    labels = variable_labels(model)
    bad_grads = [labels[id(v)][1] for v, g in zip(model.trainable_variables, grads)
                 if g is not None and _nonfinite(keras.ops.convert_to_numpy(g))]
    details["nonfinite_gradients"] = bad_grads
    if bad_grads:
        return CheckResult.fail(NAME, mismatch("gradient", "finite values", "NaN/Inf values",
                                               at=f"variable(s) {', '.join(bad_grads)}",
                                               note=f"the loss ({loss:.4g}) is finite"),
                                expected=EXPECTED, received={"nonfinite_gradients": bad_grads},
                                details=details,
                                hint="an operation whose derivative is infinite at some input (sqrt or log at 0, "
                                "a division by a value near 0) sits between these variables and the loss: add a "
                                "small epsilon, e.g. ops.sqrt(x + 1e-7).")
    how = "layer by layer" if first is not None else "weights and outputs (subclassed model: not probed layer by layer)"
    return CheckResult.ok(NAME, f"weights, outputs ({how}), the loss ({loss:.4g}) and all "
                          f"{len(model.trainable_variables)} gradients are finite", expected=EXPECTED,
                          received="all finite", details=details)
