"""What a model outputs: the producing layers, names, dict keys, kinds (probabilities, binary,
logits, regression), and non-finite values.

The layer producing a functional model's output may be an operation rather than a layer
(``keras.ops.softmax(z)``, ``keras.activations.sigmoid(z)``): one that equals an activation is read
as that activation, as `modelcheck.model.operations.operation_as_layer` reads the operations of
a functional graph.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from ..core.errors import call_user_code
from .graph import has_symbolic_inputs
from .inputs import synthetic_inputs
from .state import reset_states

__all__ = ["ACTIVATION_RANGES", "flatten_outputs", "output_layers", "output_names", "output_keys", "output_kinds",
           "innermost_output_layer", "activation_of", "softmax_axes", "softmax_size", "first_nonfinite_weight",
           "describe_nonfinite", "shape_str"]
# What an output activation can produce: (low, high or None, in words).
ACTIVATION_RANGES: dict[str, tuple[float, float | None, str]] = {
    "sigmoid": (0.0, 1.0, "values between 0 and 1"),
    "softmax": (0.0, 1.0, "values between 0 and 1 that sum to 1 over the units"),
    "relu": (0.0, None, "values of 0 or more"),
    "softplus": (0.0, None, "positive values"),
    "exponential": (0.0, None, "positive values"),
    "tanh": (-1.0, 1.0, "values between -1 and 1"),
    "hard_sigmoid": (0.0, 1.0, "values between 0 and 1"),
}


def flatten_outputs(outputs: Any) -> list[Any]:
    """Model outputs as a flat list, in the order of ``model.outputs`` (dicts sorted by key)."""
    return list(keras.tree.flatten(outputs))


def output_layers(model: keras.Model) -> list[keras.layers.Layer | None]:
    """The layer producing each output (None where it cannot be known, e.g. subclassed models); an
    operation (``keras.ops.softmax(z)``) where a functional model's output is one's."""
    if has_symbolic_inputs(model):
        return [tensor._keras_history.operation for tensor in model.outputs]
    return [None]


def output_names(model: keras.Model) -> list[str]:
    """A readable name per output: the producing layer's name, or ``output_i``."""
    names = []
    for i, layer in enumerate(output_layers(model)):
        names.append(layer.name if layer is not None else f"output_{i}")
    return names


def output_keys(model: keras.Model) -> list[str] | None:
    """The keys of a model whose outputs are a dict, in the order of `flatten_outputs` (sorted, as
    Keras flattens a dict), else None. A functional model's are in its graph; a subclassed model's
    are those of the dict its ``call`` returns on two synthetic samples (one forward pass in
    inference mode, from the state of a fresh model; kept for the session)."""
    if has_symbolic_inputs(model):
        structure = getattr(model, "_outputs_struct", None)
        return sorted(str(key) for key in structure) if isinstance(structure, dict) else None
    from .memo import remembered  # (memo -> loops -> objective -> this module)

    x = synthetic_inputs(model, 2, 0)

    def run() -> list[str] | None:
        reset_states(model)
        outputs = call_user_code("running the model to read the keys of the dict it returns", model, x,
                                 training=False)
        return sorted(str(key) for key in outputs) if isinstance(outputs, dict) else None

    return remembered("output_keys", model, x, run)


def _passes_values_on(layer: Any) -> bool:
    """Whether Keras' own `layer` gives its input's values unchanged, in the same shape, in
    inference: Identity, Activation("linear"), a Dropout or noise layer, a Reshape or Flatten that
    keeps the shape. Its output then has the activation of what it reads (a softmax behind it)."""
    from .randomness import training_only_layer  # (randomness imports this module's neighbours)

    if not isinstance(layer, keras.layers.Layer) or not type(layer).__module__.startswith("keras."):
        return False
    if isinstance(layer, keras.layers.Activation):
        return getattr(layer.activation, "__name__", None) == "linear"
    if not isinstance(layer, (keras.layers.Identity, keras.layers.Reshape, keras.layers.Flatten)) \
            and not training_only_layer(type(layer).__name__):
        return False
    try:
        return tuple(layer.input.shape) == tuple(layer.output.shape)
    except (AttributeError, ValueError):  # called several times, or on several inputs
        return False


