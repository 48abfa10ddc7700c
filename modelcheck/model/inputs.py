"""What a model takes as input, and synthetic batches that fit it.

Each input gets values valid for the layer that consumes it: token ids below an Embedding's
``input_dim``, values from an ``IntegerLookup`` / ``StringLookup`` vocabulary, sentences of a
``TextVectorization`` vocabulary, ids below a ``CategoryEncoding``'s ``num_tokens``, 0/1 for
padding masks, floats ~ N(0, 1) otherwise (uniform within an instructor's ``input_range``), with a
level per sample and channel in images and sequences (see `_sample_levels`). An input the model
scales itself gets values on the scale it expects: pixels from 0 to 255 before a
``Rescaling(1/255)`` (or ``1/127.5, offset=-1``) and in a ``uint8`` input, raw features around
an adapted ``Normalization``'s mean, spread by its standard deviation, values across every bin of a
``Discretization``.
An instructor's samples (`set_instructor_data`) replace synthetic batches altogether, and a
``Normalization`` reading an input that was never adapted is adapted to them, as a training script
adapts it before ``fit`` (`adapt_to_samples`). Consumers are followed through layers that only
move values (Reshape, Flatten, ...) and into nested models. Unknown lengths (``None``) are set
long enough for the receptive field of the model's convolutions and poolings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import keras
import numpy as np

from ..core.errors import UserCodeError
from .graph import consumers, has_symbolic_inputs, layers_of
from .state import state_batch_size

__all__ = ["InputInfo", "input_infos", "synthetic_inputs", "pack_inputs", "sequence_length", "set_sequence_length",
           "all_layers", "set_instructor_data", "sample_targets", "sample_rows", "fixed_batch_size", "batch_size_for",
           "rows_of", "adapt_to_samples", "batch_words"]

DEFAULT_SEQUENCE_LENGTH = 8  # the least length given to an input whose length is None (text, time series)
_MAX_SEQUENCE_LENGTH = 4096
_LENGTH_ATTRIBUTE = "_modelcheck_sequence_length"
_DATA_ATTRIBUTE = "_modelcheck_instructor_data"
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


def _placed(stats: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A ``Normalization``'s statistics laid over a batch of `shape`: as Keras broadcasts them; as
    one sample's values when the model moved them on the way (a Flatten before the
    Normalization); else their average (a Permute or crop on the way)."""
    try:
        if np.broadcast_shapes(stats.shape, shape) == tuple(shape):
            return stats
    except ValueError:
        pass
    if stats.size == math.prod(shape[1:]):
        return stats.reshape((1, *shape[1:]))
    return np.asarray(stats.mean())


def _nested_input(layer: keras.layers.Layer, tensor: Any) -> Any:
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
            inner = _nested_input(reader, tensor)
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


def fixed_batch_size(model: keras.Model) -> int | None:
    """The one batch size `model` takes, or None when any size fits: the batch dimension its
    inputs declare (``keras.Input(..., batch_size=B)``, ``batch_shape=(B, ...)``), else the one
    its stateful recurrent layers were built for (a subclassed model built on a fixed batch)."""
    if has_symbolic_inputs(model):
        declared = [tensor.shape[0] for tensor in model.inputs if tensor.shape and tensor.shape[0] is not None]
        if declared:
            return int(declared[0])
    return state_batch_size(model)


def batch_size_for(model: keras.Model, wanted: int) -> int:
    """The size of the batches `model` is fed when a check asks for `wanted` samples: `wanted`,
    or the model's `fixed_batch_size` when it has one (a stateful RNN rejects any other)."""
    return fixed_batch_size(model) or wanted


def rows_of(x: Any) -> int:
    """The number of samples in `x`, a batch of model inputs (an array, a list or a dict)."""
    return int(np.shape(keras.tree.flatten(x)[0])[0])


