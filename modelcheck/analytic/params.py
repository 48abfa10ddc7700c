"""Parameter rules by layer family: each gives the count, the trainable part and the formula."""

from __future__ import annotations

from typing import Any, Callable

from .geometry import Shape, as_tuple, format_count, prod, rank_of, split_shape, times

__all__ = ["Rule", "PARAM_RULES"]

# the detail in brackets, and the frozen case.

Rule = Callable[[str, dict, Any], tuple[int, int, str, str]]


def _dense(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    d, units, bias = shape[-1], config["units"], config.get("use_bias", True)
    count = (d + bias) * units
    expr = f"({format_count(d)} + 1) x {format_count(units)}" if bias else times((d, units))
    return count, count, expr, ""


def _conv(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    rank = rank_of(name)
    kernel = as_tuple(config["kernel_size"], rank)
    channels = split_shape(shape, config)[1]
    filters, bias = config["filters"], config.get("use_bias", True)
    groups = config.get("groups", 1) or 1
    per_filter = channels // groups
    count = (prod(kernel) * per_filter + bias) * filters
    inner = times((*kernel, per_filter))
    expr = f"({inner} + 1) x {format_count(filters)}" if bias else f"{inner} x {format_count(filters)}"
    detail = f"groups={groups}: each filter sees {per_filter} of the {channels} input channels" if groups > 1 else ""
    return count, count, expr, detail


def _depthwise(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    kernel = as_tuple(config["kernel_size"], rank_of(name))
    channels, mult = split_shape(shape, config)[1], config.get("depth_multiplier", 1)
    bias = config.get("use_bias", True)
    count = (prod(kernel) + bias) * channels * mult
    out = times((channels, mult) if mult != 1 else (channels,))
    expr = f"({times(kernel)} + 1) x {out}" if bias else f"{times(kernel)} x {out}"
    return count, count, expr, ""


def _separable(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    kernel = as_tuple(config["kernel_size"], rank_of(name))
    channels, mult = split_shape(shape, config)[1], config.get("depth_multiplier", 1)
    filters, bias = config["filters"], config.get("use_bias", True)
    depth = (*kernel, channels) + ((mult,) if mult != 1 else ())
    point = (channels, mult, filters) if mult != 1 else (channels, filters)
    count = prod(depth) + prod(point) + (filters if bias else 0)
    expr = f"{times(depth)} + {times(point)}" + (f" + {format_count(filters)}" if bias else "")
    return count, count, expr, "depthwise + pointwise" + (" + bias" if bias else "")


def _embedding(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    count = config["input_dim"] * config["output_dim"]
    return count, count, times((config["input_dim"], config["output_dim"])), ""


def _batchnorm(name: str, config: dict, shape: Shape) -> tuple[int, int, str, str]:
    axis = config.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        features = prod([shape[a] for a in axis])
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
    features = prod(sizes)
    rms = config.get("rms_scaling", False)
    learned = [n for n, on in (("gamma", config.get("scale", True) or rms),
                               ("beta", config.get("center", True) and not rms)) if on]
    count = len(learned) * features
    size_text = format_count(features) if len(sizes) == 1 else f"({times(sizes)})"
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
    from . import config_arithmetic  # a wrapper counts its inner layers with the same rules

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


PARAM_RULES: dict[str, Rule] = {
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
