"""The structure of a built model: its layers, whether it has symbolic inputs, who consumes a tensor."""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["consumers", "has_symbolic_inputs", "layers_of"]

def has_symbolic_inputs(model: keras.Model) -> bool:
    try:
        return bool(model.inputs)
    except AttributeError:
        return False


def layers_of(model: keras.Model) -> list[keras.layers.Layer]:
    """The model's layers without its InputLayers, in order."""
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def consumers(model: keras.Model, tensor: Any) -> list[keras.layers.Layer]:
    found = []
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            if any(t is tensor for t in node.input_tensors):
                found.append(layer)
    return found
