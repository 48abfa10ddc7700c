"""Strategies for single Keras layer configurations (`DrawnLayer`), each with a valid input shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Collection

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .. import analytic
from ._config import _call_text, _config, _pretty_repr
from ._drawing import _BOOL, _choice, _conv, _join_shape, _pooling_config, _sizes
from ._validation import _check_choices, _check_int

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softmax", "elu", "selu", "gelu")
DATA_FORMATS = ("channels_last", "channels_first")
CELLS = ("SimpleRNN", "LSTM", "GRU")
POOLINGS = ("MaxPooling", "AveragePooling", "GlobalMaxPooling", "GlobalAveragePooling")


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
