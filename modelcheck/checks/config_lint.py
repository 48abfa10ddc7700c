"""Configuration mistakes that no run can reveal, each said as a plain sentence with its fix.

A model with a Dropout rate of 0.9, two Dense layers with no activation between them or a
flattened input still builds, trains and passes shape checks: only its configuration shows the
mistake. Mutation runs (`modelcheck mutants`) showed these surviving every run-based check (a
learning rate x1000 too: a short run of Adam at 0.5 still lowers the loss).
"""

from __future__ import annotations

import difflib
from typing import Any

import keras
import numpy as np

from ..core.messages import also, for_audience, layer_ref, mismatch, output_ref
from ..core.result import CheckResult
from ..model import loops
from ..core.errors import UserCodeError
from ..model.compiled import compile_arguments, compiled_loss, output_loss_weights, per_output
from ..model.graph import has_symbolic_inputs, layers_of
from ..model.outputs import activation_of, output_keys, output_kinds, output_layers, output_names, shape_str, softmax_size
from ..model.randomness import training_only_layer
from .common import check
from .lint_labels import label_findings
from .lint_optimizer import learning_rate_findings, optimizer_findings

__all__ = ["check_config_lint", "LABELS"]

NAME = "config_lint"
LABELS = ("integers", "one_hot")

_DROPOUTS = (keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D,
             keras.layers.SpatialDropout3D)
_AFTER_OUTPUT = (keras.layers.BatchNormalization, *_DROPOUTS)
_LINEAR = (None, "linear")


def _where(layer: keras.layers.Layer) -> str:
    return layer_ref(layer.name, type(layer).__name__)


def _placed_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers the user placed, nested models' included; a wrapper (Bidirectional,
    TimeDistributed) as itself, its settings read from the layer it wraps (`_settings_of`)."""
    found = []
    for layer in layers_of(model):
        found += _placed_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return found


def _settings_of(layer: keras.layers.Layer) -> keras.layers.Layer:
    inner = getattr(layer, "forward_layer", None) or getattr(layer, "layer", None)
    return inner if isinstance(inner, keras.layers.Layer) and not isinstance(inner, keras.Model) else layer


def _dropout_rates(model: keras.Model) -> list[str]:
    """A dropout fraction of 0.9 or more: a Dropout layer's rate, or the ``dropout`` and
    ``recurrent_dropout`` of an LSTM, a GRU, a MultiHeadAttention..."""
    found = []
    for layer in _placed_layers(model):
        target = _settings_of(layer)
        settings = [("rate", getattr(target, "rate", None))] if isinstance(target, _DROPOUTS) else []
        try:
            config = target.get_config()
        except Exception:  # a custom layer without get_config: nothing to read
            config = {}
        settings += [(key, config.get(key)) for key in ("dropout", "recurrent_dropout")]
        for key, rate in settings:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0.9:
                continue
            fix = f"Dropout({1 - rate:.2g})" if key == "rate" else f"{key}={1 - rate:.2g}"
            found.append(mismatch("dropout rate", "the fraction of units dropped, usually 0.1 to 0.5",
                                  f"{key}={rate:g}", at=_where(layer),
                                  note=f"Keras' rate is the fraction dropped, TF1's keep_prob was the fraction "
                                  f"kept: this drops {rate:.0%} of the units; to keep {rate:.0%} write {fix}"))
    return found


_HALF = ("float16", "bfloat16")


def _half_precision_weights(model: keras.Model) -> list[str]:
    """Trainable weights stored in float16/bfloat16 (the policy "bfloat16" instead of
    "mixed_bfloat16"): an update below a weight's precision (1/256 of it in bfloat16) is rounded
    away and Adam's second moments underflow, so model.fit learns nothing or diverges."""
    owners = [(layer, str(variable.dtype)) for layer in layers_of(model) for variable in layer.trainable_weights
              if str(variable.dtype) in _HALF]
    if not owners:
        return []
    names = list(dict.fromkeys(layer.name for layer, _ in owners))
    dtype = owners[0][1]
    where = f"layer {names[0]!r}" if len(names) == 1 else (
        f"layers {', '.join(map(repr, names[:3]))}" + (f" and {len(names) - 3} more" if len(names) > 3 else ""))
    return [mismatch("weight dtype", "float32 trainable weights", dtype, at=where,
                     note=f"optimizer updates smaller than a {dtype} weight's precision are rounded away and Adam's "
                     "second moments underflow, so training stalls or turns NaN (model.fit too): use the policy "
                     f"\"mixed_{dtype}\" (keras.mixed_precision.set_global_policy), which computes in {dtype} and "
                     "keeps the weights in float32")]


