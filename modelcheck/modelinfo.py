"""What the checks need to know about a model: its inputs, its outputs and their kinds.

Also builds models from builders (turning the user's errors into `UserCodeError`) and
counts parameters before any weight is allocated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import keras
import numpy as np

from .errors import UserCodeError, call_user_code

__all__ = [
    "InputInfo",
    "build_model",
    "count_params_unallocated",
    "input_infos",
    "synthetic_inputs",
    "pack_inputs",
    "output_layers",
    "output_kinds",
    "flatten_outputs",
    "first_nonfinite_weight",
    "layers_of",
]

DEFAULT_SEQUENCE_LENGTH = 8  # for inputs whose length is None (text, time series)


@dataclass(frozen=True)
class InputInfo:
    """One model input: name, shape with batch dimension, dtype, and the vocabulary size
    when the input feeds an Embedding (token ids must be below it)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    vocabulary: int | None = None


def _is_model(obj: Any) -> bool:
    return isinstance(obj, keras.Model)


def _describe(obj: Any) -> str:
    if obj is None:
        return "None"
    return f"a {type(obj).__module__}.{type(obj).__qualname__}"


def build_model(
    builder: Callable[..., Any] | keras.Model,
    *,
    kwargs: dict[str, Any] | None = None,
    input_shape: Any = None,
    name: str = "the builder",
) -> keras.Model:
    """Call `builder(**kwargs)` and return a built ``keras.Model``.

    A model instance is returned as it is (built if needed). Errors in the user's code and
    results that are not usable models raise `UserCodeError` with a hint. `input_shape`
    (per sample; a list for several inputs) builds subclassed models that were never called.
    """
    if _is_model(builder):
        model = builder
    else:
        if not callable(builder):
            raise UserCodeError(f"{name} is {_describe(builder)}, not a function that returns a keras.Model")
        model = call_user_code(f"{name}", builder, **(kwargs or {}))
    if not _is_model(model):
        hint = "end the function with `return model`." if model is None else (
            "return the keras.Model itself (not a layer, a list or a history)."
        )
        raise UserCodeError(f"{name} returned {_describe(model)}; expected a keras.Model", hint=hint)
    _ensure_built(model, input_shape, name)
    return model


def _ensure_built(model: keras.Model, input_shape: Any, name: str) -> None:
    if _has_symbolic_inputs(model) or (model.built and model.get_build_config()):
        return
    if input_shape is None:
        raise UserCodeError(
            f"the model from {name} has no input shape, so its weights do not exist yet",
            hint="start the model with `keras.Input(shape=(...))` (Sequential: as the first item), "
            "or give `input_shape` in the spec so modelcheck can build it.",
        )
    shapes = input_shape if isinstance(input_shape, list) else [input_shape]
    arrays = [np.zeros((2, *[DEFAULT_SEQUENCE_LENGTH if d is None else d for d in s]), "float32") for s in shapes]
    call_user_code(f"building the model from {name} on inputs of shape {input_shape}", model,
                   arrays[0] if len(arrays) == 1 else tuple(arrays))


def _has_symbolic_inputs(model: keras.Model) -> bool:
    try:
        return bool(model.inputs)
    except AttributeError:
        return False