def _conv_need(layer: keras.layers.Layer, needed: list[int]) -> list[int]:
    """The input length per spatial axis that `layer` needs for an output of length `needed`."""
    kind = type(layer).__name__
    if "Conv" in kind and hasattr(layer, "kernel_size") and "Transpose" not in kind:
        kernel, strides = layer.kernel_size, layer.strides
        dilation = getattr(layer, "dilation_rate", (1,) * len(kernel))
    elif "Pooling" in kind and hasattr(layer, "pool_size") and "Global" not in kind:
        kernel, strides, dilation = layer.pool_size, layer.strides or layer.pool_size, (1,) * len(layer.pool_size)
    else:
        return needed
    padding = str(getattr(layer, "padding", "valid")).lower()
    need = list(needed) + [1] * (len(kernel) - len(needed))
    for axis, (k, s, d) in enumerate(zip(kernel, strides, dilation)):
        extent = 1 if padding in ("same", "causal") else d * (k - 1) + 1
        need[axis] = (need[axis] - 1) * s + extent
    return need


def set_sequence_length(model: keras.Model, length: int) -> None:
    """Give unknown (None) input lengths of `model` this length in every synthetic batch
    (the spec key ``sequence_length``)."""
    object.__setattr__(model, _LENGTH_ATTRIBUTE, int(length))


def sequence_length(model: keras.Model) -> int:
    """A length for unknown (None) dimensions, long enough for every convolution and pooling
    of the model applied one after another (branches counted in series: an upper bound)."""
    need = [1]
    for layer in reversed(all_layers(model)):
        need = _conv_need(layer, need)
    override = getattr(model, _LENGTH_ATTRIBUTE, None)
    if override:
        return int(override)
    return int(min(_MAX_SEQUENCE_LENGTH, max(DEFAULT_SEQUENCE_LENGTH, max(need))))


@dataclass(frozen=True)
class _InstructorData:
    x: tuple[np.ndarray, ...] | None  # one array per input, in `input_infos` order
    y: tuple[np.ndarray, ...] | None  # one array per output, in output order
    ranges: tuple[tuple[float, float] | None, ...] | None  # per input


def set_instructor_data(model: keras.Model, *, x: Sequence[np.ndarray] | None = None,
                        y: Sequence[np.ndarray] | None = None,
                        input_range: Any = None) -> None:
    """Give `model` an instructor's samples and/or input ranges: every check that runs it then
    feeds rows of `x` (one array per input, in `input_infos` order) instead of synthetic
    batches and trains towards `y` (one array per output: class ids, one-hot rows or values)
    instead of a teacher's targets. `input_range` (``[low, high]``, a list of such pairs per
    input, or a dict by input name) bounds synthetic float inputs when there is no `x`."""
    ranges = None
    if input_range is not None:
        names = [info.name for info in input_infos(model)]
        if isinstance(input_range, dict):
            ranges = tuple(_pair(input_range.get(name)) for name in names)
        elif input_range and isinstance(input_range[0], (list, tuple)):
            ranges = tuple(_pair(r) for r in input_range) + (None,) * max(0, len(names) - len(input_range))
        else:
            ranges = tuple(_pair(input_range) for _ in names)
    data = _InstructorData(tuple(np.asarray(a) for a in x) if x is not None else None,
                           tuple(np.asarray(a) for a in y) if y is not None else None, ranges)
    object.__setattr__(model, _DATA_ATTRIBUTE, data)
    if data.x is not None:
        adapt_to_samples(model, data.x)


def _never_adapted(layer: keras.layers.Layer) -> bool:
    """True for a built ``Normalization`` given no mean and never adapted: its statistics are
    still the zeros and ones it was built with, so it passes its input through unchanged."""
    if not isinstance(layer, keras.layers.Normalization) or not layer.built:
        return False
    if getattr(layer, "input_mean", None) is not None or getattr(layer, "invert", False):
        return False
    try:
        mean = keras.ops.convert_to_numpy(layer.adapt_mean)
        variance = keras.ops.convert_to_numpy(layer.adapt_variance)
    except AttributeError:
        return False
    return not np.any(mean) and bool(np.all(variance == 1))


def _readers(model: keras.Model, tensor: Any, depth: int = 0) -> list[keras.layers.Layer]:
    """The layers that read `tensor` itself, inside nested models too."""
    found = []
    for reader in consumers(model, tensor) if depth <= 8 else []:
        inner = _nested_input(reader, tensor) if isinstance(reader, keras.Model) and has_symbolic_inputs(reader) else None
        found.extend(_readers(reader, inner, depth + 1) if inner is not None else [reader])
    return found


