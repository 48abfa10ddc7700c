"""Draw helpers shared by the layer and model strategies: cached strategies, and the window
arguments (kernel, stride, dilation, padding, pool size) that fit a given input."""

from __future__ import annotations

import functools
from typing import Any, Sequence

from hypothesis import strategies as st

from ._config import _config


@functools.lru_cache(maxsize=None)
def _sizes(low: int, high: int) -> st.SearchStrategy[int]:
    """Cached: building a fresh strategy on every draw costs more than the draw itself."""
    return st.integers(low, high)


@functools.lru_cache(maxsize=None)
def _choice(options: tuple) -> st.SearchStrategy[Any]:
    return st.sampled_from(options)


_BOOL = st.booleans()


def _window_args(draw: Any, size: int, max_kernel: int, paddings: Sequence[str],
                 covering: bool = False) -> dict[str, int | str]:
    """kernel, stride, dilation and padding for one spatial axis of length `size` (always fit).

    Values are drawn from fixed ranges and then clamped to what fits, rather than drawn from
    ranges that depend on `size`: so Hypothesis can shrink the size and the kernel independently.
    `covering` (used by `models()`): the dilated kernel fits the input even with padding='same'
    and the stride is no longer than the kernel. Otherwise some taps see only zero padding, or
    some positions are skipped, and the weights that feed them never get a gradient.
    """
    padding = draw(_choice(tuple(paddings)))
    fit = size if padding == "valid" or covering else max_kernel
    kernel = min(draw(_sizes(1, max_kernel)), fit)
    dilation = draw(_sizes(1, 3))
    dilation = 1 if kernel == 1 else min(dilation, (fit - 1) // (kernel - 1))
    stride = draw(_sizes(1, 3))
    stride = 1 if dilation > 1 else stride  # Keras refuses strides > 1 with dilation > 1
    stride = min(stride, kernel) if covering else stride
    return {"kernel": kernel, "stride": stride, "dilation": dilation, "padding": padding}


def _divisors(n: int, limit: int) -> list[int]:
    return [d for d in range(1, min(n, limit) + 1) if n % d == 0]


def _conv(draw: Any, rank: int, spatial: Sequence[int], channels: int, *, max_filters: int,
          max_kernel_size: int, max_groups: int, data_format: str, paddings: Sequence[str],
          covering: bool = False) -> dict:
    """Conv keyword arguments valid for an input of the given spatial sizes and channels."""
    padding = draw(_choice(tuple(paddings)))
    axes = [_window_args(draw, n, max_kernel_size, (padding,), covering) for n in spatial]
    if any(a["dilation"] > 1 for a in axes):  # Keras refuses strides > 1 with dilation > 1
        axes = [{**a, "stride": 1} for a in axes]
    groups = draw(_choice(tuple(_divisors(channels, max_groups))))
    filters = groups * draw(_sizes(1, max(1, max_filters // groups)))
    return _config(
        filters=filters,
        kernel_size=tuple(a["kernel"] for a in axes),
        strides=tuple(a["stride"] for a in axes),
        padding=padding,
        dilation_rate=tuple(a["dilation"] for a in axes),
        groups=groups,
        data_format=data_format,
    )


def _join_shape(spatial: Sequence[int], channels: int, data_format: str) -> tuple[int, ...]:
    if data_format == "channels_last":
        return (*spatial, channels)
    return (channels, *spatial)


def _pooling_config(draw: Any, spatial: Sequence[int], max_pool_size: int, data_format: str,
                    covering: bool = False) -> dict:
    """Pooling arguments that fit `spatial`; `covering`: strides no longer than the window."""
    padding = draw(_choice(("valid", "same")))
    pool = tuple(min(draw(_sizes(1, max_pool_size)), n if padding == "valid" else max_pool_size)
                 for n in spatial)
    strides = tuple(min(draw(_sizes(1, max_pool_size + 1)), p if covering else p + 1) for p in pool)
    return _config(pool_size=pool, strides=strides, padding=padding, data_format=data_format)