def count_params_unallocated(builder: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    """Build `builder(**kwargs)` without allocating weights and return its parameter counts.

    Inside ``keras.StatelessScope`` Keras defers variable initialisation, so a
    14-million-parameter model costs its layer objects only. Call
    ``keras.backend.clear_session()`` afterwards to drop the deferred variables. Returns ``{"total", "trainable",
    "non_trainable", "layers": {name: count}}``.
    """
    # initialize_variables=False: by default the scope allocates every deferred variable on exit.
    # The deferred variables stay registered in Keras' global state until clear_session().
    with keras.StatelessScope(initialize_variables=False):
        model = build_model(builder, kwargs=kwargs)
        trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
        non_trainable = sum(math.prod(v.shape) for v in model.non_trainable_weights)
        per_layer = {layer.name: layer.count_params() for layer in layers_of(model) if layer.built}
    return {"total": trainable + non_trainable, "trainable": trainable,
            "non_trainable": non_trainable, "layers": per_layer}


def layers_of(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers without its InputLayers, in order."""
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _consumers(model: keras.Model, tensor: Any) -> list[keras.layers.Layer]:
    found = []
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            if any(t is tensor for t in node.input_tensors):
                found.append(layer)
    return found


def input_infos(model: keras.Model) -> list[InputInfo]:
    """Describe each input of `model` (functional, Sequential or subclassed)."""
    infos = []
    if _has_symbolic_inputs(model):
        for i, tensor in enumerate(model.inputs):
            consumers = _consumers(model, tensor)
            if not consumers and isinstance(model, keras.Sequential):
                consumers = layers_of(model)[:1]
            vocab = [c.input_dim for c in consumers if isinstance(c, keras.layers.Embedding)]
            infos.append(InputInfo(getattr(tensor, "name", f"input_{i}"), tuple(tensor.shape),
                                   str(tensor.dtype), min(vocab) if vocab else None))
        return infos
    shapes = (model.get_build_config() or {}).get("input_shape")
    if shapes is None:
        raise UserCodeError("the model has no input shape", hint="build it or start it with keras.Input(...)")
    if shapes and isinstance(shapes[0], (int, type(None))):
        shapes = [shapes]
    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    vocab = min(e.input_dim for e in embeddings) if embeddings else None
    return [InputInfo(f"input_{i}", (None, *tuple(s)[1:]), "float32", vocab) for i, s in enumerate(shapes)]


def synthetic_inputs(model: keras.Model, batch_size: int, seed: int) -> Any:
    """A batch of inputs fitting `model`: floats ~ N(0, 1), or valid token ids for inputs that
    feed an Embedding (or have an integer dtype). Returns an array, or a list for several inputs."""
    rng = np.random.default_rng(seed)
    arrays = []
    for info in input_infos(model):
        shape = (batch_size, *[DEFAULT_SEQUENCE_LENGTH if d is None else d for d in info.shape[1:]])
        if info.vocabulary is not None or "int" in info.dtype:
            high = info.vocabulary if info.vocabulary is not None else 10
            arrays.append(rng.integers(0, high, size=shape).astype(info.dtype if "int" in info.dtype else "float32"))
        elif info.dtype == "bool":
            arrays.append(rng.integers(0, 2, size=shape).astype(bool))
        else:
            arrays.append(rng.standard_normal(shape).astype(info.dtype if "float" in info.dtype else "float32"))
    return pack_inputs(model, arrays)


def pack_inputs(model: keras.Model, arrays: Sequence[Any]) -> Any:
    """Put one array per input into the structure the model was built with (a single array,
    a list, or a dict by input name), so Keras does not warn about a mismatched structure."""
    structure = getattr(model, "_inputs_struct", None) if _has_symbolic_inputs(model) else None
    if structure is not None:
        return keras.tree.pack_sequence_as(structure, list(arrays))
    return arrays[0] if len(arrays) == 1 else list(arrays)


def flatten_outputs(outputs: Any) -> list[Any]:
    """Model outputs as a flat list, in the order of ``model.outputs`` (dicts sorted by key)."""
    return list(keras.tree.flatten(outputs))


def output_layers(model: keras.Model) -> list[keras.layers.Layer | None]:
    """The layer producing each output (None where it cannot be known, e.g. subclassed models)."""
    if _has_symbolic_inputs(model):
        return [tensor._keras_history.operation for tensor in model.outputs]
    return [None]


def output_names(model: keras.Model) -> list[str]:
    """A readable name per output: the producing layer's name, or ``output_i``."""
    names = []
    for i, layer in enumerate(output_layers(model)):
        names.append(layer.name if layer is not None else f"output_{i}")
    return names


def _activation_name(layer: keras.layers.Layer | None) -> str | None:
    if layer is None:
        return None
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", type(activation).__name__).lower()


def output_kinds(model: keras.Model, declared: Any = None, n_outputs: int | None = None) -> list[str]:
    """The kind of each output: the declared kind(s) when given, else inferred from the
    producing layer's activation (softmax -> probabilities, sigmoid -> binary, else regression)."""
    layers = output_layers(model)
    count = n_outputs or len(layers)
    if isinstance(declared, str):
        return [declared] * count
    if isinstance(declared, dict):
        names = output_names(model)
        return [declared.get(name, _inferred_kind(layers[i] if i < len(layers) else None))
                for i, name in enumerate(names)]
    if isinstance(declared, (list, tuple)):
        return list(declared)
    kinds = [_inferred_kind(layer) for layer in layers]
    return kinds if len(kinds) == count else [kinds[0]] * count


def _inferred_kind(layer: keras.layers.Layer | None) -> str:
    activation = _activation_name(layer)
    if activation == "softmax":
        return "probabilities"
    if activation == "sigmoid":
        return "binary"
    return "regression"


def activation_of(layer: keras.layers.Layer | None) -> str | None:
    """The activation name of a layer (``"softmax"``, ``"relu"``...), None if it has none."""
    return _activation_name(layer)


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
