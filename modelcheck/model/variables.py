"""Naming a model's variables after the layer the user wrote, for messages that say *where*."""

from __future__ import annotations

from typing import Any

import keras

from .graph import layers_of

__all__ = ["variable_owners", "variable_label", "variable_labels"]


def variable_owners(model: keras.Model) -> dict[int, keras.layers.Layer]:
    """Map id(variable) -> the layer of ``model.layers`` that holds it: the layer the user
    wrote (``lstm_1``), not an inner cell (``lstm_cell``) that every LSTM shares a name with."""
    owners: dict[int, keras.layers.Layer] = {}
    for layer in layers_of(model):
        for variable in layer.weights:
            owners.setdefault(id(variable), layer)  # a shared weight belongs to its first user
    return owners


def variable_label(layer: keras.layers.Layer | None, variable: Any) -> str:
    """``dense_1/kernel`` for a variable of a plain layer; the full path inside nested models and
    where the layer holds several variables of that name (``multi_head_attention/key/bias``, the
    forward and backward kernels of a Bidirectional), which one label would confuse."""
    if layer is None or isinstance(layer, keras.Model):
        return variable.path
    if sum(1 for weight in layer.weights if weight.name == variable.name) > 1:
        return variable.path
    return f"{layer.name}/{variable.name}"


def variable_labels(model: keras.Model) -> dict[int, tuple[keras.layers.Layer | None, str]]:
    """Map ``id(variable)`` to (owning layer, `variable_label`) for every variable of `model`."""
    owners = variable_owners(model)
    return {id(v): (owners.get(id(v)), variable_label(owners.get(id(v)), v)) for v in model.variables}
