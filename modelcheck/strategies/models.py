"""The `models()` strategy: whole Keras models (`DrawnModel`), valid by construction."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Collection, Mapping, Sequence

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .. import analytic
from ._config import _call_text, _config, _pretty_repr
from ._drawing import _BOOL, _choice, _conv, _pooling_config, _sizes
from ._validation import _check_choices, _check_int
from .layers import CELLS

MODEL_KINDS = ("sequential", "functional", "multi_input", "multi_output")
INPUT_KINDS = ("vector", "image", "sequence", "tokens")

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
        """Layer name -> its analytic parameter count and formula.

        ``nodes`` are in the order they were drawn; Keras may order a functional model's
        ``model.layers`` otherwise (a second input's Embedding before the first input's Dropout),
        so compare per layer by name, not position::

            check_param_count(model, per_layer={n: a.count for n, a in drawn.expected_arithmetic.items()})
        """
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
        (Keras' `Sequential.output` raises "has never been called" until the model is called:
        read `model.outputs[0]` or `model.output_shape`, which every kind has.)

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
    if not options:  # an image with every image layer excluded: go on from its features
        return _step(draw, g, _to_vector(draw, g, x), weighted=weighted)
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
    A drawn model is valid, not necessarily well designed: with ``"linear"`` among
    ``activations`` (the default) it may stack Dense layers with no activation between them,
    which `check_config_lint` reports; without ``"linear"`` every drawn model passes it.

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
                if len(g.shapes[x]) == 4 and not options.allows("Conv2D"):
                    # branches of an image keep its shape, and only a Conv2D would tell them apart
                    x = _to_vector(draw, g, x)
                x = _branches(draw, g, x)
        if kind == "multi_output":
            x = _to_vector(draw, g, x)
            return g.model(kind, [_head(draw, g, x) for _ in range(2)])
        if len(g.shapes[x]) == 4 or draw(_BOOL):
            x = _to_vector(draw, g, x)
        return g.model(kind, [_head(draw, g, _stack(draw, g, x, 1))])

    return draw_model()