# activations that hold along an axis, which a new shape may move: not read through a reshape
_ALONG_AN_AXIS = ("softmax", "log_softmax", "sparsemax", "glu")


_RESHAPING_OPS = ("Squeeze", "ExpandDims", "Reshape")  # keras.ops.squeeze, expand_dims, reshape


def _reshapes_values(layer: Any) -> bool:
    """Whether `layer` is Keras' own Reshape or Flatten layer, or its squeeze, expand_dims or reshape
    operation: its input's values in another shape (a binary head's Dense(1, sigmoid) then
    ``ops.squeeze(p, -1)`` is a sigmoid output)."""
    if not type(layer).__module__.startswith("keras."):
        return False
    if isinstance(layer, (keras.layers.Reshape, keras.layers.Flatten)):
        return True
    return not isinstance(layer, keras.layers.Layer) and type(layer).__name__ in _RESHAPING_OPS


def innermost_output_layer(layer: Any) -> Any:
    """The layer that gives a nested model's output (a Sequential "head" at a model's output: its
    last layer, and so on inwards), looking through layers that pass values on unchanged
    (`_passes_values_on`: a softmax then Identity() is a softmax) and, when what they read applies
    an activation to each value alone (a sigmoid, or none), through a reshape (`_reshapes_values`:
    Dense(1) then Reshape(()) is a linear output); any other layer or operation as it is."""
    while True:
        if isinstance(layer, keras.Model) and has_symbolic_inputs(layer) and len(layer.outputs) == 1:
            layer = layer.outputs[0]._keras_history.operation
        elif _passes_values_on(layer):
            layer = layer.input._keras_history.operation
        elif _reshapes_values(layer):
            try:
                inner = innermost_output_layer(layer.input._keras_history.operation)
            except (AttributeError, ValueError):  # called several times, or on several inputs
                return layer
            return layer if _activation_name(inner) in _ALONG_AN_AXIS else inner
        else:
            return layer


def _activation_name(layer: keras.layers.Layer | None) -> str | None:
    layer = innermost_output_layer(layer)
    if layer is None:
        return None
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if not isinstance(layer, keras.layers.Layer):  # an operation: keras.ops.softmax(z), z * 2.0
        return _operation_activation(layer)
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", type(activation).__name__).lower()


def _output_rank(operation: Any) -> int | None:
    """The rank of what an operation of a functional graph outputs, None when unknown."""
    try:
        return len(operation.output.shape)
    except Exception:  # an operation called several times, or never: no single output
        return None


def _operation_activation(operation: Any) -> str | None:
    """The activation an operation of a functional graph equals (``keras.ops.softmax`` ->
    ``"softmax"``, ``keras.ops.log_softmax`` -> ``"log_softmax"``, ``keras.activations.relu`` with
    its defaults -> ``"relu"``), read by `modelcheck.model.operations.operation_as_layer`; None
    for any other operation (``z * 2.0``, ``keras.ops.squeeze``)."""
    from .operations import negative_axes, operation_as_layer  # (it imports snapshot.serialize, which imports the model package)

    try:
        config = operation.get_config()
    except Exception:  # an operation whose arguments Keras could not record
        return None
    config = {k: v for k, v in (config or {}).items() if k != "name" and v is not None}
    config = negative_axes(type(operation).__name__, config, _output_rank(operation))
    layer = operation_as_layer({"class": type(operation).__name__, "config": config, "name": operation.name})
    if layer["class"] == "Activation":
        return str(layer["config"]["activation"])
    if layer["class"] == "Softmax":
        return "softmax"
    if layer["class"] == "ReLU" and not config.get("negative_slope") and not config.get("threshold") \
            and config.get("max_value") is None:
        return "relu"  # keras.activations.relu with its defaults
    return None


CLASSES = "classes"  # a declared kind: a classifier in either form (see `modelcheck.core.spec.OUTPUT_KINDS`)


