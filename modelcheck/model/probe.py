"""Look inside a model layer by layer, and name its variables, for checks that must say
*where* something goes wrong (the first layer that mixes the batch, turns NaN, or differs
after loading)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from ..core.errors import call_user_code
from . import backend
from .outputs import flatten_outputs
from .graph import layers_of
from .state import reset_states

__all__ = ["LayerProbe", "layer_probe", "float_arrays", "x_list", "x_structure"]


@dataclass
class LayerProbe:
    """A functional model returning the output of every top-level layer, in graph order.

    Attributes:
        model: ``keras.Model(model inputs, [layer.output, ...])``.
        layers: the layers whose outputs it returns, in the same order.
        counts: how many tensors each layer outputs (most layers: 1).
    """

    model: keras.Model
    layers: list[keras.layers.Layer]
    counts: list[int]

    def split(self, outputs: list[Any]) -> list[list[Any]]:
        """Group the probe's flat outputs per layer."""
        grouped, start = [], 0
        for count in self.counts:
            grouped.append(outputs[start:start + count])
            start += count
        return grouped

    def run(self, x: Any) -> list[list[np.ndarray]]:
        """The outputs of every layer (inference mode, from a fresh model's state) as NumPy
        arrays, grouped per layer."""
        reset_states(self.model)
        outputs = call_user_code("running the model layer by layer", backend.call_model, self.model, x)
        return self.split([keras.ops.convert_to_numpy(o) for o in flatten_outputs(outputs)])


def layer_probe(model: keras.Model) -> LayerProbe | None:
    """A `LayerProbe` for a functional or Sequential model; None for a subclassed model, or
    when a layer's output is ambiguous (a layer shared between several calls)."""
    try:
        inputs = model.inputs
    except AttributeError:
        return None
    if not inputs:
        return None
    nodes = _nodes_per_layer(model)
    layers, outputs, counts = [], [], []
    for layer in layers_of(model):
        found = nodes.get(id(layer))
        if found is not None and len(found) > 1:  # shared layer: several outputs
            return None
        try:
            # a nested model's own `output` belongs to its inner graph; its call in this graph is the node
            produced = flatten_outputs(found[0].outputs if found else layer.output)
        except (AttributeError, ValueError, RuntimeError):  # shared layer: several outputs
            return None
        layers.append(layer)
        outputs.extend(produced)
        counts.append(len(produced))
    if not layers:
        return None
    # the model's own input structure, so the batches made for the model fit the probe as they are
    structure = getattr(model, "_inputs_struct", None)
    probe = keras.Model(structure if structure is not None else x_structure(list(inputs)), outputs)
    return LayerProbe(probe, layers, counts)


def _nodes_per_layer(model: keras.Model) -> dict[int, list[Any]]:
    """The nodes (calls) of `model`'s own graph, per layer id; empty when it keeps none."""
    graph = getattr(model, "_functional", None) or model  # a Sequential keeps its graph in a Functional
    found: dict[int, list[Any]] = {}
    for nodes in (getattr(graph, "_nodes_by_depth", None) or {}).values():
        for node in nodes:
            found.setdefault(id(node.operation), []).append(node)
    return found


def x_list(x: Any) -> list[np.ndarray]:
    """Model inputs (an array, a list or a dict of arrays) as a flat list, in input order."""
    return list(keras.tree.flatten(x))


def x_structure(arrays: list[Any]) -> Any:
    """The inverse of `x_list`: one array alone, several as a list."""
    return arrays[0] if len(arrays) == 1 else list(arrays)


def float_arrays(values: list[np.ndarray]) -> list[np.ndarray]:
    """The floating-point arrays among `values` (integer and boolean outputs are skipped)."""
    return [v for v in values if np.issubdtype(np.asarray(v).dtype, np.floating)]