def _successors(model: keras.Model) -> dict[int, list[keras.layers.Layer]]:
    """Layer id -> the layers that read its output, from the nodes of this model's graph only (a
    Sequential model keeps its graph inside, and a layer may have been called elsewhere too)."""
    graph = getattr(model, "_functional", None) or model
    found: dict[int, list[keras.layers.Layer]] = {}
    for nodes in getattr(graph, "_nodes_by_depth", {}).values():
        for node in nodes:
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation
                found.setdefault(id(producer), []).append(node.operation)
    return found


def _identity_in_inference(layer: Any) -> bool:
    """Whether `layer` passes its input on unchanged in inference: a Dropout, Identity,
    Activation("linear"), or a ReLU / LeakyReLU whose negative slope is 1 (no activation at all)."""
    if isinstance(layer, (*_DROPOUTS, keras.layers.Identity)):
        return True
    if isinstance(layer, keras.layers.Activation):  # (its own activation: activation_of looks through it)
        return getattr(layer.activation, "__name__", None) == "linear"
    if isinstance(layer, keras.layers.ReLU):
        return layer.negative_slope == 1 and layer.max_value is None and not layer.threshold
    return isinstance(layer, keras.layers.LeakyReLU) and layer.negative_slope == 1


def _next_layers(successors: dict[int, list[Any]], layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers that read `layer`'s output, looking through layers that pass it on unchanged
    (Dropout, Activation("linear"), ...: `_identity_in_inference`)."""
    found = []
    for after in successors.get(id(layer), []):
        if _identity_in_inference(after):
            found.extend(_next_layers(successors, after))
        else:
            found.append(after)
    return found


def _linear_stacks(model: keras.Model, outputs: list[Any]) -> list[str]:
    found = []
    successors = _successors(model)
    for layer in layers_of(model):
        if not isinstance(layer, keras.layers.Dense) or activation_of(layer) not in _LINEAR or layer in outputs:
            continue
        following = _next_layers(successors, layer)
        if len(following) == 1 and isinstance(following[0], keras.layers.Dense):
            found.append(mismatch("activation", f"an activation between Dense layers {layer.name!r} and "
                                  f"{following[0].name!r}", "no activation", at=_where(layer),
                                  note="two Dense layers with no activation between them collapse into one "
                                  "linear map, so the hidden layer adds nothing: add activation=\"relu\" to "
                                  f"{layer.name!r}"))
    return found


def _next_dense(successors: dict[int, list[Any]], layer: keras.layers.Layer) -> Any:
    """The Dense layer that alone reads `layer`'s output, through layers without weights or noise
    (activations, Reshape; a Dropout's random masks tell units apart); None otherwise."""
    following = successors.get(id(layer), [])
    while len(following) == 1 and isinstance(following[0], keras.layers.Layer) and not following[0].weights \
            and not training_only_layer(type(following[0]).__name__):
        following = successors.get(id(following[0]), [])
    return following[0] if len(following) == 1 and isinstance(following[0], keras.layers.Dense) else None


def _symmetric_units(model: keras.Model) -> list[str]:
    """Dense layers whose units start identical (equal weights in, equal weights out: a constant
    initializer such as "ones"): each gets the same gradient, so training never tells them apart.
    A tiny rounding difference lets gradient_flow see a non-zero gradient, so only the weights show it."""
    found = []
    successors = _successors(model)
    for layer in layers_of(model):
        after = _next_dense(successors, layer) if isinstance(layer, keras.layers.Dense) and layer.units > 1 else None
        if after is None:
            continue
        kernel, out = (np.asarray(keras.ops.convert_to_numpy(d.kernel)) for d in (layer, after))
        bias = np.asarray(keras.ops.convert_to_numpy(layer.bias)) if layer.use_bias else np.zeros(1)
        if np.allclose(kernel, kernel[:, :1]) and np.allclose(bias, bias[:1]) and np.allclose(out, out[:1]):
            found.append(mismatch("hidden units", "units that start with different weights",
                                  f"{layer.units} units with identical weights in and out", at=_where(layer),
                                  note="every unit computes the same value and gets the same gradient, so training "
                                  "never makes them differ and the layer learns as one unit: use a random "
                                  "initializer (Keras' default glorot_uniform), not a constant one"))
    return found


def _squashed_before(layer: Any) -> tuple[Any, str] | None:
    """(the layer, its activation) when the separate Softmax (or Activation) `layer` reads the output
    of a softmax or sigmoid: probabilities squashed twice. None otherwise."""
    if not isinstance(layer, keras.layers.Softmax) and not (
            isinstance(layer, keras.layers.Activation) and getattr(layer.activation, "__name__", None) == "softmax"):
        return None
    try:
        before = layer.input._keras_history.operation
    except (AttributeError, ValueError):  # several calls or inputs: nothing to tell
        return None
    squash = activation_of(before) if isinstance(before, keras.layers.Layer) else None
    return (before, squash) if squash in ("softmax", "sigmoid") else None


def _output_findings(model: keras.Model, outputs: list[Any], kinds: list[str]) -> list[str]:
    found = []
    for layer, kind in zip(outputs, kinds):
        if layer is None:
            continue
        activation = activation_of(layer)
        # counted along the softmax's own axis (a pointer's softmax over its steps, axis 1)
        if activation == "softmax" and softmax_size(layer, tuple(layer.output.shape)) == 1:
            found.append(mismatch("output activation", "sigmoid on a single unit (or softmax over 2 or more units)",
                                  "softmax over 1 unit", at=output_ref(layer.name),
                                  note="a softmax over one unit always outputs 1: use activation=\"sigmoid\" for "
                                  "two classes"))
        elif activation == "softmax" and _squashed_before(layer) is not None:
            before, squash = _squashed_before(layer)
            found.append(mismatch("output activation", "one softmax over the class scores",
                                  f"a softmax over the {squash} outputs of {before.name!r}", at=output_ref(layer.name),
                                  note=f"{squash} values lie between 0 and 1, so a softmax over them gives nearly equal "
                                  "probabilities that can never approach 0 or 1: remove the activation of "
                                  f"{before.name!r} (activation=None)"))
        elif kind == "regression" and activation in ("sigmoid", "softmax"):
            found.append(mismatch("output activation", "a linear output for a regression", activation,
                                  at=output_ref(layer.name),
                                  note=f"{activation} squeezes every prediction between 0 and 1: remove the "
                                  "activation (activation=None)"))
        if isinstance(layer, _AFTER_OUTPUT):
            found.append(mismatch("output layer", "the activation as the model's last step",
                                  f"{type(layer).__name__} after it", at=_where(layer),
                                  note=f"a {type(layer).__name__} after the output activation changes the "
                                  "probabilities (or values) the model predicts: move it before the output layer"))
    return found


def _input_findings(model: keras.Model, expected: Any) -> list[str]:
    if expected is None or not has_symbolic_inputs(model):
        return []
    wanted = expected if isinstance(expected, list) else [expected]
    if isinstance(expected, dict) or len(wanted) != len(model.inputs):
        return []
    found = []
    for tensor, shape in zip(model.inputs, wanted):
        got = tuple(tensor.shape)
        # a dimension the model leaves open (None) takes the declared size: keras.Input(shape=(None,))
        fits = len(got) == len(shape) and all(e is None or g is None or g == e for g, e in zip(got, shape))
        if not fits:
            name = tensor._keras_history.operation.name
            found.append(mismatch("input shape", shape_str(shape), shape_str(got), at=f"input {name!r}",
                                  note=for_audience(loops.current().audience,
                                                    configurer="the model must read the data as declared: ",
                                                    student="the model must read the data as the assignment "
                                                    "gives it: ") + f"keras.Input(shape={shape_str(shape[1:])})"))
    return found


def _casts_to(layer: Any) -> str | None:
    """The bool or integer dtype a layer turns what it reads into, None for a float one (or a
    lookup layer, which takes ids as they are)."""
    dtype = str(getattr(layer, "input_dtype", None) or "")
    if not getattr(layer, "_convert_input_args", True) or not (dtype == "bool" or "int" in dtype):
        return None
    return dtype


def _changed_value(values: np.ndarray, dtype: str) -> tuple[float, Any] | None:
    """A value of `values` that `dtype` changes, and what it becomes; None when it keeps them all."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return None
    finite = values[np.isfinite(values)]
    cast = finite.astype(dtype)
    changed = np.flatnonzero(cast.astype(values.dtype) != finite)
    if not changed.size:
        return None
    return float(finite.flat[changed[0]]), cast.flat[changed[0]].item()


def _input_dtype_findings(model: keras.Model) -> list[str]:
    """An input, or a layer reading one, whose bool or integer dtype changes the assignment's
    sample values (pixels in [0, 1] become 0 or 1): judged only with instructor samples."""
    from ..model.inputs import _DATA_ATTRIBUTE

    data = getattr(model, _DATA_ATTRIBUTE, None)
    if data is None or data.x is None or not has_symbolic_inputs(model) or len(data.x) != len(model.inputs):
        return []
    successors = _successors(model)
    found = []
    for tensor, sample in zip(model.inputs, data.x):
        source = tensor._keras_history.operation
        readers = [(f"input {source.name!r}", str(tensor.dtype), "keras.Input")] + [
            (_where(layer), _casts_to(layer), type(layer).__name__) for layer in successors.get(id(source), [])]
        for where, dtype, what in readers:
            changed = _changed_value(sample, dtype) if dtype and (dtype == "bool" or "int" in dtype) else None
            if changed is not None:
                value, becomes = changed
                found.append(mismatch("dtype", "a float dtype, which keeps the sample values", dtype, at=where,
                                      note=f"the assignment's samples hold values such as {value:g}, which dtype="
                                      f"{dtype} turns into {becomes}: the model cannot learn from what it reads; leave "
                                      f"dtype out of {what}(...) (float32)"))
                break
    return found


def _loss_weight_pairing(model: keras.Model) -> list[str]:
    """A ``loss_weights`` dict that Keras' fit does not pair with the outputs by name: one with a
    key that names no output (a misspelt key, a layer renamed since), or one given with a list of
    losses. Keras then takes the weights in the sorted order of their keys, so a weight can land
    on another output than the one it names, without a word."""
    weights = compile_arguments(model).get("loss_weights")
    if not isinstance(weights, dict) or not weights or not has_symbolic_inputs(model):
        return []
    keys, names = output_keys(model), output_names(model)
    known = list(dict.fromkeys([*(keys or []), *names, *(getattr(model, "output_names", None) or [])]))
    stray = [str(key) for key in weights if str(key) not in known]
    by_order = not stray and isinstance(compiled_loss(model), (list, tuple))
    if not stray and not by_order:
        return []
    try:
        given = output_loss_weights(model, names, keys, graph=True)
    except UserCodeError:  # fit raises on this configuration: the checks that train say so
        return []
    shown = keys if keys is not None and len(keys) == len(names) else names
    pairing = ", ".join(f"output {name!r} gets {weight:g}" for name, weight in zip(shown, given)
                        if weight is not None)
    by_name = per_output(weights, names, len(names), keys)
    if by_order and given == by_name:
        return []  # the sorted keys happen to be in the order of the outputs
    if by_order:
        return [mismatch("loss_weights", "each weight on the output it names", pairing, at="compile()",
                         note="given a list of losses, Keras takes a dict of loss weights in the sorted order of its "
                         "keys, not by name: key the losses by output too (loss={...}), or give the weights as a "
                         "list in the order of the outputs")]
    unweighted = [name for name in shown if name not in weights]
    found = []
    for key in stray:
        close = difflib.get_close_matches(key, unweighted, n=1)
        found.append(mismatch("loss_weights key", f"one of the model's outputs ({', '.join(map(repr, shown))})",
                              repr(key), at="compile()",
                              note="when a key names no output, Keras pairs the weights with the outputs by the sorted "
                              f"order of the keys, not by name ({pairing}): key each weight by its output"
                              + (f"; did you mean {close[0]!r}?" if close else "")))
    return found


@check(NAME)
def check_config_lint(
    model: keras.Model,
    *,
    expected_input: Any = None,
    output: Any = None,
    labels: str | None = None,
    seed: int = 0,
) -> CheckResult:
    """Flag configuration mistakes no run reveals, each with its fix.

    A Dropout rate of 0.9 or more (TF1's keep_prob written as Keras' rate; an RNN's or an attention
    layer's ``dropout`` too); two Dense layers with
    no activation between them; hidden Dense units that start identical (a constant initializer on it
    and the Dense after it); softmax on a single unit; a softmax over a softmax's or a sigmoid's
    outputs; a sigmoid or softmax output where
    `output` says ``"regression"``; BatchNormalization or Dropout after the output activation;
    an input other than `expected_input` (with the batch dimension, ``None`` a wildcard); with
    ``labels="integers"`` (or ``"one_hot"``), the cross-entropy that expects the other kind; a
    constant learning rate above 0.1 for an adaptive optimizer (Adam, RMSprop, ...) or above 1 for SGD;
    trainable weights stored in float16/bfloat16 (the policy "bfloat16" where "mixed_bfloat16" was meant);
    a ``loss_weights`` dict that fit pairs with the outputs by the order of its keys, not by name (a
    key naming no output, or a list of losses).

    Example::

        check_config_lint(keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.9), keras.layers.Dense(1)]))
        # "dropout rate: expected the fraction of units dropped, usually 0.1 to 0.5, received rate=0.9, at layer
        #  'dropout' (Dropout); Keras' rate is the fraction dropped, ..."
    """
    if labels is not None and labels not in LABELS:
        from ..core.errors import SpecError

        raise SpecError(f"config_lint: `labels` must be one of {', '.join(LABELS)}, received {labels!r}")
    findings = _dropout_rates(model) + _half_precision_weights(model)
    graph = has_symbolic_inputs(model)
    outputs = output_layers(model) if graph else []
    if graph:
        kinds = output_kinds(model, output, len(outputs)) if output is not None else [None] * len(outputs)
        findings += _linear_stacks(model, outputs) + _symmetric_units(model)
        findings += _output_findings(model, outputs, kinds)
    findings += _input_findings(model, expected_input)
    findings += _input_dtype_findings(model)
    findings += label_findings(model, labels)
    findings += _loss_weight_pairing(model)
    findings += learning_rate_findings(model)
    findings += optimizer_findings(model)
    expected = "no configuration mistake"
    details = {"findings": findings, "graph_seen": graph}
    if findings:
        return CheckResult.fail(NAME, also(findings[0], findings[1:]), expected=expected, received=findings,
                                details=details, hint="each finding names the layer and the fix")
    seen = "the layers, their wiring and the outputs" if graph else "the layers (the wiring of a subclassed " \
                                                                   "model cannot be seen)"
    return CheckResult.ok(NAME, f"no configuration mistake found in {seen}", expected=expected, received=[],
                          details=details)