def output_kinds(model: keras.Model, declared: Any = None, n_outputs: int | None = None) -> list[str]:
    """The kind of each output: the declared kind(s) when given, else inferred from the
    producing layer's activation (softmax -> probabilities, sigmoid -> binary, log_softmax -> logits
    (log-probabilities are logits of the same softmax), else regression). A declared ``"classes"``
    (a classifier in either form) is the form the model's layer gives: probabilities under a softmax,
    binary under a sigmoid, else logits."""
    layers = output_layers(model)
    count = n_outputs or len(layers)
    if isinstance(declared, str):
        kinds = [declared] * count
    elif isinstance(declared, dict):
        names = output_names(model)
        kinds = [declared.get(name, _inferred_kind(layers[i] if i < len(layers) else None))
                 for i, name in enumerate(names)]
    elif isinstance(declared, (list, tuple)):
        kinds = list(declared)
    else:
        kinds = [_inferred_kind(layer) for layer in layers]
        return kinds if len(kinds) == count else [kinds[0]] * count
    if CLASSES in kinds:
        read = layers if len(layers) == len(kinds) else [None] * len(kinds)  # None: a layer not known
        kinds = [(_stated_kind(model) if read[i] is None else _class_kind(read[i])) if kind == CLASSES else kind
                 for i, kind in enumerate(kinds)]
    return kinds


def _class_kind(layer: keras.layers.Layer | None) -> str:
    inferred = _inferred_kind(layer)
    return inferred if inferred in ("probabilities", "binary") else "logits"


def _stated_kind(model: keras.Model) -> str:
    """A classifier's form where its output layers cannot be read (a subclassed model): what its
    compiled loss says it reads (logits with from_logits=True), else probabilities."""
    from .compiled import compiled_loss

    losses = keras.tree.flatten(compiled_loss(model))
    try:
        logits = any(isinstance(l, keras.losses.Loss) and l.get_config().get("from_logits") for l in losses)
    except Exception:  # a user's Loss whose get_config raises
        logits = False
    return "logits" if logits else "probabilities"


def _inferred_kind(layer: keras.layers.Layer | None) -> str:
    activation = _activation_name(layer)
    if activation == "softmax":
        return "probabilities"
    if activation == "sigmoid":
        return "binary"
    if activation == "log_softmax":
        return "logits"
    return "regression"


def activation_of(layer: keras.layers.Layer | None) -> str | None:
    """The activation name of a layer (``"softmax"``, ``"relu"``...), or of an operation at a
    functional model's output that equals one (``keras.ops.softmax(z)``); None if it has none."""
    return _activation_name(layer)


def softmax_axes(layer: Any, rank: int) -> tuple[int, ...] | None:
    """The axes (counted from 0, of an output of `rank`) a softmax at the output normalises over: a
    Softmax layer's or ``keras.ops.softmax``'s `axis`, the last for a softmax activation; None when
    the output applies no softmax."""
    if activation_of(layer) != "softmax":
        return None
    inner = innermost_output_layer(layer)
    reads_axis = isinstance(inner, keras.layers.Softmax) or not isinstance(inner, keras.layers.Layer)
    axis = getattr(inner, "axis", -1) if reads_axis else -1
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    return tuple(sorted(int(a) % rank for a in axes))


def softmax_size(layer: Any, shape: Sequence[Any]) -> int | None:
    """How many values a softmax at the output (of `shape`) normalises together: the size of the
    axis it reads (a pointer's ``Softmax(axis=1)`` over its steps, not the last axis); None when
    the output applies no softmax or that size is unknown."""
    axes = softmax_axes(layer, len(shape)) if len(shape) > 1 else None
    if axes is None or any(shape[a] is None for a in axes):
        return None
    return int(np.prod([shape[a] for a in axes]))


def first_nonfinite_weight(model: keras.Model) -> str | None:
    """The path of the first weight holding NaN or Inf, or None."""
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            return variable.path
    return None


def describe_nonfinite(values: np.ndarray) -> str:
    """'3 NaN and 1 Inf among 40 values'."""
    nan = int(np.isnan(values).sum())
    inf = int(np.isinf(values).sum())
    parts = [f"{nan} NaN"] if nan else []
    if inf:
        parts.append(f"{inf} Inf")
    return f"{' and '.join(parts)} among {values.size} values"


def shape_str(shape: Sequence[Any]) -> str:
    """``(None, 10)`` written as Keras prints it."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