def adapt_to_samples(model: keras.Model, x: Sequence[np.ndarray]) -> list[str]:
    """Adapt each never-adapted ``Normalization`` that reads one of `model`'s inputs to that
    input's samples in `x` (in `input_infos` order), and return their names. A builder has no data
    to adapt it with: the course's training script adapts it to the training set before `fit`.
    Left unadapted, raw features (a population in thousands beside a ratio near 1) reach the
    first Dense layer unscaled, and a sound model learns them far too slowly for the training
    checks (or diverges under SGD). A layer given `mean`/`variance`, adapted by the builder, or
    deeper in the model is left as it is."""
    if not has_symbolic_inputs(model):
        return []
    adapted = []
    for tensor, values in zip(model.inputs, x):
        for layer in _readers(model, tensor):
            if not _never_adapted(layer):
                continue
            try:
                layer.adapt(np.asarray(values, dtype="float32"))
            except Exception:  # samples that do not fit it (ValueError, TensorFlow's InvalidArgumentError, a
                continue       # subclass's own adapt): it stays as the builder left it, as the course's script would
            adapted.append(layer.name)
    return adapted


def batch_words(model: keras.Model) -> str:
    """What the checks feed `model`, for messages: the instructor's samples, or a synthetic batch."""
    data = getattr(model, _DATA_ATTRIBUTE, None)
    return "the assignment's sample inputs" if data is not None and data.x is not None else "a synthetic batch"


def _pair(value: Any) -> tuple[float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]))


def sample_rows(n: int, batch_size: int, seed: int) -> np.ndarray:
    """Which of `n` sample rows form the batch of `seed`: consecutive rows from a start that
    moves with the seed, so batches of different seeds differ row by row."""
    start = (seed * (batch_size + 1)) % n
    return (start + np.arange(batch_size)) % n


def sample_targets(model: keras.Model, batch_size: int, seed: int) -> list[np.ndarray] | None:
    """The instructor's labels of the rows `synthetic_inputs` fed for this batch, or None."""
    data = getattr(model, _DATA_ATTRIBUTE, None)
    if data is None or data.x is None or data.y is None:
        return None
    rows = sample_rows(len(data.x[0]), batch_size_for(model, batch_size), seed)
    return [y[rows] for y in data.y]


