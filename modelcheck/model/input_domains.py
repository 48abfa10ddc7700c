"""Which values each input of a model takes, read from the layers that consume it.

`input_infos` describes every input: its name, shape and dtype, and the values its consumer
accepts (ids below an Embedding's ``input_dim``, a lookup layer's vocabulary, TextVectorization's
sentences, 0/1 for a padding mask, pixels before a ``Rescaling``, raw features around an adapted
``Normalization``'s mean, a ``Discretization``'s bins). Consumers are followed through layers that
only move values (Reshape, Flatten, random augmentations, ...) and into nested models.
`modelcheck.model.inputs` draws synthetic batches from these descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from ..core.errors import UserCodeError
from .graph import consumers, has_symbolic_inputs, layers_of

__all__ = ["InputInfo", "input_infos", "all_layers", "nested_input"]

_PASS_THROUGH = ("Reshape", "Flatten", "Permute", "RepeatVector", "Masking", "Identity", "Cropping1D", "Resizing",
                 "CenterCrop", "GaussianNoise")


def _moves_values(layer: keras.layers.Layer) -> bool:
    """A layer that passes its input's values on, moved, resized or augmented (RandomFlip,
    RandomRotation, ...) but on the same scale, or a nested model or a ``keras.layers.Pipeline``
    made of such layers only (a ``data_augmentation`` Sequential before a ``Rescaling``)."""
    name = type(layer).__name__
    if name in _PASS_THROUGH or name.startswith("Random"):
        return True
    inner = (layers_of(layer) if isinstance(layer, keras.Model)
             else list(layer.layers) if isinstance(layer, keras.layers.Pipeline) else [])
    return bool(inner) and all(_moves_values(sub) for sub in inner)


@dataclass(frozen=True)
class InputInfo:
    """One model input: name, shape with batch dimension, dtype, and the values its consumer
    accepts.

    Attributes:
        vocabulary: ids must be below it (an Embedding's ``input_dim``, ``num_tokens``, ...).
        values: the valid values (a lookup layer's vocabulary), ints or strings.
        kind: ``"float"``, ``"int"``, ``"string"``, ``"text"`` (sentences of `values`),
            ``"mask"`` (0/1, ones first).
        low: the smallest valid id (1 for an Embedding with ``mask_zero``).
        range: the raw values the model rescales itself (pixels before a ``Rescaling``): drawn
            uniformly within it.
        center / spread: the mean and standard deviation a ``Normalization`` takes off, per
            channel (the last axis) or, over other axes, nested as Keras broadcasts them:
            values are drawn around them.
    """

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    vocabulary: int | None = None
    values: tuple[Any, ...] | None = None
    kind: str = "float"
    low: int = 0
    range: tuple[float, float] | None = None
    center: tuple[float, ...] | None = None
    spread: tuple[float, ...] | None = None


def all_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Every layer inside `model`, nested models included (the model itself excluded)."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def _vocabulary(layer: keras.layers.Layer) -> list[Any]:
    """The real entries of a lookup layer's vocabulary (no mask or OOV token)."""
    try:
        vocab = list(layer.get_vocabulary())
    except Exception:  # an un-adapted lookup layer has no vocabulary yet
        return []
    special = {getattr(layer, "mask_token", None), getattr(layer, "oov_token", None), "", "[UNK]"}
    return [v.item() if hasattr(v, "item") else v for v in vocab if v not in special]


def _domain(layer: keras.layers.Layer) -> dict[str, Any] | None:
    """The values `layer` accepts on its input, as InputInfo fields; None when any value does."""
    kind = type(layer).__name__
    if isinstance(layer, keras.layers.Embedding):
        return {"vocabulary": int(layer.input_dim), "kind": "int", "low": 1 if layer.mask_zero else 0}
    if kind == "CategoryEncoding":
        return {"vocabulary": int(layer.num_tokens), "kind": "int"}
    if kind in ("IntegerLookup", "StringLookup"):
        values = _vocabulary(layer)
        if values:
            return {"values": tuple(values), "kind": "string" if kind == "StringLookup" else "int"}
        return {"kind": "string"} if kind == "StringLookup" else None
    if kind == "TextVectorization":
        return {"values": tuple(str(v) for v in _vocabulary(layer)) or None, "kind": "text"}
    if kind == "Rescaling":
        return _pixel_range(layer)
    if kind == "Normalization":
        return _normalised(layer)
    if kind == "Discretization":
        return _binned(layer)
    return None


def _binned(layer: keras.layers.Layer) -> dict[str, Any] | None:
    """The values that fall into every bin of a ``Discretization`` (given or adapted boundaries),
    one bin's width past the outer ones: N(0, 1) noise before boundaries at 18, 30, 45 and 65 (ages)
    fell into the first bin only, and the model was said to ignore that input."""
    boundaries = sorted(float(b) for b in (getattr(layer, "bin_boundaries", None) or []))
    if not boundaries or not all(np.isfinite(boundaries)):
        return None
    width = (boundaries[-1] - boundaries[0]) / max(1, len(boundaries) - 1) or 1.0
    return {"range": (boundaries[0] - width, boundaries[-1] + width)}


_PIXELS = (0.0, 255.0)  # the values of a uint8 input (an image decoded from a file)


def _pixel_range(layer: keras.layers.Layer) -> dict[str, Any] | None:
    """The raw values a scaling-down ``Rescaling`` maps onto [0, 1] (no offset) or [-1, 1]
    (``offset=-1``): pixels from 0 to 255 for ``1/255`` and ``1/127.5``."""
    try:
        scale, offset = float(layer.scale), float(layer.offset)
    except (TypeError, ValueError):  # per-channel scales: any values will do
        return None
    if not 0.0 < scale < 1.0:
        return None
    return {"range": (0.0, max(1.0, -2.0 * offset) / scale)}


def _normalised(layer: keras.layers.Layer) -> dict[str, Any] | None:
    """The mean and standard deviation an adapted (or given) ``Normalization`` takes off its input:
    per channel over the last axis (flat), its one mean and deviation with ``axis=None``, or over
    other axes shaped as Keras broadcasts them (``(1, steps, 1)`` for ``axis=1``); None when it
    has none yet."""
    axis = tuple(getattr(layer, "axis", (-1,)))
    if getattr(layer, "invert", False):
        return None
    try:
        mean = np.asarray(keras.ops.convert_to_numpy(layer.mean), dtype="float64")
        variance = np.asarray(keras.ops.convert_to_numpy(layer.variance), dtype="float64")
    except (AttributeError, TypeError, ValueError):
        return None
    if mean.shape != variance.shape or not np.all(np.isfinite(mean)) or not np.all(np.isfinite(variance)):
        return None
    if axis == () and mean.size != 1:
        return None
    spread = np.sqrt(np.maximum(variance, 0.0))
    if axis in ((-1,), ()):
        mean, spread = mean.ravel(), spread.ravel()
    return {"center": _nested(mean), "spread": _nested(spread)}


def _nested(array: np.ndarray) -> Any:
    """`array` as nested tuples of floats (InputInfo stays hashable; NumPy reads its shape back)."""
    return tuple(_nested(a) for a in array) if array.ndim else float(array)


def nested_input(layer: keras.layers.Layer, tensor: Any) -> Any:
    """The input tensor of nested model `layer` that receives `tensor`, or None."""
    for node in getattr(layer, "_inbound_nodes", []):
        flat = list(node.input_tensors)
        for position, candidate in enumerate(flat):
            if candidate is tensor and position < len(layer.inputs):
                return layer.inputs[position]
    return None


def _output_of(layer: keras.layers.Layer, tensor: Any) -> Any:
    """The output of `layer`'s call on `tensor` in the graph `tensor` belongs to (a nested model's
    own ``output`` is a tensor of its inner graph)."""
    for node in getattr(layer, "_inbound_nodes", []):
        if any(t is tensor for t in node.input_tensors) and node.output_tensors:
            return node.output_tensors[0]
    return layer.output


def _consumer_domain(model: keras.Model, tensor: Any, depth: int = 0) -> dict[str, Any] | None:
    """Follow `tensor` to the layers that read it; the domain of the first that restricts it."""
    if depth > 8:
        return None
    for reader in consumers(model, tensor):
        found = _domain(reader)
        if found is None and isinstance(reader, keras.Model) and has_symbolic_inputs(reader):
            inner = nested_input(reader, tensor)
            found = _consumer_domain(reader, inner, depth + 1) if inner is not None else None
        if found is None and _moves_values(reader):
            found = _consumer_domain(model, _output_of(reader, tensor), depth + 1)
        if found is not None:
            return found
    return None


def _info(name: str, shape: tuple[Any, ...], dtype: str, domain: dict[str, Any] | None) -> InputInfo:
    domain = dict(domain or {})
    if "mask" in name.lower() and ("int" in dtype or dtype == "bool" or "float" in dtype) and not domain:
        domain = {"kind": "mask"}
    if "string" in dtype and domain.get("kind") not in ("string", "text"):
        domain = {"kind": "string"}
    if not domain and dtype == "uint8":
        domain = {"range": _PIXELS}
    if not domain and ("int" in dtype or dtype == "bool"):
        domain = {"kind": "mask" if dtype == "bool" else "int"}
    return InputInfo(name, shape, dtype, **domain)


def input_infos(model: keras.Model) -> list[InputInfo]:
    """Describe each input of `model` (functional, Sequential or subclassed), in the order of
    ``keras.tree.flatten`` of its inputs (dict inputs: sorted by key)."""
    if has_symbolic_inputs(model):
        infos = []
        for i, tensor in enumerate(model.inputs):
            domain = _consumer_domain(model, tensor)
            if domain is None and isinstance(model, keras.Sequential):
                first = layers_of(model)[:1]
                domain = _domain(first[0]) if first else None
            infos.append(_info(getattr(tensor, "name", f"input_{i}"), tuple(tensor.shape), str(tensor.dtype), domain))
        return infos
    shapes = (model.get_build_config() or {}).get("input_shape")
    if shapes is None:
        raise UserCodeError("the model has no input shape", hint="build it or start it with keras.Input(...)")
    if isinstance(shapes, dict):
        named = [(str(key), shapes[key]) for key in sorted(shapes)]
    else:
        if shapes and isinstance(shapes[0], (int, type(None))):
            shapes = [shapes]
        named = [(f"input_{i}", s) for i, s in enumerate(shapes)]
    domains = [d for d in (_domain(layer) for layer in all_layers(model)) if d is not None]
    # a subclassed model hides which layer reads which input: the narrowest id range is safe for all
    ranges = [d for d in domains if d.get("vocabulary") is not None]
    domain = min(ranges, key=lambda d: d["vocabulary"]) if ranges else None
    return [_info(name, (None, *tuple(s)[1:]), "float32", domain) for name, s in named]
