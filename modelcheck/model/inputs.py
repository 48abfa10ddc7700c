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
adapts it before ``fit`` (`adapt_to_samples`). Which values each input takes is read from the
layers that consume it (`modelcheck.model.input_domains`). Unknown lengths (``None``) are set
long enough for the receptive field of the model's convolutions and poolings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import keras
import numpy as np

from .graph import consumers, has_symbolic_inputs
from .input_domains import InputInfo, all_layers, input_infos, nested_input
from .state import state_batch_size

__all__ = ["InputInfo", "input_infos", "synthetic_inputs", "pack_inputs", "sequence_length", "set_sequence_length",
           "all_layers", "set_instructor_data", "sample_targets", "sample_rows", "fixed_batch_size", "batch_size_for",
           "rows_of", "adapt_to_samples", "batch_words"]

DEFAULT_SEQUENCE_LENGTH = 8  # the least length given to an input whose length is None (text, time series)
_MAX_SEQUENCE_LENGTH = 4096
_LENGTH_ATTRIBUTE = "_modelcheck_sequence_length"
_DATA_ATTRIBUTE = "_modelcheck_instructor_data"
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
        inner = nested_input(reader, tensor) if isinstance(reader, keras.Model) and has_symbolic_inputs(reader) else None
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