def _draw(info: InputInfo, shape: tuple[int, ...], rng: np.random.Generator,
          bounds: tuple[float, float] | None = None) -> np.ndarray:
    int_dtype = info.dtype if "int" in info.dtype else "float32"
    if info.kind == "mask":
        lengths = rng.integers(max(1, shape[-1] // 2), shape[-1] + 1, size=shape[:-1]) if len(shape) > 1 else None
        mask = np.ones(shape) if lengths is None else (np.arange(shape[-1]) < lengths[..., None])
        return mask.astype(info.dtype)
    if info.kind == "text":
        words = list(info.values or ("alpha", "beta", "gamma", "delta"))
        flat = [" ".join(rng.choice(words, size=int(rng.integers(3, 9)))) for _ in range(math.prod(shape))]
        return np.asarray(flat, dtype=object).reshape(shape)
    if info.kind == "string":
        words = list(info.values or [f"token{i}" for i in range(10)])
        return np.asarray(rng.choice(words, size=shape), dtype=object)
    if info.values is not None:
        return rng.choice(np.asarray(info.values), size=shape).astype(int_dtype)
    if info.kind == "int" or info.vocabulary is not None:
        high = info.vocabulary if info.vocabulary is not None else 10
        return rng.integers(min(info.low, high - 1), high, size=shape).astype(int_dtype)
    bounds = bounds if bounds is not None else info.range
    if bounds is not None:
        unit = rng.uniform(0.0, 1.0, size=shape)
        if len(shape) >= 3:
            unit = (unit + _LEVEL * _sample_levels(shape, rng, uniform=True)) / (1 + _LEVEL)
        return _as_dtype(bounds[0] + (bounds[1] - bounds[0]) * unit, info.dtype)
    values = rng.standard_normal(shape)
    if len(shape) >= 3:
        values = (values + _LEVEL * _sample_levels(shape, rng)) / math.sqrt(1 + _LEVEL ** 2)
    if info.center is not None and info.spread is not None:
        values = _placed(np.asarray(info.center), shape) + _placed(np.asarray(info.spread), shape) * values
    return _as_dtype(values, info.dtype)


def _as_dtype(values: np.ndarray, dtype: str) -> np.ndarray:
    """Drawn values in the input's dtype: rounded into an integer type's range, else float32
    unless the input asks for another float."""
    if "int" in dtype:
        limits = np.iinfo(dtype)
        return np.clip(np.rint(values), limits.min, limits.max).astype(dtype)
    return values.astype(dtype if "float" in dtype else "float32")


# The spread of the per-sample levels next to that of the pixels (see `_sample_levels`): half of
# it was enough for every pooled classifier tried, and a whole one left many pixels of a sample
# near a segmentation teacher's threshold, slowing overfit_batch on them.
_LEVEL = 0.5


def _sample_levels(shape: tuple[int, ...], rng: np.random.Generator, *, uniform: bool = False) -> np.ndarray:
    """A level per sample and per channel (the last axis), broadcast over the other axes, for
    images, sequences and volumes (inputs of rank 3 and more): real ones differ from sample to
    sample in brightness, colour or level, not only pixel by pixel. Without it, global pooling
    of independent noise gave every sample nearly the same features, so a sound classifier
    behind GlobalAveragePooling could not tell its samples apart and failed loss_decrease and
    overfit_batch. N(0, 1), or uniform-like in [0, 1] with `uniform`; weighted by `_LEVEL` by the caller."""
    broadcast = (shape[0],) + (1,) * (len(shape) - 2)
    if uniform:
        return (rng.uniform(0.0, 1.0, size=(*broadcast, 1)) + rng.uniform(0.0, 1.0, size=(*broadcast, shape[-1]))) / 2
    return (rng.standard_normal((*broadcast, 1)) + rng.standard_normal((*broadcast, shape[-1]))) / math.sqrt(2)


def synthetic_inputs(model: keras.Model, batch_size: int, seed: int,
                     declared: Sequence[Sequence[Any] | None] | None = None) -> Any:
    """A batch of inputs fitting `model` (see the module docstring for the values per input), of
    `batch_size` samples, or of the model's `fixed_batch_size` when it has one. Returns an array,
    or the list / dict structure the model takes for several inputs. `declared` (one shape with
    its batch dimension per input, in `input_infos` order, or None) gives the sizes of dimensions
    the model leaves unknown: a model of any length declared 5 steps long is fed 5 steps."""
    batch_size = batch_size_for(model, batch_size)
    infos = input_infos(model)
    data = getattr(model, _DATA_ATTRIBUTE, None)
    if data is not None and data.x is not None:
        rows = sample_rows(len(data.x[0]), batch_size, seed)
        dtypes = [info.dtype if "float" in info.dtype or "int" in info.dtype else None for info in infos]
        return pack_inputs(model, [x[rows].astype(d) if d else x[rows] for x, d in zip(data.x, dtypes)])
    rng = np.random.default_rng(seed)
    length = None
    arrays = []
    for i, info in enumerate(infos):
        given = declared[i] if declared is not None and i < len(declared) else None
        dims = list(info.shape[1:])
        if given is not None and len(given) == len(info.shape):
            dims = [g if d is None and isinstance(g, int) else d for d, g in zip(dims, given[1:])]
        if None in dims and length is None:
            length = sequence_length(model)
        shape = (batch_size, *[length if d is None else d for d in dims])
        bounds = data.ranges[i] if data is not None and data.ranges and i < len(data.ranges) else None
        arrays.append(_draw(info, shape, rng, bounds))
    return pack_inputs(model, arrays)


def pack_inputs(model: keras.Model, arrays: Sequence[Any]) -> Any:
    """Put one array per input into the structure the model was built with (a single array,
    a list, or a dict by input name), so Keras does not warn about a mismatched structure."""
    structure = getattr(model, "_inputs_struct", None) if has_symbolic_inputs(model) else None
    if structure is not None:
        return keras.tree.pack_sequence_as(structure, list(arrays))
    shapes = (model.get_build_config() or {}).get("input_shape") if not has_symbolic_inputs(model) else None
    if isinstance(shapes, dict):
        return dict(zip(sorted(shapes), arrays))
    return arrays[0] if len(arrays) == 1 else list(arrays)
