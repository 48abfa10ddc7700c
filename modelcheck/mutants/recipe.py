"""A model as plain data that can be edited and rebuilt: its configuration, compile settings,
weights by layer name and post-build weight edits.

Mutants are recipes: an operator edits a copy of the reference's recipe (a layer's config, a
layer inserted or removed, the loss, the learning rate, a weight set to NaN) and `build` turns
it back into a ``keras.Model``. Layers whose weights keep their shapes get the reference's
weights, so a mutant differs from the reference only where the operator changed it. A recipe
holds only plain values and NumPy arrays, so it can be sent to a worker process.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

import keras
import numpy as np

from ..model.origin import is_library_code

__all__ = ["Recipe", "recipe_of", "build", "StopGradient", "NAN", "ZEROS", "new_layer_entry", "copied_entry"]

NAN = "nan"  # edit: the first entry of the layer's first weight becomes NaN
ZEROS = "zeros"  # edit: every kernel of the layer is zero


@keras.saving.register_keras_serializable(package="modelcheck")
class StopGradient(keras.layers.Layer):
    """Passes its input through and stops the gradient (the mistake ``tf.stop_gradient`` makes)."""

    def call(self, inputs: Any) -> Any:
        return keras.ops.stop_gradient(inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


@dataclass
class Recipe:
    """A Sequential or functional model as data.

    Attributes:
        kind: ``"sequential"`` or ``"functional"``.
        config: ``model.get_config()`` (edited by the operators).
        compile: ``model.get_compile_config()``; empty when the model is not compiled.
        weights: layer name -> the layer's weights (``get_weights()``).
        edits: post-build weight edits, ``(NAN or ZEROS, layer name)``.
        custom: name -> class or function for layers and activations that are not Keras' own (kept in
            process).
    """

    kind: str
    config: dict[str, Any]
    compile: dict[str, Any]
    weights: dict[str, list[np.ndarray]]
    edits: tuple[tuple[str, str], ...] = ()
    custom: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> "Recipe":
        """A copy whose config and compile settings can be edited (weights are shared, never edited)."""
        return replace(self, config=copy.deepcopy(self.config), compile=copy.deepcopy(self.compile),
                       weights=dict(self.weights))

    def entries(self) -> list[dict[str, Any]]:
        """The layer entries of the config, in order, input layers excluded."""
        return [entry for entry in self.config["layers"] if entry.get("class_name") != "InputLayer"]

    def entry(self, name: str) -> dict[str, Any]:
        """The config entry of the layer called `name`."""
        for entry in self.config["layers"]:
            if _entry_name(entry) == name:
                return entry
        raise KeyError(name)

    def index(self, name: str) -> int:
        return [_entry_name(e) for e in self.config["layers"]].index(name)

    def consumers(self, name: str) -> list[str]:
        """The layers that read the output of layer `name`."""
        if self.kind == "sequential":
            names = [_entry_name(e) for e in self.config["layers"]]
            at = names.index(name)
            return names[at + 1:at + 2]
        return [_entry_name(e) for e in self.config["layers"] if name in _history_names(e.get("inbound_nodes", []))]

    def outputs(self) -> list[str]:
        """The names of the layers that produce the model's outputs."""
        if self.kind == "sequential":
            return [_entry_name(self.config["layers"][-1])]
        return [ref[0] for ref in _refs(self.config["output_layers"])]

    def inputs(self) -> list[dict[str, Any]]:
        """The input layer entries."""
        return [entry for entry in self.config["layers"] if entry.get("class_name") == "InputLayer"]

    def remove(self, name: str) -> None:
        """Remove the single-input layer `name`; its consumers read its input instead."""
        at = self.index(name)
        entry = self.config["layers"].pop(at)
        if self.kind == "functional":
            source = _first_history(entry)
            _redirect(self.config, name, source)

    def insert_after(self, name: str, new: dict[str, Any]) -> None:
        """Insert the layer entry `new` (built by `new_layer_entry`) right after layer `name`."""
        at = self.index(name)
        if self.kind == "functional":
            new_name = _entry_name(new)
            _redirect(self.config, name, [new_name, 0, 0])
            new["inbound_nodes"] = [{"args": [{"class_name": "__keras_tensor__",
                                               "config": {"shape": [None], "dtype": "float32",
                                                          "keras_history": [name, 0, 0]}}], "kwargs": {}}]
        self.config["layers"].insert(at + 1, new)


def _entry_name(entry: dict[str, Any]) -> str:
    return entry.get("name") or entry["config"]["name"]


