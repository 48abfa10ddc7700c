"""Hypothesis strategies for Keras layer configurations, whole models and builder arguments.

Every drawn value is valid by construction and carries the figures modelcheck's layer
arithmetic (`modelcheck.analytic`) predicts for it, computed without Keras, so a property test
can compare them with what Keras builds::

    from hypothesis import given
    from modelcheck import strategies as mst

    @given(mst.models())
    def test_counts(drawn):
        model = drawn.build()
        assert model.count_params() == drawn.expected_params, drawn

    @given(mst.build_model_kwargs(n_hidden=(0, 2)))
    def test_my_builder(kwargs):
        model = build_model(**kwargs)
        ...

Keras is imported only when a drawn value is built, so importing this module stays light.
Convolutions with ``data_format="channels_first"`` are drawn by the layer strategies (their
shapes and counts are well defined) but TensorFlow cannot run them on a CPU; `models()` only
draws ``channels_last``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Collection, Mapping, Sequence

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from . import analytic

__all__ = [
    "DrawnLayer",
    "DrawnModel",
    "MODEL_KINDS",
    "ModelInput",
    "ModelNode",
    "OPTIONAL_LAYERS",
    "activation_layers",
    "batch_normalization_layers",
    "build_model_kwargs",
    "builder_kwargs",
    "conv_layers",
    "dense_layers",
    "dropout_layers",
    "embedding_layers",
    "flatten_layers",
    "layer_configs",
    "models",
    "pooling_layers",
    "recurrent_layers",
]

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softmax", "elu", "selu", "gelu")
DATA_FORMATS = ("channels_last", "channels_first")
CELLS = ("SimpleRNN", "LSTM", "GRU")
POOLINGS = ("MaxPooling", "AveragePooling", "GlobalMaxPooling", "GlobalAveragePooling")
MODEL_KINDS = ("sequential", "functional", "multi_input", "multi_output")
INPUT_KINDS = ("vector", "image", "sequence", "tokens")

# Keras' defaults, so drawn configurations show only what differs from them
_DEFAULTS = {
    "strides": 1, "padding": "valid", "dilation_rate": 1, "groups": 1, "use_bias": True,
    "activation": None, "data_format": "channels_last", "return_sequences": False,
    "keepdims": False, "center": True, "scale": True, "axis": -1, "reset_after": True,
}


def _call_text(class_name: str, config: Mapping[str, Any]) -> str:
    args = ", ".join(f"{key}={value!r}" for key, value in config.items())
    return f"{class_name}({args})"


def _is_default(key: str, value: Any) -> bool:
    if key not in _DEFAULTS:
        return False
    if key == "activation" and value == "linear":  # what Keras calls activation=None
        return True
    default = _DEFAULTS[key]
    if isinstance(value, tuple) and isinstance(default, int):
        return all(v == default for v in value)
    return value == default


def _config(**values: Any) -> dict[str, Any]:
    """Keep the keyword arguments that differ from Keras' defaults (readable, shrinks well)."""
    return {k: v for k, v in values.items() if not _is_default(k, v)}


def _pretty_repr(self: Any, printer: Any, cycle: bool) -> None:
    """Hypothesis prints failing examples with this (not field by field): the readable repr."""
    for index, line in enumerate(repr(self).splitlines()):
        if index:
            printer.break_()
        printer.text(line)


@dataclass(frozen=True)
class DrawnLayer:
    """One layer configuration, with an input shape that makes it valid.

    Attributes:
        class_name: the `keras.layers` class, e.g. ``"Conv2D"``.
        config: the constructor's keyword arguments (only those that differ from Keras' defaults,
            plus the required ones).
        input_shape: the shape of one example, without the batch dimension (what
            ``keras.Input(shape)`` takes).
        input_dtype: ``"float32"``, or ``"int32"`` for token ids.

    ``repr`` reads like code: ``Input(shape=(9, 9, 3)) -> Conv2D(filters=8, kernel_size=(3, 3))``.
    """

    class_name: str
    config: dict[str, Any] = field(hash=False)
    input_shape: tuple[int, ...]
    input_dtype: str = "float32"

    @property
    def call(self) -> str:
        """The constructor call, e.g. ``Conv2D(filters=8, kernel_size=(3, 3), padding='same')``."""
        return _call_text(self.class_name, self.config)

    def __repr__(self) -> str:
        dtype = "" if self.input_dtype == "float32" else f", dtype={self.input_dtype!r}"
        return f"Input(shape={self.input_shape!r}{dtype}) -> {self.call}"

    _repr_pretty_ = _pretty_repr

    @property
    def arithmetic(self) -> analytic.LayerArithmetic:
        """The parameter count and its formula, from `modelcheck.analytic` (no Keras)."""
        return analytic.config_arithmetic(self.class_name, self.config, (None, *self.input_shape))

    @property
    def expected_params(self) -> int:
        """The parameter count Keras should report, from `modelcheck.analytic` (no Keras)."""
        return self.arithmetic.count

    @property
    def expected_output_shape(self) -> tuple:
        """The output shape with the batch dimension (None), from `modelcheck.analytic`."""
        return analytic.config_output_shape(self.class_name, self.config, (None, *self.input_shape))

    def build(self, **kwargs: Any) -> Any:
        """A new (unbuilt) Keras layer; `kwargs` are added to the configuration (e.g. name=)."""
        import keras

        return getattr(keras.layers, self.class_name)(**self.config, **kwargs)

    def build_model(self) -> Any:
        """``keras.Model(Input(input_shape), layer(input))``, built symbolically (no data)."""
        import keras

        inputs = keras.Input(self.input_shape, dtype=self.input_dtype)
        return keras.Model(inputs, self.build()(inputs))


