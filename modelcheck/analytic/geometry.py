"""The geometry every layer rule shares: class-name aliases, shape tuples split into batch, spatial
and channel parts, sliding windows, and numbers written as a student reads them."""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["Shape", "ALIASES", "format_count", "canonical_name", "as_tuple", "prod", "times", "channels_last",
           "split_shape", "join_shape", "single_shape", "rank_of", "window_length", "transposed_length"]

Shape = tuple  # a shape with the batch dimension; None for unknown sizes


def format_count(n: int) -> str:
    """``235500`` -> ``"235,500"``."""
    return f"{n:,}"


ALIASES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "Convolution1DTranspose": "Conv1DTranspose", "Convolution2DTranspose": "Conv2DTranspose",
    "Convolution3DTranspose": "Conv3DTranspose",
    "SeparableConvolution1D": "SeparableConv1D", "SeparableConvolution2D": "SeparableConv2D",
    **{f"MaxPool{d}D": f"MaxPooling{d}D" for d in (1, 2, 3)},
    **{f"AvgPool{d}D": f"AveragePooling{d}D" for d in (1, 2, 3)},
    **{f"GlobalMaxPool{d}D": f"GlobalMaxPooling{d}D" for d in (1, 2, 3)},
    **{f"GlobalAvgPool{d}D": f"GlobalAveragePooling{d}D" for d in (1, 2, 3)},
}


def canonical_name(class_name: str) -> str:
    """The class name the layer rules use for `class_name` (Keras' aliases: ``Convolution2D`` -> ``Conv2D``)."""
    return ALIASES.get(class_name, class_name)


def as_tuple(value: Any, rank: int) -> tuple:
    """A per-axis argument as a tuple: ``3`` with rank 2 is ``(3, 3)``; a sequence is kept."""
    if isinstance(value, int):
        return (value,) * rank
    return tuple(value)


def prod(values: Sequence[int]) -> int:
    """The product of `values` (1 for none)."""
    return math.prod(values)


def times(values: Sequence[int]) -> str:
    """A product as a student writes it: ``(784, 300)`` -> ``"784 x 300"``."""
    return " x ".join(format_count(v) for v in values)


def channels_last(config: dict) -> bool:
    """True unless the layer config says ``data_format="channels_first"``."""
    return (config.get("data_format") or "channels_last") == "channels_last"


def split_shape(shape: Shape, config: dict) -> tuple[tuple, Any]:
    """(spatial sizes, channels) of a convolution or pooling input."""
    if channels_last(config):
        return tuple(shape[1:-1]), shape[-1]
    return tuple(shape[2:]), shape[1]


def join_shape(batch: Any, spatial: Sequence, channels: Any, config: dict) -> Shape:
    """The full shape from its parts, channels where the config's data format puts them."""
    if channels_last(config):
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


def single_shape(class_name: str, input_shape: Any) -> Shape:
    """`input_shape` as a tuple; ValueError when it is a list of shapes (a layer of one input)."""
    if not isinstance(input_shape, (tuple, list)) or (
        input_shape and isinstance(input_shape[0], (tuple, list))
    ):
        raise ValueError(f"{class_name} takes one input; received input_shape={input_shape!r}")
    return tuple(input_shape)


def rank_of(class_name: str) -> int:
    """The spatial rank a class name says: ``Conv2D`` -> 2; ValueError when it says none."""
    for d in (1, 2, 3):
        if f"{d}D" in class_name:
            return d
    raise ValueError(f"cannot tell the rank of {class_name}")


def window_length(n: Any, k: int, s: int, d: int, padding: str) -> Any:
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


def transposed_length(n: Any, k: int, s: int, d: int, padding: str, out_pad: Any) -> Any:
    """Output length of a transposed convolution (Keras' rule, `out_pad` its output_padding)."""
    if n is None:
        return None
    k = (k - 1) * d + 1
    if padding == "valid":
        out_pad = max(k, s) - k if out_pad is None else out_pad
        return (n - 1) * s + k + out_pad
    if out_pad is None:
        return n * s
    return (n - 1) * s + k % 2 + out_pad
