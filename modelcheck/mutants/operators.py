"""The catalogue of mutation operators: the mistakes students make and the source documents' errata.

Each operator is one small function ``op(site) -> Iterator[Mutant]`` that yields one mutant per
place where it fits (every hidden layer for ``units``, every convolution for ``padding``, ...)
and nothing where it does not. `OPERATORS` maps each operator's name to its function and the
mistake in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import keras

from .recipe import NAN, ZEROS, Recipe, StopGradient, copied_entry, new_layer_entry

__all__ = ["Mutant", "Site", "Operator", "OPERATORS", "operator_names"]


@dataclass
class Mutant:
    """One mistake made in one place.

    Attributes:
        operator: the operator's name (a key of `OPERATORS`).
        description: what changed, e.g. ``"units 300 -> 150"``.
        where: the layer, input, loss or optimizer it changed, e.g. ``"layer 'dense' (Dense)"``.
        recipe: the mutant model as data.
    """

    operator: str
    description: str
    where: str
    recipe: Recipe


class Site:
    """The reference model as the operators see it: its recipe and its built layers."""

    def __init__(self, recipe: Recipe, model: keras.Model) -> None:
        self.recipe = recipe
        self.model = model
        self.outputs = set(recipe.outputs())
        self.heads = self._heads()

    def _heads(self) -> set[str]:
        """The output layers and, behind an output that is an activation layer (``Dense(10)`` then
        ``Softmax()`` or ``Activation("softmax")``), the layers whose scores it turns into the outputs:
        none of them is a hidden layer."""
        found = set(self.outputs)
        for name in self.outputs:
            while self._is_activation(name):
                source = self._source(name)
                if source is None or source in found or self.recipe.consumers(source) != [name]:
                    break
                found.add(source)
                name = source
        return found

    def _source(self, name: str) -> str | None:
        """The layer whose output layer `name` reads, when it reads one layer's (None for an input)."""
        if self.recipe.kind == "sequential":
            at = [e.get("name") or e["config"]["name"] for e in self.recipe.entries()].index(name)
            source = self.recipe.entries()[at - 1] if at > 0 else None
            return None if source is None else source.get("name") or source["config"]["name"]
        if not _single_input(self, name):
            return None
        source = self.recipe.entry(name)["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0]
        return None if any(e["config"]["name"] == source for e in self.recipe.inputs()) else source

    def layer(self, name: str) -> keras.layers.Layer:
        return self.model.get_layer(name)

    def _is_activation(self, name: str) -> bool:
        """Whether `name` only applies an activation: an activation layer, or an operation such as
        ``keras.ops.softmax(x)``."""
        layer = self._layer_or_none(name)
        if layer is not None:
            return isinstance(layer, _ACTIVATION_LAYERS)
        return self.recipe.entry(name).get("class_name") in _ACTIVATION_OPS

    def _layer_or_none(self, name: str) -> keras.layers.Layer | None:
        """Layer `name`; None for an operation Keras recorded in the graph (``keras.ops.softmax(x)``)."""
        try:
            return self.layer(name)
        except ValueError:
            return None

    def where(self, name: str) -> str:
        return f"layer {name!r} ({self.recipe.entry(name)['class_name']})"

    def names(self, *kinds: type) -> list[str]:
        """Layers of the given classes (all layers without `kinds`), input layers excluded, in order."""
        found = []
        for entry in self.recipe.entries():
            name = entry.get("name") or entry["config"]["name"]
            try:
                layer = self.layer(name)
            except ValueError:  # an operation Keras recorded in the graph (an Embedding's mask: not_equal)
                continue
            if not kinds or isinstance(layer, kinds):
                found.append(name)
        return found

    def hidden(self, *kinds: type) -> list[str]:
        """Layers of the given classes that do not produce a model output (nor the scores an output
        activation layer turns into one)."""
        return [name for name in self.names(*kinds) if name not in self.heads]

    def output_activation(self, name: str) -> str | None:
        """The activation of output layer `name`: its ``activation``, or ``"softmax"`` for a
        ``Softmax()`` layer over the last axis; None when it has none that can be named."""
        layer = self._layer_or_none(name)
        if layer is None:  # an operation: keras.ops.softmax(x) (over the last axis) or keras.ops.sigmoid(x)
            entry = self.recipe.entry(name)
            kind = {"Softmax": "softmax", "Sigmoid": "sigmoid"}.get(entry.get("class_name", ""))
            axis = (entry.get("config") or {}).get("axis", -1)
            return kind if kind == "sigmoid" or axis in (-1, [-1]) else None
        if isinstance(layer, keras.layers.Softmax):
            axis = layer.axis
            rank = len(layer.output.shape)
            return "softmax" if axis in (-1, rank - 1, [-1], [rank - 1]) else None
        activation = self.recipe.entry(name)["config"].get("activation")
        return activation if isinstance(activation, str) else None

    def sized(self) -> list[str]:
        """The hidden layers with units or filters, a Bidirectional or TimeDistributed one included."""
        return [name for name in self.hidden(*_SIZED, *_WRAPPERS) if _configs(self.recipe, name)[0].get(
            "units", _configs(self.recipe, name)[0].get("filters")) is not None]

    def set_inner(self, operator: str, name: str, key: str, value: Any, description: str | None = None) -> Mutant:
        """`set_config` on the layer a wrapper holds (both directions of a Bidirectional), or on the layer."""
        old = _configs(self.recipe, name)[0].get(key)

        def edit(r: Recipe) -> None:
            for config in _configs(r, name):
                config[key] = value

        return self.mutant(operator, description or f"{key} {_show(old)} -> {_show(value)}", self.where(name), edit)

    def mutant(self, operator: str, description: str, where: str, edit: Callable[[Recipe], None]) -> Mutant:
        recipe = self.recipe.copy()
        edit(recipe)
        return Mutant(operator, description, where, recipe)

    def set_config(self, operator: str, name: str, key: str, value: Any, description: str | None = None) -> Mutant:
        old = self.recipe.entry(name)["config"].get(key)
        return self.mutant(operator, description or f"{key} {_show(old)} -> {_show(value)}", self.where(name),
                           lambda r: r.entry(name)["config"].__setitem__(key, value))


def _configs(recipe: Recipe, name: str) -> list[dict[str, Any]]:
    """The configs holding layer `name`'s own settings: its own, or those of the layer a Bidirectional
    or TimeDistributed wraps (a Bidirectional's two directions)."""
    config = recipe.entry(name)["config"]
    inner = [config[key]["config"] for key in ("layer", "backward_layer")
             if isinstance(config.get(key), dict) and isinstance(config[key].get("config"), dict)]
    return inner or [config]


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_POOL = (keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.AveragePooling1D,
         keras.layers.AveragePooling2D)
_RNN = (keras.layers.SimpleRNN, keras.layers.LSTM, keras.layers.GRU)
_SIZED = (keras.layers.Dense, *_CONV, *_RNN)  # layers with units or filters
_WRAPPERS = (keras.layers.Bidirectional, keras.layers.TimeDistributed)  # their settings are the wrapped layer's
# Layers that only apply an activation: behind an output, the layer they read gives the model's scores.
_ACTIVATION_LAYERS = (keras.layers.Activation, keras.layers.Softmax, keras.layers.ReLU, keras.layers.LeakyReLU,
                      keras.layers.ELU)
_ACTIVATION_OPS = ("Softmax", "Sigmoid", "Relu", "Tanh", "LogSoftmax")  # keras.ops' classes in a graph's config
_LINEAR = (None, "linear")
_CE = {"sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
       "categorical_crossentropy": "CategoricalCrossentropy", "binary_crossentropy": "BinaryCrossentropy"}


def wrong_units(site: Site) -> Iterator[Mutant]:
    for name in site.sized():
        config = _configs(site.recipe, name)[0]
        key = "units" if "units" in config else "filters"
        old = config[key]
        yield site.set_inner("units", name, key, old // 2 if old > 1 else 2)


def hidden_activation_removed(site: Site) -> Iterator[Mutant]:
    for name in site.hidden():
        layer = site.layer(name)
        config = site.recipe.entry(name)["config"]
        if isinstance(layer, keras.layers.Activation) or type(layer).__name__ in ("ReLU", "LeakyReLU", "ELU"):
            yield site.mutant("hidden_activation", f"activation layer {name!r} removed", site.where(name),
                              lambda r, name=name: r.remove(name))
        elif isinstance(layer, _WRAPPERS):
            activation = _configs(site.recipe, name)[0].get("activation")
            if isinstance(activation, str) and activation not in _LINEAR:
                yield site.set_inner("hidden_activation", name, "activation", "linear",
                                     f"activation {activation} removed")
        elif isinstance(config.get("activation"), str) and config["activation"] not in _LINEAR:
            yield site.set_config("hidden_activation", name, "activation", "linear",
                                  f"activation {config['activation']} removed")


def _units(site: Site, name: str) -> int | None:
    layer = site._layer_or_none(name)
    if layer is not None:
        shape = layer.output.shape
    else:  # an operation giving an output (keras.ops.softmax(x)): the model's output tensor has its shape
        names = site.recipe.outputs()
        if name not in names or len(names) != len(site.model.outputs):
            return None
        shape = site.model.outputs[names.index(name)].shape
    return shape[-1] if len(shape) > 1 else None


def _as_activation(name: str, activation: str) -> Callable[[Recipe], None]:
    """An edit that makes layer `name` (a ``Softmax()`` layer) an ``Activation(activation)`` layer of
    the same name and inputs."""
    def edit(r: Recipe) -> None:
        entry = r.entry(name)
        new = new_layer_entry(keras.layers.Activation(activation, name=name))
        if "inbound_nodes" in entry:  # its input, without what Softmax's call took besides (mask=None)
            new["inbound_nodes"] = [{**node, "kwargs": {}} for node in entry["inbound_nodes"]]
        entry.clear()
        entry.update(new)

    return edit


def output_activation(site: Site) -> Iterator[Mutant]:
    for name in sorted(site.outputs):
        current = site.output_activation(name)
        if current is None:
            continue
        units = _units(site, name)
        wrong = ["linear", "relu", "sigmoid" if units != 1 else "softmax"]
        # a Softmax() layer or an operation: replaced by an Activation layer of the wrong activation
        softmax_layer = not isinstance(site._layer_or_none(name), keras.layers.Layer) or isinstance(
            site.layer(name), keras.layers.Softmax)
        for activation in wrong:
            if activation == current:
                continue
            if softmax_layer:
                yield site.mutant("output_activation", f"activation {current} -> {activation}", site.where(name),
                                  _as_activation(name, activation))
            else:
                yield site.set_config("output_activation", name, "activation", activation)


def _single_loss(recipe: Recipe) -> tuple[str, dict[str, Any]] | None:
    """The canonical name and config of the model's one compiled loss; None when it has several or none."""
    from ..checks.loss_config import canonical_loss_name

    loss = recipe.compile.get("loss")
    if isinstance(loss, (list, tuple)) and len(loss) == 1:
        loss = loss[0]
    if isinstance(loss, str):
        return canonical_loss_name(loss), {}
    if isinstance(loss, dict) and loss.get("class_name") == "function":  # a plain function, saved by its name
        return canonical_loss_name(str(loss.get("config"))), {}
    if isinstance(loss, dict) and "class_name" in loss:
        config = loss.get("config")
        return canonical_loss_name(loss["class_name"]), dict(config) if isinstance(config, dict) else {}
    return None


def _set_loss(recipe: Recipe, name: str, **config: Any) -> None:
    if config:
        cls = getattr(keras.losses, _CE[name])
        recipe.compile["loss"] = keras.saving.serialize_keras_object(cls(**config))
    else:
        recipe.compile["loss"] = name


def _loss_mutant(site: Site, operator: str, new: str, old: str, kept: dict[str, Any] | None = None,
                 **config: Any) -> Mutant:
    """The loss `old` replaced by `new` with `config` (shown in the description) and `kept`, what the
    reference's loss sets that the new one keeps (not shown: it is no part of the mistake)."""
    shown = new + (", " + ", ".join(f"{k}={v}" for k, v in config.items()) if config else "")
    return site.mutant(operator, f"loss {old} -> {shown}", "the compiled loss",
                       lambda r: _set_loss(r, new, **{**(kept or {}), **config}))


def loss_sparse_categorical(site: Site) -> Iterator[Mutant]:
    loss = _single_loss(site.recipe)
    swap = {"sparse_categorical_crossentropy": "categorical_crossentropy",
            "categorical_crossentropy": "sparse_categorical_crossentropy"}
    if loss is not None and loss[0] in swap:
        # a model trained on logits keeps from_logits: the mistake is the kind of label alone
        kept = {"from_logits": True} if loss[1].get("from_logits") else None
        yield _loss_mutant(site, "loss_sparse_categorical", swap[loss[0]], loss[0], kept)


def loss_mse_on_classifier(site: Site) -> Iterator[Mutant]:
    loss = _single_loss(site.recipe)
    if loss is not None and loss[0] in _CE:
        yield _loss_mutant(site, "loss_mse", "mean_squared_error", loss[0])


def loss_from_logits(site: Site) -> Iterator[Mutant]:
    loss = _single_loss(site.recipe)
    outputs = [site.output_activation(name) for name in site.outputs]
    if (loss is not None and loss[0] in _CE and not loss[1].get("from_logits")
            and len(outputs) == 1 and outputs[0] in ("softmax", "sigmoid")):
        yield _loss_mutant(site, "loss_from_logits", loss[0], loss[0], from_logits=True)


def _one_output_units(site: Site) -> int | None:
    return _units(site, next(iter(site.outputs))) if len(site.outputs) == 1 else None


def loss_binary_categorical(site: Site) -> Iterator[Mutant]:
    """Binary cross-entropy on a multi-class output, or categorical cross-entropy on one sigmoid unit
    (Keras trains both without a word: the first reports a flattering accuracy, the second a loss of 0)."""
    loss = _single_loss(site.recipe)
    units = _one_output_units(site)
    if loss is None or units is None:
        return
    from ..checks import loss_config as lc

    kept = {"from_logits": True} if loss[1].get("from_logits") else None
    family = lc.loss_family(loss[0])
    if family in (lc.SPARSE_CE, lc.CATEGORICAL_CE) and units > 1:
        yield _loss_mutant(site, "loss_binary_categorical", "binary_crossentropy", loss[0], kept)
    elif family == lc.BINARY_CE and units == 1:
        yield _loss_mutant(site, "loss_binary_categorical", "categorical_crossentropy", loss[0], kept)


def loss_on_regression(site: Site) -> Iterator[Mutant]:
    """A classification loss on a regression output (a classifier's compile line copied)."""
    from ..checks import loss_config as lc

    loss = _single_loss(site.recipe)
    if loss is None or lc.loss_family(loss[0]) != lc.REGRESSION or len(site.outputs) != 1:
        return
    activation = site.output_activation(next(iter(site.outputs)))
    if activation in (None, "linear", "relu"):
        yield _loss_mutant(site, "loss_on_regression", "binary_crossentropy", loss[0])


def layer_frozen(site: Site) -> Iterator[Mutant]:
    for name in site.names():
        if site.layer(name).trainable_weights:
            def edit(r: Recipe, name: str = name) -> None:
                r.entry(name)["config"]["trainable"] = False
                for config in _configs(r, name):  # a wrapper built frozen leaves the layers it holds trainable
                    config["trainable"] = False

            yield site.mutant("frozen", "trainable=False (frozen)", site.where(name), edit)


def zero_init(site: Site) -> Iterator[Mutant]:
    for name in site.sized():
        def edit(r: Recipe, name: str = name) -> None:
            for config in _configs(r, name):
                config["kernel_initializer"] = "zeros"
            r.edits += ((ZEROS, name),)

        yield site.mutant("zero_init", "kernel initialised to zeros", site.where(name), edit)


def bias_removed(site: Site) -> Iterator[Mutant]:
    for name in site.names():
        if _configs(site.recipe, name)[0].get("use_bias") is True:
            yield site.set_inner("bias_removed", name, "use_bias", False)


def dropout_keep_prob(site: Site) -> Iterator[Mutant]:
    for name in site.names(keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D):
        rate = site.recipe.entry(name)["config"].get("rate")
        if isinstance(rate, (int, float)) and rate < 0.9:
            new = round(max(1.0 - rate, 0.9), 4)
            yield site.set_config("dropout_keep_prob", name, "rate", new,
                                  f"rate {rate:g} -> {new:g} (TF1's keep_prob written as Keras' rate)")


def _single_input(site: Site, name: str) -> bool:
    nodes = site.recipe.entry(name).get("inbound_nodes")
    return site.recipe.kind == "sequential" or (len(nodes or []) == 1 and len(nodes[0].get("args", [])) == 1
                                                and isinstance(nodes[0]["args"][0], dict))


def hidden_layer_dropped(site: Site) -> Iterator[Mutant]:
    for name in site.sized():
        if _single_input(site, name):
            yield site.mutant("layer_dropped", f"hidden layer {name!r} left out", site.where(name),
                              lambda r, name=name: r.remove(name))


def layer_added(site: Site) -> Iterator[Mutant]:
    for name in site.hidden(keras.layers.Dense, *_CONV):
        def edit(r: Recipe, name: str = name) -> None:
            r.insert_after(name, copied_entry(r, name, f"{name}_extra"))

        yield site.mutant("layer_added", f"a second {type(site.layer(name)).__name__} like {name!r} added after it",
                          site.where(name), edit)


def embedding_swapped(site: Site) -> Iterator[Mutant]:
    for name in site.names(keras.layers.Embedding):
        config = site.recipe.entry(name)["config"]
        if config["input_dim"] != config["output_dim"]:
            def edit(r: Recipe, name: str = name) -> None:
                c = r.entry(name)["config"]
                c["input_dim"], c["output_dim"] = c["output_dim"], c["input_dim"]

            yield site.mutant("embedding_swapped", f"input_dim {config['input_dim']} and output_dim "
                              f"{config['output_dim']} swapped", site.where(name), edit)


def _input_shape(entry: dict[str, Any]) -> list[Any]:
    return list(entry["config"]["batch_shape"])[1:]


def _set_input(name: str, shape: list[Any]) -> Callable[[Recipe], None]:
    def edit(r: Recipe) -> None:
        r.entry(name)["config"]["batch_shape"] = [None, *shape]

    return edit


def input_flattened(site: Site) -> Iterator[Mutant]:
    for entry in site.recipe.inputs():
        name, shape = entry["config"]["name"], _input_shape(entry)
        after = site.recipe.consumers(name)
        if (len(shape) >= 2 and None not in shape and len(after) == 1
                and isinstance(site.layer(after[0]), keras.layers.Flatten)):
            flat = [math.prod(shape)]

            def edit(r: Recipe, name: str = name, flatten: str = after[0], flat: list[int] = flat) -> None:
                _set_input(name, flat)(r)
                r.remove(flatten)

            yield site.mutant("input_flattened", f"input shape {_show(shape)} -> {_show(flat)}, Flatten "
                              "left out (the data flattened beforehand)", f"input {name!r}", edit)


def input_wrong_shape(site: Site) -> Iterator[Mutant]:
    for entry in site.recipe.inputs():
        name, shape = entry["config"]["name"], _input_shape(entry)
        if not shape or shape[-1] is None:
            continue
        if len(shape) == 1 and "int" in str(entry["config"].get("dtype", "")):  # token ids
            new, why = [shape[0] + 1], f"sequences padded to {shape[0] + 1} tokens instead of {shape[0]}"
        elif len(shape) == 1:
            new, why = [shape[0] + 1], "one feature too many (the target column left in)"
        elif len(shape) == 3 and shape[-1] == 3:
            new, why = [*shape[:-1], 1], "grayscale instead of colour"
        elif len(shape) == 3 and shape[-1] == 1:  # a channel axis added, (28, 28, 1, 1), no Conv2D builds
            new, why = [*shape[:-1], 3], "colour instead of grayscale"
        else:
            new, why = [*shape, 1], "a channel axis added"
        yield site.mutant("input_shape", f"input shape {_show(shape)} -> {_show(new)} ({why})",
                          f"input {name!r}", _set_input(name, new))


def channels_order(site: Site) -> Iterator[Mutant]:
    if not site.names(keras.layers.Conv2D):
        return
    for entry in site.recipe.inputs():
        name, shape = entry["config"]["name"], _input_shape(entry)
        if len(shape) == 3 and shape[-1] is not None and shape[0] != shape[-1]:
            new = [shape[-1], *shape[:-1]]
            yield site.mutant("channels_order", f"input shape {_show(shape)} -> {_show(new)} (channels_first "
                              "data in a channels_last model)", f"input {name!r}", _set_input(name, new))


def padding(site: Site) -> Iterator[Mutant]:
    for name in site.names(*_CONV, *_POOL):
        old = site.recipe.entry(name)["config"].get("padding")
        if old in ("valid", "same"):
            yield site.set_config("padding", name, "padding", "same" if old == "valid" else "valid")


def strides(site: Site) -> Iterator[Mutant]:
    for name in site.names(*_CONV):
        old = site.recipe.entry(name)["config"].get("strides")
        if isinstance(old, (list, tuple)) and all(s == 1 for s in old):
            yield site.set_config("strides", name, "strides", [2] * len(old))


# A schedule's rates (Keras' schedules; a user's own schedule with these keys alike): what x1000 scales.
_SCHEDULE_RATES = ("initial_learning_rate", "warmup_target", "values")


def _times_1000(value: Any) -> Any:
    if isinstance(value, float):
        return value * 1000
    if isinstance(value, list) and value and all(isinstance(v, float) for v in value):
        return [v * 1000 for v in value]
    return None


def learning_rate(site: Site) -> Iterator[Mutant]:
    optimizer = site.recipe.compile.get("optimizer")
    if isinstance(optimizer, str):
        optimizer = keras.saving.serialize_keras_object(keras.optimizers.get(optimizer))
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("config"), dict):
        return
    where = f"the {optimizer.get('class_name', 'optimizer')} optimizer"
    old = optimizer["config"].get("learning_rate")
    if isinstance(old, float):
        rate, description = old * 1000, f"learning rate {old:.3g} -> {old * 1000:.3g} (x1000)"
    elif isinstance(old, dict) and isinstance(old.get("config"), dict):  # a schedule: its starting rates
        scaled = {k: _times_1000(v) for k, v in old["config"].items() if k in _SCHEDULE_RATES}
        scaled = {k: v for k, v in scaled.items() if v is not None}
        if not scaled:
            return
        rate = {**old, "config": {**old["config"], **scaled}}
        description = f"learning rate schedule {old.get('class_name', '')}: " + ", ".join(
            f"{k} {_show(old['config'][k])} -> {_show(v)}" for k, v in scaled.items()) + " (x1000)"
    else:
        return

    def edit(r: Recipe) -> None:
        r.compile["optimizer"] = {**optimizer, "config": {**optimizer["config"], "learning_rate": rate}}

    yield site.mutant("learning_rate", description, where, edit)


def stop_gradient(site: Site) -> Iterator[Mutant]:
    for name in site.hidden():
        if site.layer(name).trainable_weights:
            yield site.mutant("stop_gradient", f"stop_gradient after {name!r}", site.where(name),
                              lambda r, name=name: r.insert_after(name, new_layer_entry(
                                  StopGradient(name=f"{name}_stop_gradient"))))


def nan_weight(site: Site) -> Iterator[Mutant]:
    for name in site.names():
        if site.layer(name).weights:
            def edit(r: Recipe, name: str = name) -> None:
                r.edits += ((NAN, name),)

            yield site.mutant("nan_weight", "one weight is NaN", site.where(name), edit)


@dataclass(frozen=True)
class Operator:
    """A mutation operator: its name, the mistake in words and the function that applies it."""

    name: str
    mistake: str
    apply: Callable[[Site], Iterator[Mutant]]


_ALL = [
    Operator("units", "wrong number of units in a hidden layer", wrong_units),
    Operator("hidden_activation", "hidden activation removed", hidden_activation_removed),
    Operator("output_activation", "wrong output activation", output_activation),
    Operator("loss_sparse_categorical", "categorical vs sparse categorical cross-entropy", loss_sparse_categorical),
    Operator("loss_mse", "mean squared error on a classifier", loss_mse_on_classifier),
    Operator("loss_from_logits", "from_logits=True on a softmax/sigmoid output", loss_from_logits),
    Operator("loss_binary_categorical", "binary vs categorical cross-entropy", loss_binary_categorical),
    Operator("loss_on_regression", "a classification loss on a regression output", loss_on_regression),
    Operator("frozen", "a layer frozen", layer_frozen),
    Operator("zero_init", "a hidden layer initialised to zeros", zero_init),
    Operator("bias_removed", "bias removed", bias_removed),
    Operator("dropout_keep_prob", "Dropout rate written as TF1's keep_prob", dropout_keep_prob),
    Operator("layer_dropped", "a hidden layer left out", hidden_layer_dropped),
    Operator("layer_added", "a layer added", layer_added),
    Operator("embedding_swapped", "Embedding input_dim and output_dim swapped", embedding_swapped),
    Operator("input_flattened", "the input flattened", input_flattened),
    Operator("input_shape", "the input of the wrong shape", input_wrong_shape),
    Operator("channels_order", "channels_first / channels_last confusion", channels_order),
    Operator("padding", "valid vs same padding", padding),
    Operator("strides", "wrong strides", strides),
    Operator("learning_rate", "learning rate x1000", learning_rate),
    Operator("stop_gradient", "a stop_gradient in the graph", stop_gradient),
    Operator("nan_weight", "a NaN weight", nan_weight),
]

OPERATORS: dict[str, Operator] = {op.name: op for op in _ALL}


def operator_names() -> list[str]:
    """The operators' names, in catalogue order."""
    return list(OPERATORS)
