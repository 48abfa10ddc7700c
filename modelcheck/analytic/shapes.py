"""Output-shape rules by layer family: each maps a configuration and an input shape to the output shape."""

from __future__ import annotations

from typing import Any, Callable

from .geometry import Shape, as_tuple, join_shape, prod, rank_of, split_shape, transposed_length, window_length
from .params import PARAM_RULES

__all__ = ["SHAPE_RULES", "MULTI_INPUT"]


def _same(config: dict, shape: Shape) -> Shape:
    return shape


def _dense_shape(config: dict, shape: Shape) -> Shape:
    return (*shape[:-1], config["units"])


def _conv_shape_for(name: str) -> Callable[[dict, Shape], Shape]:
    rank = rank_of(name)
    transposed = name.endswith("Transpose")
    depthwise = name.startswith("Depthwise")

    def rule(config: dict, shape: Shape) -> Shape:
        spatial, channels = split_shape(shape, config)
        kernel = as_tuple(config["kernel_size"], rank)
        strides = as_tuple(config.get("strides", 1), rank)
        dilation = as_tuple(config.get("dilation_rate", 1), rank)
        padding = config.get("padding", "valid").lower()
        if transposed:
            pads = config.get("output_padding")
            pads = (None,) * rank if pads is None else as_tuple(pads, rank)
            out = [transposed_length(*args, padding, p)
                   for *args, p in zip(spatial, kernel, strides, dilation, pads)]
        else:
            out = [window_length(*args, padding) for args in zip(spatial, kernel, strides, dilation)]
        filters = channels * config.get("depth_multiplier", 1) if depthwise else config["filters"]
        return join_shape(shape[0], out, filters, config)

    return rule


def _pool_shape_for(name: str) -> Callable[[dict, Shape], Shape]:
    rank = rank_of(name)

    def rule(config: dict, shape: Shape) -> Shape:
        spatial, channels = split_shape(shape, config)
        pool = as_tuple(config.get("pool_size", 2), rank)
        strides = config.get("strides")
        strides = pool if strides is None else as_tuple(strides, rank)
        padding = config.get("padding", "valid").lower()
        out = [window_length(n, k, s, 1, padding) for n, k, s in zip(spatial, pool, strides)]
        return join_shape(shape[0], out, channels, config)

    return rule


def _global_pool_shape(config: dict, shape: Shape) -> Shape:
    spatial, channels = split_shape(shape, config)
    if config.get("keepdims", False):
        return join_shape(shape[0], [1] * len(spatial), channels, config)
    return (shape[0], channels)


def _flatten_shape(config: dict, shape: Shape) -> Shape:
    rest = shape[1:]
    return (shape[0], None if None in rest else prod(rest))


def _reshape_shape(config: dict, shape: Shape) -> Shape:
    target = list(config["target_shape"])
    if -1 in target:
        known = prod([t for t in target if t != -1])
        rest = shape[1:]
        target[target.index(-1)] = None if None in rest else prod(rest) // known
    return (shape[0], *target)


def _embedding_shape(config: dict, shape: Shape) -> Shape:
    return (*shape, config["output_dim"])


def _recurrent_shape(config: dict, shape: Shape) -> Shape:
    units = config["units"]
    out = (shape[0], shape[1], units) if config.get("return_sequences", False) else (shape[0], units)
    if config.get("return_state", False):
        n_states = 2 if config.get("_class") == "LSTM" else 1
        return (out, *[(shape[0], units)] * n_states)
    return out


def _bidirectional_shape(config: dict, shape: Shape) -> Shape:
    from . import config_output_shape  # a wrapper's shape is its inner layer's

    inner = config["layer"]
    out = config_output_shape(inner["class_name"], inner["config"], shape)
    merge = config.get("merge_mode", "concat")
    if merge is None:
        return (out, out)
    if merge == "concat":
        return (*out[:-1], out[-1] * 2)
    return out


def _permute_shape(config: dict, shape: Shape) -> Shape:
    return (shape[0], *[shape[d] for d in config["dims"]])


def _repeat_shape(config: dict, shape: Shape) -> Shape:
    return (shape[0], config["n"], shape[1])


def _resize_shape_for(name: str) -> Callable[[dict, Shape], Shape]:
    """UpSampling, ZeroPadding and Cropping: each spatial size grows or shrinks by a fixed rule."""
    rank = rank_of(name)

    def amounts(value: Any) -> list[tuple[int, int]]:
        if isinstance(value, int):
            return [(value, value)] * rank
        if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
            return [tuple(value)]
        return [(v, v) if isinstance(v, int) else tuple(v) for v in value]

    def rule(config: dict, shape: Shape) -> Shape:
        spatial, channels = split_shape(shape, config)
        if name.startswith("UpSampling"):
            default = 2
            sizes = as_tuple(config.get("size", default), rank)
            out = [None if n is None else n * s for n, s in zip(spatial, sizes)]
        else:
            key = "padding" if name.startswith("ZeroPadding") else "cropping"
            sign = 1 if key == "padding" else -1
            pads = amounts(config.get(key, 1))
            out = [None if n is None else n + sign * (a + b) for n, (a, b) in zip(spatial, pads)]
        return join_shape(shape[0], out, channels, config)

    return rule


def _concatenate_shape(config: dict, shapes: Any) -> Shape:
    axis = config.get("axis", -1)
    out = list(shapes[0])
    for shape in shapes[1:]:
        if out[axis] is None or shape[axis] is None:
            out[axis] = None
            break
        out[axis] += shape[axis]
    return tuple(out)


def _elementwise_shape(config: dict, shapes: Any) -> Shape:
    rank = max(len(s) for s in shapes)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = []
    for dims in zip(*padded):
        known = [d for d in dims if d is not None and d != 1]
        out.append(known[0] if known else (None if None in dims else 1))
    return tuple(out)


def _input_shape(config: dict, shape: Any) -> Shape:
    if config.get("batch_shape") is not None:
        return tuple(config["batch_shape"])
    if config.get("shape") is not None:
        return (None, *config["shape"])
    return tuple(shape)


_IDENTITY = (
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax",
    "Masking", "ActivityRegularization", "Identity", "UnitNormalization", "Rescaling",
)
_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")

SHAPE_RULES: dict[str, Callable[[dict, Any], Any]] = {
    "Dense": _dense_shape,
    "Embedding": _embedding_shape,
    "BatchNormalization": _same,
    "LayerNormalization": _same,
    "SimpleRNN": _recurrent_shape, "LSTM": _recurrent_shape, "GRU": _recurrent_shape,
    "Bidirectional": _bidirectional_shape,
    "Flatten": _flatten_shape,
    "Reshape": _reshape_shape,
    "Permute": _permute_shape,
    "RepeatVector": _repeat_shape,
    "InputLayer": _input_shape,
    "Concatenate": _concatenate_shape,
    **{name: _same for name in _IDENTITY},
    **{name: _elementwise_shape for name in _MERGES},
    **{name: _conv_shape_for(name) for name in PARAM_RULES if "Conv" in name},
    **{f"{kind}Pooling{d}D": _pool_shape_for(f"Pooling{d}D")
       for kind in ("Max", "Average") for d in (1, 2, 3)},
    **{f"Global{kind}Pooling{d}D": _global_pool_shape
       for kind in ("Max", "Average") for d in (1, 2, 3)},
    **{f"{kind}{d}D": _resize_shape_for(f"{kind}{d}D")
       for kind in ("UpSampling", "ZeroPadding", "Cropping") for d in (1, 2, 3)},
}

MULTI_INPUT = frozenset(("Concatenate", *_MERGES))
