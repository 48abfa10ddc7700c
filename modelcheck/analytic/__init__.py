"""Parameter counts and output shapes of Keras layers, from arithmetic alone.

Each figure comes with the formula a student can check by hand::

    >>> config_arithmetic("Dense", {"units": 300}, (None, 784)).formula
    '(784 + 1) x 300 = 235,500'
    >>> config_output_shape("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2},
    ...                     (None, 28, 28, 1))
    (None, 13, 13, 8)

The pure functions (`config_arithmetic`, `config_output_shape`) take a layer's class name, its
configuration (the full ``get_config()`` or just the constructor's keyword arguments: missing
keys take Keras' defaults) and its input shape *with* the batch dimension. They never import
Keras, so they can judge a model before any weight is allocated, and they are an independent
oracle for the Hypothesis strategies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

__all__ = [
    "LayerArithmetic",
    "config_arithmetic",
    "config_output_shape",
    "covered_classes",
    "format_count",
    "layer_arithmetic",
]

Shape = tuple  # a shape with the batch dimension; None for unknown sizes


@dataclass(frozen=True)
class LayerArithmetic:
    """The parameter count of one layer and how it is obtained.

    Attributes:
        count: total number of parameters.
        trainable: parameters updated by training.
        non_trainable: the others (moving statistics, frozen layers).
        formula: plain arithmetic, e.g. ``"(784 + 1) x 300 = 235,500"``.
    """

    count: int
    trainable: int
    non_trainable: int
    formula: str


def format_count(n: int) -> str:
    """``235500`` -> ``"235,500"``."""
    return f"{n:,}"


# --------------------------------------------------------------------------- helpers

_ALIASES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "Convolution1DTranspose": "Conv1DTranspose", "Convolution2DTranspose": "Conv2DTranspose",
    "Convolution3DTranspose": "Conv3DTranspose",
    "SeparableConvolution1D": "SeparableConv1D", "SeparableConvolution2D": "SeparableConv2D",
    **{f"MaxPool{d}D": f"MaxPooling{d}D" for d in (1, 2, 3)},
    **{f"AvgPool{d}D": f"AveragePooling{d}D" for d in (1, 2, 3)},
    **{f"GlobalMaxPool{d}D": f"GlobalMaxPooling{d}D" for d in (1, 2, 3)},
    **{f"GlobalAvgPool{d}D": f"GlobalAveragePooling{d}D" for d in (1, 2, 3)},
}


def _canonical(class_name: str) -> str:
    return _ALIASES.get(class_name, class_name)


def _tuple(value: Any, rank: int) -> tuple:
    if isinstance(value, int):
        return (value,) * rank
    return tuple(value)


def _prod(values: Sequence[int]) -> int:
    return math.prod(values)


def _times(values: Sequence[int]) -> str:
    return " x ".join(format_count(v) for v in values)


def _channels_last(config: dict) -> bool:
    return (config.get("data_format") or "channels_last") == "channels_last"


def _split(shape: Shape, config: dict) -> tuple[tuple, Any]:
    """(spatial sizes, channels) of a convolution or pooling input."""
    if _channels_last(config):
        return tuple(shape[1:-1]), shape[-1]
    return tuple(shape[2:]), shape[1]


def _join(batch: Any, spatial: Sequence, channels: Any, config: dict) -> Shape:
    if _channels_last(config):
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def _single(class_name: str, input_shape: Any) -> Shape:
    if not isinstance(input_shape, (tuple, list)) or (
        input_shape and isinstance(input_shape[0], (tuple, list))
    ):
        raise ValueError(f"{class_name} takes one input; received input_shape={input_shape!r}")
    return tuple(input_shape)


def _rank_of(class_name: str) -> int:
    for d in (1, 2, 3):
        if f"{d}D" in class_name:
            return d
    raise ValueError(f"cannot tell the rank of {class_name}")


def _window(n: Any, k: int, s: int, d: int, padding: str) -> Any:
    """Output length of a convolution or pooling window of size k, stride s, dilation d."""
    if n is None:
        return None
    if padding in ("same", "causal"):
        return -(-n // s)
    size = (n - (k - 1) * d - 1) // s + 1
    if size <= 0:
        raise ValueError(
            f"a window of {k} (dilation {d}) does not fit in a length of {n} with padding='valid'"
        )
    return size


def _transposed_length(n: Any, k: int, s: int, d: int, padding: str, out_pad: Any) -> Any:
    if n is None:
        return None
    k = (k - 1) * d + 1
    if padding == "valid":
        out_pad = max(k, s) - k if out_pad is None else out_pad
        return (n - 1) * s + k + out_pad
    if out_pad is None:
        return n * s
    return (n - 1) * s + k % 2 + out_pad


# ------------------------------------------------------------------- parameter rules
# Each rule returns (count, trainable, expression, detail); the dispatcher adds "= total",
# the detail in brackets, and the frozen case.

Rule = Callable[[str, dict, Any], tuple[int, int, str, str]]


def _dense(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    d, units, bias = shape[-1], config["units"], config.get("use_bias", True)
    count = (d + bias) * units
    expr = f"({format_count(d)} + 1) x {format_count(units)}" if bias else _times((d, units))
    return count, count, expr, ""


def _conv(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    rank = _rank_of(name)
    kernel = _tuple(config["kernel_size"], rank)
    channels = _split(shape, config)[1]
    filters, bias = config["filters"], config.get("use_bias", True)
    groups = config.get("groups", 1) or 1
    per_filter = channels // groups
    count = (_prod(kernel) * per_filter + bias) * filters
    inner = _times((*kernel, per_filter))
    expr = f"({inner} + 1) x {format_count(filters)}" if bias else f"{inner} x {format_count(filters)}"
    detail = f"groups={groups}: each filter sees {per_filter} of the {channels} input channels" if groups > 1 else ""
    return count, count, expr, detail


def _depthwise(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    kernel = _tuple(config["kernel_size"], _rank_of(name))
    channels, mult = _split(shape, config)[1], config.get("depth_multiplier", 1)
    bias = config.get("use_bias", True)
    count = (_prod(kernel) + bias) * channels * mult
    out = _times((channels, mult) if mult != 1 else (channels,))
    expr = f"({_times(kernel)} + 1) x {out}" if bias else f"{_times(kernel)} x {out}"
    return count, count, expr, ""


def _separable(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    kernel = _tuple(config["kernel_size"], _rank_of(name))
    channels, mult = _split(shape, config)[1], config.get("depth_multiplier", 1)
    filters, bias = config["filters"], config.get("use_bias", True)
    depth = (*kernel, channels) + ((mult,) if mult != 1 else ())
    point = (channels, mult, filters) if mult != 1 else (channels, filters)
    count = _prod(depth) + _prod(point) + (filters if bias else 0)
    expr = f"{_times(depth)} + {_times(point)}" + (f" + {format_count(filters)}" if bias else "")
    return count, count, expr, "depthwise + pointwise" + (" + bias" if bias else "")


def _embedding(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    count = config["input_dim"] * config["output_dim"]
    return count, count, _times((config["input_dim"], config["output_dim"])), ""


def _batchnorm(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    axis = config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        features = _prod([shape[a] for a in axis])
    else:
        features = shape[axis]
    learned = [n for n, on in (("gamma", config.get("scale", True)), ("beta", config.get("center", True))) if on]
    trainable = len(learned) * features
    fixed = 2 * features
    count = trainable + fixed
    detail = f"{format_count(trainable)} trainable" + (f": {', '.join(learned)}" if learned else "")
    detail += f"; {format_count(fixed)} non-trainable: moving mean, variance"
    return count, trainable, f"{len(learned) + 2} x {format_count(features)}", detail


def _layernorm(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    axis = config.get("axis", -1)
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    sizes = [shape[a] for a in axes]
    features = _prod(sizes)
    rms = config.get("rms_scaling", False)
    learned = [n for n, on in (("gamma", config.get("scale", True) or rms),
                               ("beta", config.get("center", True) and not rms)) if on]
    count = len(learned) * features
    size_text = format_count(features) if len(sizes) == 1 else f"({_times(sizes)})"
    return count, count, f"{len(learned)} x {size_text}", ", ".join(learned)


_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


def _recurrent(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    d, units, bias = shape[-1], config["units"], config.get("use_bias", True)
    gates = _GATES[name]
    biases = int(bias) * (2 if name == "GRU" and config.get("reset_after", True) else 1)
    count = gates * (d + units + biases) * units
    terms = f"{format_count(d)} + {format_count(units)}" + (f" + {biases}" if biases else "")
    expr = f"({terms}) x {format_count(units)}"
    if gates > 1:
        expr = f"{gates} x {expr}"
    detail = "reset_after=True: two bias vectors" if biases == 2 else ""
    return count, count, expr, detail


def _bidirectional(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    forward = config["layer"]
    backward = config.get("backward_layer") or forward
    parts = [config_arithmetic(w["class_name"], w["config"], shape) for w in (forward, backward)]
    count = sum(p.count for p in parts)
    trainable = sum(p.trainable for p in parts)
    inner = parts[0].formula.split(" = ")[0]
    if parts[0].count == parts[1].count:
        expr = f"2 x [{forward['class_name']}: {inner}]"
    else:
        expr = " + ".join(format_count(p.count) for p in parts)
    return count, trainable, expr, "forward and backward layers"


_PARAM_RULES: dict[str, Rule] = {
    "Dense": _dense,
    **{f"Conv{d}D": _conv for d in (1, 2, 3)},
    **{f"Conv{d}DTranspose": _conv for d in (1, 2, 3)},
    "DepthwiseConv1D": _depthwise, "DepthwiseConv2D": _depthwise,
    "SeparableConv1D": _separable, "SeparableConv2D": _separable,
    "Embedding": _embedding,
    "BatchNormalization": _batchnorm,
    "LayerNormalization": _layernorm,
    "SimpleRNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent,
    "Bidirectional": _bidirectional,
}

# ----------------------------------------------------------------------- shape rules


def _same(config: dict, shape: Shape) -> Shape:
    return shape


def _dense_shape(config: dict, shape: Shape) -> Shape:
    return (*shape[:-1], config["units"])


def _conv_shape_for(name: str) -> Callable[[dict, Shape], Shape]:
    rank = _rank_of(name)
    transposed = name.endswith("Transpose")
    depthwise = name.startswith("Depthwise")

    def rule(config: dict, shape: Shape) -> Shape:
        spatial, channels = _split(shape, config)
        kernel = _tuple(config["kernel_size"], rank)
        strides = _tuple(config.get("strides", 1), rank)
        dilation = _tuple(config.get("dilation_rate", 1), rank)
        padding = config.get("padding", "valid").lower()
        if transposed:
            pads = config.get("output_padding")
            pads = (None,) * rank if pads is None else _tuple(pads, rank)
            out = [_transposed_length(*args, padding, p)
                   for *args, p in zip(spatial, kernel, strides, dilation, pads)]
        else:
            out = [_window(*args, padding) for args in zip(spatial, kernel, strides, dilation)]
        filters = channels * config.get("depth_multiplier", 1) if depthwise else config["filters"]
        return _join(shape[0], out, filters, config)

    return rule


def _pool_shape_for(name: str) -> Callable[[dict, Shape], Shape]:
    rank = _rank_of(name)

    def rule(config: dict, shape: Shape) -> Shape:
        spatial, channels = _split(shape, config)
        pool = _tuple(config.get("pool_size", 2), rank)
        strides = config.get("strides")
        strides = pool if strides is None else _tuple(strides, rank)
        padding = config.get("padding", "valid").lower()
        out = [_window(n, k, s, 1, padding) for n, k, s in zip(spatial, pool, strides)]
        return _join(shape[0], out, channels, config)

    return rule


def _global_pool_shape(config: dict, shape: Shape) -> Shape:
    spatial, channels = _split(shape, config)
    if config.get("keepdims", False):
        return _join(shape[0], [1] * len(spatial), channels, config)
    return (shape[0], channels)


def _flatten_shape(config: dict, shape: Shape) -> Shape:
    rest = shape[1:]
    return (shape[0], None if None in rest else _prod(rest))


def _reshape_shape(config: dict, shape: Shape) -> Shape:
    target = list(config["target_shape"])
    if -1 in target:
        known = _prod([t for t in target if t != -1])
        rest = shape[1:]
        target[target.index(-1)] = None if None in rest else _prod(rest) // known
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
    rank = _rank_of(name)

    def amounts(value: Any) -> list[tuple[int, int]]:
        if isinstance(value, int):
            return [(value, value)] * rank
        if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
            return [tuple(value)]
        return [(v, v) if isinstance(v, int) else tuple(v) for v in value]

    def rule(config: dict, shape: Shape) -> Shape:
        spatial, channels = _split(shape, config)
        if name.startswith("UpSampling"):
            default = 2
            sizes = _tuple(config.get("size", default), rank)
            out = [None if n is None else n * s for n, s in zip(spatial, sizes)]
        else:
            key = "padding" if name.startswith("ZeroPadding") else "cropping"
            sign = 1 if key == "padding" else -1
            pads = amounts(config.get(key, 1))
            out = [None if n is None else n + sign * (a + b) for n, (a, b) in zip(spatial, pads)]
        return _join(shape[0], out, channels, config)

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

_SHAPE_RULES: dict[str, Callable[[dict, Any], Any]] = {
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
    **{name: _conv_shape_for(name) for name in _PARAM_RULES if "Conv" in name},
    **{f"{kind}Pooling{d}D": _pool_shape_for(f"Pooling{d}D")
       for kind in ("Max", "Average") for d in (1, 2, 3)},
    **{f"Global{kind}Pooling{d}D": _global_pool_shape
       for kind in ("Max", "Average") for d in (1, 2, 3)},
    **{f"{kind}{d}D": _resize_shape_for(f"{kind}{d}D")
       for kind in ("UpSampling", "ZeroPadding", "Cropping") for d in (1, 2, 3)},
}

_MULTI_INPUT = frozenset(("Concatenate", *_MERGES))


def covered_classes() -> frozenset[str]:
    """The layer class names that `config_arithmetic` and `config_output_shape` understand."""
    return frozenset(_SHAPE_RULES)


def _check_covered(class_name: str) -> str:
    name = _canonical(class_name)
    if name not in _SHAPE_RULES:
        raise ValueError(
            f"{class_name} is not covered by modelcheck's layer arithmetic; covered layers: "
            f"{', '.join(sorted(_SHAPE_RULES))}"
        )
    return name


def _shape_argument(name: str, input_shape: Any) -> Any:
    if name in _MULTI_INPUT:
        return [tuple(s) for s in input_shape]
    return _single(name, input_shape)


# ------------------------------------------------------------------------ public API


def config_arithmetic(class_name: str, config: dict, input_shape: Any) -> LayerArithmetic:
    """The parameter count of a layer, from its configuration and input shape.

    Args:
        class_name: e.g. ``"Dense"`` (aliases such as ``"Convolution2D"`` are understood).
        config: the layer's ``get_config()``, or just its constructor keyword arguments.
        input_shape: the input shape with its batch dimension, e.g. ``(None, 784)``; a list
            of shapes for merging layers.

    Raises:
        ValueError: naming the class when it is not covered (see `covered_classes`), or when
            the layer is LoRA-enabled.

    >>> config_arithmetic("BatchNormalization", {}, (None, 64)).formula
    '4 x 64 = 256 (128 trainable: gamma, beta; 128 non-trainable: moving mean, variance)'
    """
    name = _check_covered(class_name)
    if config.get("lora_rank"):
        raise ValueError(f"{class_name} with lora_rank={config['lora_rank']} is not covered")
    shape = _shape_argument(name, input_shape)
    rule = _PARAM_RULES.get(name)
    if rule is None:
        return LayerArithmetic(0, 0, 0, f"0 ({class_name} has no parameters)")
    count, trainable, expr, detail = rule(name, config, shape)
    if config.get("trainable", True) is False:
        trainable, detail = 0, "frozen: all non-trainable"
    formula = f"{expr} = {format_count(count)}" + (f" ({detail})" if detail else "")
    return LayerArithmetic(count, trainable, count - trainable, formula)


def config_output_shape(class_name: str, config: dict, input_shape: Any) -> tuple:
    """The output shape of a layer (batch dimension included), from arithmetic alone.

    Same arguments as `config_arithmetic`. Layers with several outputs (recurrent layers with
    ``return_state=True``, ``Bidirectional`` with ``merge_mode=None``) give a tuple of shapes.

    Raises:
        ValueError: for classes that are not covered, and for windows that do not fit
            (a ``padding='valid'`` kernel larger than its input).

    >>> config_output_shape("Dense", {"units": 10}, (None, 32))
    (None, 10)
    """
    name = _check_covered(class_name)
    shape = _shape_argument(name, input_shape)
    if name in ("SimpleRNN", "LSTM", "GRU"):
        config = {**config, "_class": name}
    return _SHAPE_RULES[name](config, shape)


def _static_shape(tensor: Any) -> tuple:
    return tuple(None if d is None else int(d) for d in tensor.shape)


def layer_arithmetic(layer: Any) -> LayerArithmetic | None:
    """The arithmetic of a built Keras layer, or None when its class is not covered.

    Uses ``layer.__class__.__name__``, ``layer.get_config()`` and the shape of the layer's
    first input (a shared layer has the same weights on every call). Layers that were never
    called on an input, and LoRA-enabled layers, give None as well.
    """
    name = _canonical(type(layer).__name__)
    if name not in _SHAPE_RULES:
        return None
    config = layer.get_config()
    if config.get("lora_rank"):
        return None
    if name == "InputLayer":
        return config_arithmetic(name, config, ())
    if name not in _PARAM_RULES:  # no weights: the input shape is not needed
        return LayerArithmetic(0, 0, 0, f"0 ({type(layer).__name__} has no parameters)")
    try:
        tensors = layer.input
    except (AttributeError, ValueError):  # never called, so no input shape is known
        return None
    if isinstance(tensors, (list, tuple)):
        if len(tensors) != 1:
            return None
        tensors = tensors[0]
    config["trainable"] = bool(layer.trainable)
    return config_arithmetic(name, config, _static_shape(tensors))