def _history_names(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if "keras_history" in value:
            found.add(value["keras_history"][0])
        for item in value.values():
            found |= _history_names(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= _history_names(item)
    return found


def _first_history(entry: dict[str, Any]) -> list[Any]:
    def walk(value: Any) -> list[Any] | None:
        if isinstance(value, dict):
            if "keras_history" in value:
                return list(value["keras_history"])
            for item in value.values():
                if (found := walk(item)) is not None:
                    return found
        elif isinstance(value, (list, tuple)):
            for item in value:
                if (found := walk(item)) is not None:
                    return found
        return None

    found = walk(entry.get("inbound_nodes", []))
    if found is None:
        raise ValueError(f"layer {_entry_name(entry)!r} has no input")
    return found


def _refs(value: Any) -> list[list[Any]]:
    """``output_layers`` as a list of ``[name, node, tensor]``."""
    if isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str):
        return [list(value)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _refs(item)]
    return [ref for item in value for ref in _refs(item)]


def _redirect(config: dict[str, Any], old: str, new: list[Any]) -> None:
    """Every reference to layer `old`'s output (inbound nodes, model outputs) now points to `new`."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if "keras_history" in value and value["keras_history"][0] == old:
                value["keras_history"] = list(new)
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    for entry in config["layers"]:
        walk(entry.get("inbound_nodes", []))

    def outputs(value: Any) -> Any:
        if isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str):
            return list(new) if value[0] == old else value
        if isinstance(value, dict):
            return {k: outputs(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [outputs(v) for v in value]
        return value

    config["output_layers"] = outputs(config["output_layers"])


def new_layer_entry(layer: keras.layers.Layer) -> dict[str, Any]:
    """The config entry of a new layer object, to insert with `Recipe.insert_after`."""
    entry = keras.saving.serialize_keras_object(layer)
    entry.pop("build_config", None)
    entry["name"] = layer.name
    return entry


def copied_entry(recipe: Recipe, name: str, new_name: str) -> dict[str, Any]:
    """A copy of layer `name`'s config entry under `new_name` (its wiring left out), to insert with
    `Recipe.insert_after`; copied as data, so a user's activation function needs no import."""
    entry = copy.deepcopy(recipe.entry(name))
    for key in ("inbound_nodes", "build_config"):
        entry.pop(key, None)
    entry["config"]["name"] = new_name
    if "name" in entry:
        entry["name"] = new_name
    return entry


def _custom_classes(model: keras.Model) -> dict[str, Any]:
    from ..model.inputs import all_layers

    found: dict[str, Any] = {}
    for layer in all_layers(model):
        cls = type(layer)
        if not is_library_code(cls):
            found[cls.__name__] = cls
            registered = keras.saving.get_registered_name(cls)
            found[registered] = cls
        for attr in ("activation", "recurrent_activation"):  # a plain function of the user's, by name
            function = getattr(layer, attr, None)
            if callable(function) and not is_library_code(function) and hasattr(function, "__name__"):
                found[function.__name__] = function
    for loss in keras.tree.flatten(getattr(model, "loss", None)):  # the user's own, for compile_from_config
        own = type(loss) if isinstance(loss, keras.losses.Loss) else loss
        if callable(own) and not is_library_code(own) and hasattr(own, "__name__"):
            found[own.__name__] = found[keras.saving.get_registered_name(own)] = own
    return found


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _keep_vocabularies(config: dict[str, Any], model: keras.Model) -> None:
    """Write the vocabulary an adapted lookup layer holds (TextVectorization, StringLookup,
    IntegerLookup) into its config: ``adapt()`` fills a table that ``get_config`` leaves out, so the
    model rebuilt from its config failed at its first call ('FailedPreconditionError ... when calling
    TextVectorization.call()') and no mutant of it could be made. A TF-IDF layer's weights are left
    as they are (its rebuild then fails as before)."""
    for entry in config.get("layers", []):
        layer_config = entry.get("config")
        if not isinstance(layer_config, dict) or layer_config.get("vocabulary") is not None:
            continue
        try:
            layer = model.get_layer(_entry_name(entry))
        except ValueError:
            continue
        if not hasattr(layer, "get_vocabulary") or layer_config.get("output_mode") == "tf_idf":
            continue
        try:
            vocabulary = layer.get_vocabulary(include_special_tokens=False)
        except Exception:  # not adapted, or a lookup layer of another kind: left to Keras
            continue
        if vocabulary:
            layer_config["vocabulary"] = [_plain(token) for token in vocabulary]
            layer_config[_ADAPTED] = True


_ADAPTED = "modelcheck_adapted"  # a config key marking a vocabulary `_keep_vocabularies` wrote in


def _as_adapted(config: dict[str, Any]) -> list[str]:
    """Take the `_ADAPTED` marks out of `config` (before Keras reads it); the names of the layers marked."""
    marked = []
    for entry in config.get("layers", []):
        layer_config = entry.get("config")
        if isinstance(layer_config, dict) and layer_config.pop(_ADAPTED, False):
            marked.append(_entry_name(entry))
    return marked


def _forget_input_vocabulary(layer: keras.layers.Layer) -> None:
    """Make `layer` (built with the vocabulary its reference was adapted to) report no vocabulary given
    to it, as the adapted reference does: else its config, and so the architecture every comparison
    reads, differed from the reference's in every mutant (matches_reference caught them all)."""
    lookup = getattr(layer, "_lookup_layer", layer)  # TextVectorization keeps it in its lookup layer
    if hasattr(lookup, "input_vocabulary"):
        lookup.input_vocabulary = None


def recipe_of(model: keras.Model) -> Recipe | None:
    """The recipe of a built Sequential or functional model; None for a subclassed one."""
    if isinstance(model, keras.Sequential):
        kind = "sequential"
    elif type(model).__name__ == "Functional" or (type(model) is keras.Model and "output_layers" in model.get_config()):
        kind = "functional"
    else:
        return None
    config = copy.deepcopy(model.get_config())
    _keep_vocabularies(config, model)
    compiled = model.get_compile_config() if getattr(model, "compiled", False) else {}
    weights = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    return Recipe(kind, config, copy.deepcopy(compiled or {}), weights, custom=_custom_classes(model))


def _strip_builds(config: Any) -> None:
    """Drop the recorded build shapes, nested ones included (the layer a TimeDistributed or
    Bidirectional wraps, the layers of a nested model): an edit upstream changes them, and the graph
    rebuilds each layer from what reaches it."""
    if isinstance(config, dict):
        config.pop("build_input_shape", None)
        config.pop("build_config", None)
        for value in config.values():
            _strip_builds(value)
    elif isinstance(config, list):
        for value in config:
            _strip_builds(value)


def _sequential(config: dict[str, Any], custom: dict[str, Any]) -> keras.Sequential:
    """`keras.Sequential.from_config` with one graph build at the end: Keras' own rebuilds the graph
    after each layer it adds (a third of rebuilding a mutant of a four-layer model)."""
    from keras.src.saving.serialization_lib import deserialize_keras_object

    if any("module" not in entry for entry in config["layers"]):  # a legacy config: Keras' own path reads it
        return keras.Sequential.from_config(config, custom_objects=custom)
    model = keras.Sequential(name=config["name"])
    for entry in config["layers"]:
        model.add(deserialize_keras_object(entry, custom_objects=custom), rebuild=False)
    model._maybe_rebuild()
    return model


def build(recipe: Recipe) -> keras.Model:
    """A fresh ``keras.Model`` from `recipe` (raises what Keras raises when the edit does not build)."""
    from keras.src.saving.serialization_lib import SafeModeScope

    config = copy.deepcopy(recipe.config)
    _strip_builds(config)
    adapted = _as_adapted(config)
    custom = {**recipe.custom, "StopGradient": StopGradient}
    with SafeModeScope(False):  # the reference is trusted code (its Lambda layers included)
        if recipe.kind == "sequential":
            model = _sequential(config, custom)
        else:
            model = keras.Model.from_config(config, custom_objects=custom)
    for layer in model.layers:
        saved = recipe.weights.get(layer.name)
        if saved is not None and [a.shape for a in saved] == [tuple(v.shape) for v in layer.weights]:
            layer.set_weights(saved)
    for name in adapted:
        _forget_input_vocabulary(model.get_layer(name))
    for kind, name in recipe.edits:
        layer = model.get_layer(name)
        values = layer.get_weights()
        if kind == NAN:
            values[0] = values[0].copy()
            values[0].flat[0] = np.nan
        elif kind == ZEROS:
            values = [np.zeros_like(v) if v.ndim >= 2 else v for v in values]
        layer.set_weights(values)
    if recipe.compile:
        with keras.saving.custom_object_scope(custom):
            model.compile_from_config(copy.deepcopy(recipe.compile))
    return model