# --------------------------------------------------------------------------- validation


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
        high is not None and value > high
    ):
        wanted = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise InvalidArgument(f"{name}={value!r} must be {wanted}")


def _check_choices(name: str, values: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Collection) or not values:
        raise InvalidArgument(f"{name}={values!r} must be a non-empty collection of {list(allowed)}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise InvalidArgument(f"{name}={values!r} contains {unknown!r}; allowed values: {list(allowed)}")
    return tuple(values)


def _check_range(name: str, value: Any, *, integer: bool, low: float, high: float | None = None) -> tuple:
    kinds = (int,) if integer else (int, float)
    ok = (
        isinstance(value, (tuple, list)) and len(value) == 2
        and all(isinstance(v, kinds) and not isinstance(v, bool) for v in value)
        and low <= value[0] <= value[1] and (high is None or value[1] <= high)
    )
    if not ok:
        kind = "integers" if integer else "numbers"
        bound = f">= {low}" + ("" if high is None else f" and <= {high}")
        raise InvalidArgument(f"{name}={value!r} must be a pair (low, high) of {kind}, low <= high, {bound}")
    return tuple(value)


# -------------------------------------------------------------------- layer strategies

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


def dense_layers(*, max_units: int = 32, max_input_dim: int = 32) -> st.SearchStrategy[DrawnLayer]:
    """`Dense` layers on inputs of rank 1 or 2 (Dense acts on the last axis).

    >>> dense_layers(max_units=4).example()  # doctest: +SKIP
    Input(shape=(7,)) -> Dense(units=3, activation='relu')
    """
    _check_int("max_units", max_units, 1)
    _check_int("max_input_dim", max_input_dim, 1)
    shapes = st.lists(_sizes(1, max_input_dim), min_size=1, max_size=2).map(tuple)
    configs = st.builds(
        _config, units=_sizes(1, max_units),
        activation=st.sampled_from((None, *ACTIVATIONS)), use_bias=_BOOL,
    )
    return st.builds(DrawnLayer, st.just("Dense"), configs, shapes)


def conv_layers(
    *,
    rank: int = 2,
    max_filters: int = 16,
    max_kernel_size: int = 5,
    max_size: int = 16,
    max_channels: int = 8,
    max_groups: int = 4,
    data_formats: Collection[str] = DATA_FORMATS,
) -> st.SearchStrategy[DrawnLayer]:
    """`Conv1D`/`Conv2D`/`Conv3D` layers (filters, kernel size, strides, padding, dilation,
    groups, data format) on an input whose spatial sizes fit the kernel.

    >>> conv_layers(rank=2, data_formats=["channels_last"]).example()  # doctest: +SKIP
    Input(shape=(9, 9, 3)) -> Conv2D(filters=8, kernel_size=(3, 3), strides=(2, 2), padding='same')
    """
    _check_int("rank", rank, 1, 3)
    for name, value in (("max_filters", max_filters), ("max_kernel_size", max_kernel_size),
                        ("max_size", max_size), ("max_channels", max_channels), ("max_groups", max_groups)):
        _check_int(name, value, 1)
    formats = _check_choices("data_formats", data_formats, DATA_FORMATS)
    paddings = ("valid", "same", "causal") if rank == 1 else ("valid", "same")

    @st.composite
    def draw_conv(draw: Any) -> DrawnLayer:
        data_format = draw(_choice(tuple(formats)))
        spatial = [draw(_sizes(1, max_size)) for _ in range(rank)]
        channels = draw(_sizes(1, max_channels))
        config = _conv(draw, rank, spatial, channels, max_filters=max_filters, max_kernel_size=max_kernel_size,
                            max_groups=max_groups, data_format=data_format, paddings=paddings)
        return DrawnLayer(f"Conv{rank}D", config, _join_shape(spatial, channels, data_format))

    return draw_conv()


def pooling_layers(
    *,
    rank: int = 2,
    kinds: Collection[str] = POOLINGS,
    max_pool_size: int = 4,
    max_size: int = 16,
    data_formats: Collection[str] = DATA_FORMATS,
) -> st.SearchStrategy[DrawnLayer]:
    """Pooling layers of the given rank: ``kinds`` among "MaxPooling", "AveragePooling",
    "GlobalMaxPooling", "GlobalAveragePooling".

    >>> pooling_layers(rank=1, kinds=["MaxPooling"]).example()  # doctest: +SKIP
    Input(shape=(7, 2)) -> MaxPooling1D(pool_size=(3,), strides=(1,), padding='same')
    """
    _check_int("rank", rank, 1, 3)
    _check_int("max_pool_size", max_pool_size, 1)
    _check_int("max_size", max_size, 1)
    kinds = _check_choices("kinds", kinds, POOLINGS)
    formats = _check_choices("data_formats", data_formats, DATA_FORMATS)

    @st.composite
    def draw_pooling(draw: Any) -> DrawnLayer:
        kind = draw(_choice(tuple(kinds)))
        data_format = draw(_choice(tuple(formats)))
        spatial = [draw(_sizes(1, max_size)) for _ in range(rank)]
        shape = _join_shape(spatial, draw(_sizes(1, 4)), data_format)
        if kind.startswith("Global"):
            config = _config(data_format=data_format, keepdims=draw(_BOOL))
        else:
            config = _pooling_config(draw, spatial, max_pool_size, data_format)
        return DrawnLayer(f"{kind}{rank}D", config, shape)

    return draw_pooling()


def _pooling_config(draw: Any, spatial: Sequence[int], max_pool_size: int, data_format: str,
                    covering: bool = False) -> dict:
    """Pooling arguments that fit `spatial`; `covering`: strides no longer than the window."""
    padding = draw(_choice(("valid", "same")))
    pool = tuple(min(draw(_sizes(1, max_pool_size)), n if padding == "valid" else max_pool_size)
                 for n in spatial)
    strides = tuple(min(draw(_sizes(1, max_pool_size + 1)), p if covering else p + 1) for p in pool)
    return _config(pool_size=pool, strides=strides, padding=padding, data_format=data_format)


def flatten_layers(*, max_rank: int = 3, max_size: int = 8) -> st.SearchStrategy[DrawnLayer]:
    """`Flatten` on inputs of rank 1 to `max_rank`.

    >>> flatten_layers().example()  # doctest: +SKIP
    Input(shape=(3, 4)) -> Flatten()
    """
    _check_int("max_rank", max_rank, 1)
    _check_int("max_size", max_size, 1)
    shapes = st.lists(_sizes(1, max_size), min_size=1, max_size=max_rank).map(tuple)
    return st.builds(DrawnLayer, st.just("Flatten"), st.just({}), shapes)


def dropout_layers(*, max_rate: float = 0.9) -> st.SearchStrategy[DrawnLayer]:
    """`Dropout` with a rate in [0, max_rate].

    >>> dropout_layers().example()  # doctest: +SKIP
    Input(shape=(5,)) -> Dropout(rate=0.5)
    """
    if not isinstance(max_rate, (int, float)) or not 0 <= max_rate < 1:
        raise InvalidArgument(f"max_rate={max_rate!r} must be a number in [0, 1)")
    rates = st.floats(0, max_rate).map(lambda r: round(r, 3))
    shapes = st.lists(_sizes(1, 16), min_size=1, max_size=3).map(tuple)
    return st.builds(DrawnLayer, st.just("Dropout"), st.builds(dict, rate=rates), shapes)


def batch_normalization_layers(*, max_rank: int = 3, max_size: int = 16) -> st.SearchStrategy[DrawnLayer]:
    """`BatchNormalization` with `center`/`scale` switched on or off and any feature axis.

    >>> batch_normalization_layers().example()  # doctest: +SKIP
    Input(shape=(4, 6)) -> BatchNormalization(axis=1, center=False)
    """
    _check_int("max_rank", max_rank, 1)
    _check_int("max_size", max_size, 1)

    @st.composite
    def draw_bn(draw: Any) -> DrawnLayer:
        shape = tuple(draw(st.lists(_sizes(1, max_size), min_size=1, max_size=max_rank)))
        axis = draw(_choice((-1, *range(1, len(shape) + 1))))
        axis = -1 if axis == len(shape) else axis
        config = _config(axis=axis, center=draw(_BOOL), scale=draw(_BOOL))
        return DrawnLayer("BatchNormalization", config, shape)

    return draw_bn()


def embedding_layers(*, max_input_dim: int = 1000, max_output_dim: int = 32,
                     max_length: int = 20) -> st.SearchStrategy[DrawnLayer]:
    """`Embedding` (vocabulary size `input_dim`, vector size `output_dim`) on int32 token ids.

    >>> embedding_layers().example()  # doctest: +SKIP
    Input(shape=(7,), dtype='int32') -> Embedding(input_dim=100, output_dim=8)
    """
    for name, value in (("max_input_dim", max_input_dim), ("max_output_dim", max_output_dim),
                        ("max_length", max_length)):
        _check_int(name, value, 1)
    configs = st.builds(dict, input_dim=_sizes(1, max_input_dim), output_dim=_sizes(1, max_output_dim))
    shapes = st.tuples(_sizes(1, max_length))
    return st.builds(DrawnLayer, st.just("Embedding"), configs, shapes, st.just("int32"))


def recurrent_layers(*, cells: Collection[str] = CELLS, max_units: int = 16, max_timesteps: int = 12,
                     max_input_dim: int = 16) -> st.SearchStrategy[DrawnLayer]:
    """`SimpleRNN`, `LSTM` or `GRU` (units, bias, return_sequences; GRU's reset_after).

    >>> recurrent_layers(cells=["GRU"]).example()  # doctest: +SKIP
    Input(shape=(5, 3)) -> GRU(units=4, reset_after=False)
    """
    cells = _check_choices("cells", cells, CELLS)
    for name, value in (("max_units", max_units), ("max_timesteps", max_timesteps),
                        ("max_input_dim", max_input_dim)):
        _check_int(name, value, 1)

    @st.composite
    def draw_rnn(draw: Any) -> DrawnLayer:
        cell = draw(_choice(tuple(cells)))
        extra = {"reset_after": draw(_BOOL)} if cell == "GRU" else {}
        config = _config(units=draw(_sizes(1, max_units)), use_bias=draw(_BOOL),
                         return_sequences=draw(_BOOL), **extra)
        shape = (draw(_sizes(1, max_timesteps)), draw(_sizes(1, max_input_dim)))
        return DrawnLayer(cell, config, shape)

    return draw_rnn()


def activation_layers(*, activations: Collection[str] = ACTIVATIONS) -> st.SearchStrategy[DrawnLayer]:
    """`Activation` layers with one of `activations`.

    >>> activation_layers(activations=["relu"]).example()  # doctest: +SKIP
    Input(shape=(3,)) -> Activation(activation='relu')
    """
    if isinstance(activations, str) or not activations:
        raise InvalidArgument(f"activations={activations!r} must be a non-empty collection of names")
    configs = st.builds(dict, activation=st.sampled_from(tuple(activations)))
    shapes = st.lists(_sizes(1, 16), min_size=1, max_size=3).map(tuple)
    return st.builds(DrawnLayer, st.just("Activation"), configs, shapes)


_LAYER_STRATEGIES: dict[str, Callable[[], st.SearchStrategy[DrawnLayer]]] = {
    "Dense": dense_layers,
    "Conv1D": lambda: conv_layers(rank=1),
    "Conv2D": conv_layers,
    "Pooling1D": lambda: pooling_layers(rank=1),
    "Pooling2D": pooling_layers,
    "Flatten": flatten_layers,
    "Dropout": dropout_layers,
    "BatchNormalization": batch_normalization_layers,
    "Embedding": embedding_layers,
    "Recurrent": recurrent_layers,
    "Activation": activation_layers,
}


def layer_configs(*, families: Collection[str] | None = None) -> st.SearchStrategy[DrawnLayer]:
    """Any of the layer strategies above, with their defaults.

    `families` picks some of: "Dense", "Conv1D", "Conv2D", "Pooling1D", "Pooling2D", "Flatten",
    "Dropout", "BatchNormalization", "Embedding", "Recurrent", "Activation".

    >>> layer_configs(families=["Dense", "Recurrent"]).example()  # doctest: +SKIP
    Input(shape=(4, 2)) -> LSTM(units=3)
    """
    chosen = _check_choices("families", families, tuple(_LAYER_STRATEGIES)) if families is not None \
        else tuple(_LAYER_STRATEGIES)
    return st.one_of([_LAYER_STRATEGIES[name]() for name in chosen])


# ------------------------------------------------------------------ builder arguments


def builder_kwargs(space: Mapping[str, Any], *, log_scale: Collection[str] = ()) -> st.SearchStrategy[dict]:
    """Keyword arguments for a model builder, drawn from a plain description of their space.

    Each value of `space` is either a pair ``[low, high]`` (integers: every integer in between;
    floats: uniform, or log-uniform when the name is in `log_scale`), a list of other length
    (one of its items), or a single value (always that value). This is the form a spec file
    uses: ``hypothesis = { n_hidden = [0, 3], n_neurons = [1, 99] }``.

    >>> builder_kwargs({"n_hidden": [0, 3], "learning_rate": [3e-4, 3e-2]},
    ...                log_scale=["learning_rate"]).example()  # doctest: +SKIP
    {'n_hidden': 2, 'learning_rate': 0.0041}
    """
    if not isinstance(space, Mapping):
        raise InvalidArgument(f"space={space!r} must be a mapping from argument name to its range")
    unknown = [name for name in log_scale if name not in space]
    if isinstance(log_scale, str) or unknown:
        raise InvalidArgument(f"log_scale={log_scale!r} must name arguments of space; unknown: {unknown}")
    fields = {}
    for name, value in space.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidArgument(f"space key {name!r} must be a keyword argument name")
        fields[name] = _argument_strategy(name, value, name in log_scale)
    return st.fixed_dictionaries(fields)


def _argument_strategy(name: str, value: Any, log: bool) -> st.SearchStrategy[Any]:
    is_number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(map(is_number, value)):
        low, high = value
        if low > high:
            raise InvalidArgument(f"space[{name!r}]={value!r}: low must not exceed high")
        if isinstance(low, int) and isinstance(high, int) and not log:
            return st.integers(low, high)
        if log:
            if low <= 0:
                raise InvalidArgument(f"space[{name!r}]={value!r}: a log-scale range must be positive")
            return _log_uniform(float(low), float(high))
        return st.floats(float(low), float(high))
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidArgument(f"space[{name!r}]=[] must not be empty")
        return st.sampled_from(list(value))
    return st.just(value)


def _log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    import math

    exponent = st.floats(math.log(low), math.log(high))
    return exponent.map(lambda e: min(high, max(low, math.exp(e))))


def build_model_kwargs(
    *,
    n_hidden: tuple[int, int] = (0, 3),
    n_neurons: tuple[int, int] = (1, 99),
    learning_rate: tuple[float, float] = (3e-4, 3e-2),
    input_shape: tuple[int, ...] = (8,),
) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments of document 003's ``build_model(n_hidden, n_neurons, learning_rate, input_shape)``.

    The defaults are the document's search space: ``n_hidden`` in 0..3, ``n_neurons`` in 1..99,
    ``learning_rate`` log-uniform in [3e-4, 3e-2]; each range can be narrowed with a
    ``(low, high)`` pair. ``input_shape`` is fixed (the data decides it), ``(8,)`` by default.

    >>> build_model_kwargs(n_hidden=(1, 2)).example()  # doctest: +SKIP
    {'n_hidden': 1, 'n_neurons': 17, 'learning_rate': 0.0012, 'input_shape': (8,)}
    """
    _check_range("n_hidden", n_hidden, integer=True, low=0)
    _check_range("n_neurons", n_neurons, integer=True, low=1)
    _check_range("learning_rate", learning_rate, integer=False, low=1e-12)
    if not isinstance(input_shape, (tuple, list)) or not input_shape or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape
    ):
        raise InvalidArgument(f"input_shape={input_shape!r} must be a non-empty tuple of integers >= 1")
    return builder_kwargs(
        {"n_hidden": list(n_hidden), "n_neurons": list(n_neurons),
         "learning_rate": [float(v) for v in learning_rate], "input_shape": [tuple(input_shape)]},
        log_scale=["learning_rate"],
    )

# ------------------------------------------------------------------------- whole models

# layers models() may leave out (the structural ones, Dense, Flatten, Embedding, Concatenate and
# global pooling, are always available so every drawn graph can be completed)
OPTIONAL_LAYERS = (
    "Dropout", "BatchNormalization", "LayerNormalization", "Activation", "MaxPooling",
    "AveragePooling", "Conv1D", "Conv2D", "SimpleRNN", "LSTM", "GRU", "Add",
)
_MERGING = frozenset(("Add", "Concatenate"))


@dataclass(frozen=True)
class ModelInput:
    """One input of a drawn model: its name, shape without the batch dimension, and dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class ModelNode:
    """One layer of a drawn model, applied to the named tensors.

    `input_shapes` and `output_shape` (batch dimension included) are modelcheck's analytic
    figures, computed while drawing; Keras is never asked.
    """

    name: str
    class_name: str
    config: dict[str, Any] = field(hash=False)
    inputs: tuple[str, ...]
    input_shapes: tuple[tuple, ...]
    output_shape: tuple

    @property
    def arithmetic(self) -> analytic.LayerArithmetic:
        """The layer's analytic parameter count and formula."""
        shapes = list(self.input_shapes) if self.class_name in _MERGING else self.input_shapes[0]
        return analytic.config_arithmetic(self.class_name, self.config, shapes)

    def line(self, sequential: bool) -> str:
        """``name = Call(...)(inputs)  # -> shape, N params`` (no ``(inputs)`` in a Sequential)."""
        call = _call_text(self.class_name, self.config)
        if not sequential:
            args = self.inputs[0] if len(self.inputs) == 1 else f"[{', '.join(self.inputs)}]"
            call = f"{call}({args})"
        return f"{self.name} = {call}  # -> {self.output_shape}, {analytic.format_count(self.arithmetic.count)} params"


@dataclass(frozen=True)
class DrawnModel:
    """A Keras model drawn by `models()`, valid by construction, with its expected figures.

    Attributes:
        kind: one of ``MODEL_KINDS``.
        inputs, nodes, outputs: the graph; ``outputs`` names the nodes the model returns.

    ``repr`` (what Hypothesis prints for a failing example) is the layer list, one line each,
    with the expected output shape and parameter count of every layer.
    """

    kind: str
    inputs: tuple[ModelInput, ...]
    nodes: tuple[ModelNode, ...]
    outputs: tuple[str, ...]

    @property
    def layers(self) -> list[str]:
        """One readable line per input and layer, e.g. ``dense = Dense(units=3)(input)  # ...``."""
        lines = [f"{i.name} = Input(shape={i.shape!r}" + ("" if i.dtype == "float32" else f", dtype={i.dtype!r}") + ")"
                 for i in self.inputs]
        return lines + [node.line(self.kind == "sequential") for node in self.nodes]

    def __repr__(self) -> str:
        body = "".join(f"\n    {line}" for line in self.layers)
        return f"DrawnModel({self.kind}:{body}\n    outputs = [{', '.join(self.outputs)}])"

    _repr_pretty_ = _pretty_repr

    @property
    def expected_arithmetic(self) -> dict[str, analytic.LayerArithmetic]:
        """Layer name -> its analytic parameter count and formula."""
        return {node.name: node.arithmetic for node in self.nodes}

    @property
    def expected_params(self) -> int:
        """Total parameter count, from `modelcheck.analytic` alone."""
        return sum(a.count for a in self.expected_arithmetic.values())

    @property
    def expected_output_shape(self) -> tuple | list[tuple]:
        """The output shape (batch dimension None), or a list of them for several outputs."""
        by_name = {node.name: node.output_shape for node in self.nodes}
        shapes = [by_name[name] for name in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def parametrized_layers(self) -> list[str]:
        """Names of the layers that have parameters, in graph order."""
        return [n.name for n in self.nodes if n.arithmetic.count > 0]

    def with_config(self, name: str, **changes: Any) -> "DrawnModel":
        """A copy whose layer `name` gets extra keyword arguments that keep its shapes, e.g.
        ``kernel_initializer="zeros"`` or ``trainable=False`` (for fault injection)."""
        if name not in {n.name for n in self.nodes}:
            raise InvalidArgument(f"name={name!r} is not a layer of this model; layers: {[n.name for n in self.nodes]}")
        nodes = tuple(replace(n, config={**n.config, **changes}) if n.name == name else n for n in self.nodes)
        return replace(self, nodes=nodes)

    def build(self, *, insert_after: Mapping[str, Callable[[Any], Any]] | None = None) -> Any:
        """A new `keras.Model` (a `keras.Sequential` for the sequential kind), built symbolically.

        `insert_after` maps a layer name to a Keras layer (or any callable on a tensor) applied
        to that layer's output, e.g. ``{"dense": keras.layers.Lambda(ops.stop_gradient)}``;
        the model is then built with the functional API.
        """
        import keras

        insert_after = dict(insert_after or {})
        unknown = set(insert_after) - {n.name for n in self.nodes}
        if unknown:
            raise InvalidArgument(f"insert_after names unknown layers {sorted(unknown)}")
        layers = {n.name: getattr(keras.layers, n.class_name)(**n.config, name=n.name) for n in self.nodes}
        if self.kind == "sequential" and not insert_after:
            (first,) = self.inputs
            return keras.Sequential([keras.Input(first.shape, dtype=first.dtype, name=first.name),
                                     *layers.values()], name="drawn_model")
        tensors = {i.name: keras.Input(i.shape, dtype=i.dtype, name=i.name) for i in self.inputs}
        for node in self.nodes:
            args = [tensors[name] for name in node.inputs]
            out = layers[node.name](args if node.class_name in _MERGING else args[0])
            tensors[node.name] = insert_after[node.name](out) if node.name in insert_after else out
        inputs = [tensors[i.name] for i in self.inputs]
        outputs = [tensors[name] for name in self.outputs]
        return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                           outputs[0] if len(outputs) == 1 else outputs, name="drawn_model")


def _snake(class_name: str) -> str:
    import re

    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", class_name).lower()


class _Graph:
    """The model being drawn: adds layers, names them and tracks their analytic shapes."""

    def __init__(self, options: "_Options") -> None:
        self.options = options
        self.inputs: list[ModelInput] = []
        self.nodes: list[ModelNode] = []
        self.shapes: dict[str, tuple] = {}
        self._used: dict[str, int] = {}

    def _name(self, base: str) -> str:
        count = self._used.get(base, 0)
        self._used[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def input(self, shape: tuple[int, ...], dtype: str = "float32") -> str:
        name = self._name("input")
        self.inputs.append(ModelInput(name, shape, dtype))
        self.shapes[name] = (None, *shape)
        return name

    def add(self, class_name: str, config: dict[str, Any], *inputs: str) -> str:
        shapes = tuple(self.shapes[i] for i in inputs)
        arg = list(shapes) if class_name in _MERGING else shapes[0]
        out = analytic.config_output_shape(class_name, config, arg)
        name = self._name(_snake(class_name))
        self.nodes.append(ModelNode(name, class_name, config, tuple(inputs), shapes, out))
        self.shapes[name] = out
        return name

    def model(self, kind: str, outputs: Sequence[str]) -> DrawnModel:
        return DrawnModel(kind, tuple(self.inputs), tuple(self.nodes), tuple(outputs))


@dataclass(frozen=True)
class _Options:
    max_units: int
    max_size: int
    activations: tuple[str, ...]
    exclude: frozenset[str]

    def allows(self, class_name: str) -> bool:
        return not any(class_name.startswith(x) for x in self.exclude)


def _vector_steps(o: _Options, width: int) -> list[str]:
    steps = ["Dense", "Dropout", "BatchNormalization", "Activation"]
    if width >= 2:  # normalising one feature gives a constant: no gradient would flow
        steps.append("LayerNormalization")
    return [s for s in steps if o.allows(s)]


_WEIGHTED = frozenset(("Dense", "Conv1D", "Conv2D", *CELLS))


def _step(draw: Any, g: _Graph, x: str, *, keep_spatial: bool = False, weighted: bool = False) -> str:
    """Add one layer that is valid for the shape of tensor `x`; return the new tensor.

    `weighted`: a layer with weights (where one is allowed), so that it transforms `x`.
    """
    o, shape = g.options, g.shapes[x]
    rank, width = len(shape), shape[-1]
    activation = _choice(tuple(o.activations))
    if rank == 2:
        options = _vector_steps(o, width)
    else:
        d = rank - 2
        # Dense and RNNs act on the last axis. An RNN over one step never uses its recurrent
        # kernel (the state starts at zero), a degenerate model: RNNs get two steps or more.
        first = ("Dense", *(CELLS if shape[1] >= 2 else ())) if rank == 3 else ()
        options = [s for s in (*first, f"Conv{d}D", f"MaxPooling{d}D", f"AveragePooling{d}D",
                               "BatchNormalization", "Dropout", "Activation") if o.allows(s)]
        if keep_spatial:  # inside a branch: only layers that keep all but the last axis
            options = [s for s in options if "Pooling" not in s]
    if weighted and _WEIGHTED.intersection(options):
        options = [s for s in options if s in _WEIGHTED]
    kind = draw(_choice(tuple(options)))
    if kind == "Dense":
        return g.add("Dense", _config(units=draw(_sizes(1, o.max_units)), activation=draw(activation)), x)
    if kind in ("Dropout",):
        return g.add("Dropout", {"rate": draw(_choice((0.1, 0.2, 0.5)))}, x)
    if kind in ("BatchNormalization", "LayerNormalization"):
        return g.add(kind, {}, x)
    if kind == "Activation":
        return g.add("Activation", {"activation": draw(activation)}, x)
    if kind in CELLS:
        config = _config(units=draw(_sizes(1, o.max_units)), return_sequences=keep_spatial or draw(_BOOL))
        return g.add(kind, config, x)
    sizes = list(shape[1:-1])
    if kind.startswith("Conv"):
        paddings = ("same",) if keep_spatial else (("valid", "same", "causal") if rank == 3 else ("valid", "same"))
        config = _conv(draw, rank - 2, sizes, width, max_filters=min(8, o.max_units), max_kernel_size=3,
                            max_groups=1, data_format="channels_last", paddings=paddings, covering=True)
        if keep_spatial:
            config = _config(**{**config, "strides": 1, "dilation_rate": 1})
        config["activation"] = draw(activation)
        return g.add(kind, _config(**config), x)
    return g.add(kind, _pooling_config(draw, sizes, 3, "channels_last", covering=True), x)


def _to_vector(draw: Any, g: _Graph, x: str) -> str:
    """Flatten or globally pool a sequence/image so that a Dense head can follow."""
    rank = len(g.shapes[x])
    if rank == 2:
        return x
    kind = draw(_choice(("Flatten", "GlobalAveragePooling", "GlobalMaxPooling")))
    return g.add("Flatten" if kind == "Flatten" else f"{kind}{rank - 2}D", {}, x)


def _input(draw: Any, g: _Graph, input_kinds: Sequence[str]) -> tuple[str, str]:
    """Add an input of one of `input_kinds`; return (input name, first float tensor)."""
    kind, m = draw(_choice(tuple(input_kinds))), g.options.max_size
    if kind == "vector":
        x = g.input((draw(_sizes(1, m)),))
        return x, x
    if kind == "image":
        x = g.input((draw(_sizes(1, m)), draw(_sizes(1, m)), draw(_sizes(1, 3))))
        return x, x
    length = draw(_sizes(1, min(m, 10)))
    if kind == "sequence":
        x = g.input((length, draw(_sizes(1, 8))))
        return x, x
    x = g.input((length,), "int32")
    embedded = g.add("Embedding", {"input_dim": draw(_sizes(2, 50)), "output_dim": draw(_sizes(1, 8))}, x)
    return x, embedded


def _stack(draw: Any, g: _Graph, x: str, max_layers: int, *, transform: bool = False, **kwargs: Any) -> str:
    """0 to `max_layers` layers after `x` (at least one, with weights first, if `transform`)."""
    for index in range(draw(_sizes(int(transform), max(max_layers, int(transform))))):
        x = _step(draw, g, x, weighted=transform and index == 0, **kwargs)
    return x


def _head(draw: Any, g: _Graph, x: str) -> str:
    units = draw(_sizes(1, g.options.max_units))
    activation = draw(_choice(("linear", "sigmoid", "softmax") if units > 1 else ("linear", "sigmoid")))
    return g.add("Dense", _config(units=units, activation=activation), x)


def _branches(draw: Any, g: _Graph, x: str) -> str:
    """Split `x` into 2-3 branches and join them with Concatenate or Add.

    Only the first branch may be empty (a skip connection); the others start with a layer that
    has weights, so no two branches compute the same tensor (a LayerNormalization of features
    that are copies of each other would output zeros and pass no gradient).
    """
    ends = [_stack(draw, g, x, 2, keep_spatial=True, transform=i > 0) for i in range(draw(_sizes(2, 3)))]
    image = len(g.shapes[x]) == 4  # an Add of images needs a 1x1 Conv2D projection
    can_add = g.options.allows("Add") and (not image or g.options.allows("Conv2D"))
    joins = ("Concatenate", "Add") if can_add else ("Concatenate",)
    if draw(_choice(joins)) == "Concatenate":
        return g.add("Concatenate", {}, *ends)
    width = draw(_sizes(1, g.options.max_units))
    project = ("Conv2D", {"filters": width, "kernel_size": (1, 1)}) if image else ("Dense", {"units": width})
    return g.add("Add", {}, *[g.add(*project, end) for end in ends])


def models(
    *,
    kinds: Collection[str] = MODEL_KINDS,
    input_kinds: Collection[str] = INPUT_KINDS,
    max_layers: int = 4,
    max_units: int = 16,
    max_size: int = 12,
    activations: Collection[str] = ("linear", "relu", "tanh", "sigmoid"),
    exclude: Collection[str] = (),
) -> st.SearchStrategy[DrawnModel]:
    """Whole Keras models, valid by construction, with their analytic output shape and count.

    Args:
        kinds: among ``"sequential"`` (a `keras.Sequential` stack), ``"functional"`` (branches
            joined by Concatenate or Add), ``"multi_input"`` and ``"multi_output"``.
        input_kinds: among ``"vector"`` (d,), ``"image"`` (h, w, c), ``"sequence"`` (t, d) and
            ``"tokens"`` (t,) int32 ids that go through an Embedding.
        max_layers: the most layers drawn per stack (heads and joins come on top).
        max_units: the widest Dense/recurrent layer, the most filters.
        max_size: the largest spatial size or vector width of an input.
        activations: the activations drawn for hidden layers (use ``("linear", "tanh")`` to rule
            out dead ReLUs in gradient tests).
        exclude: optional layers never to draw, among ``OPTIONAL_LAYERS``.

    Spatial sizes never drop below 1: each window is drawn to fit the size it slides over,
    with strides no longer than the window, so no position is skipped. Degenerate models whose
    weights could never learn are not drawn (a recurrent layer over a single step, a
    LayerNormalization over one feature, a softmax over one unit, two identical branches);
    with ``activations`` free of ReLU and ``exclude=("Dropout", "BatchNormalization")`` every
    trainable variable of a drawn model gets a gradient (tests/test_properties.py checks it).

    >>> models(kinds=["sequential"], input_kinds=["vector"]).example()  # doctest: +SKIP
    DrawnModel(sequential:
        input = Input(shape=(5,))
        dense = Dense(units=3, activation='relu')  # -> (None, 3), 18 params
        dense_1 = Dense(units=2, activation='softmax')  # -> (None, 2), 8 params
        outputs = [dense_1])
    """
    kinds = _check_choices("kinds", kinds, MODEL_KINDS)
    input_kinds = _check_choices("input_kinds", input_kinds, INPUT_KINDS)
    _check_int("max_layers", max_layers, 0)
    _check_int("max_units", max_units, 1)
    _check_int("max_size", max_size, 1)
    if isinstance(activations, str) or not activations:
        raise InvalidArgument(f"activations={activations!r} must be a non-empty collection of names")
    exclude = _check_choices("exclude", exclude, OPTIONAL_LAYERS) if exclude else ()
    options = _Options(max_units, max_size, tuple(activations), frozenset(exclude))

    @st.composite
    def draw_model(draw: Any) -> DrawnModel:
        kind = draw(_choice(tuple(kinds)))
        g = _Graph(options)
        if kind == "multi_input":
            trunks = []
            for _ in range(draw(_sizes(2, 3))):
                _, x = _input(draw, g, input_kinds)
                trunks.append(_to_vector(draw, g, _stack(draw, g, x, max_layers)))
            x = g.add("Concatenate", {}, *trunks)
        else:
            _, x = _input(draw, g, input_kinds)
            x = _stack(draw, g, x, max_layers)
            if kind == "functional":
                x = _branches(draw, g, x)
        if kind == "multi_output":
            x = _to_vector(draw, g, x)
            return g.model(kind, [_head(draw, g, x) for _ in range(2)])
        if len(g.shapes[x]) == 4 or draw(_BOOL):
            x = _to_vector(draw, g, x)
        return g.model(kind, [_head(draw, g, _stack(draw, g, x, 1))])

    return draw_model()
