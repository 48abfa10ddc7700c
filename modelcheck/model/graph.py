"""The structure of a built model: its layers, whether it has symbolic inputs, who consumes a tensor."""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Iterator

import keras

__all__ = ["consumers", "functional_twin", "graph_copy", "has_symbolic_inputs", "layers_of", "recorded_calls",
           "takes_training", "upstream_layers"]

def has_symbolic_inputs(model: keras.Model) -> bool:
    try:
        return bool(model.inputs)
    except AttributeError:
        return False


def functional_twin(model: keras.Model, training: bool | None = None) -> keras.Model | None:
    """A built subclassed model as the functional graph of its layers: its `call` traced on
    symbolic inputs of the shape it was built with (the same layer objects, so the same weights),
    compiled as it is; with `training`, traced with that argument (when `call` takes one). None
    when it was built without a shape or with a dict of inputs. Runs the user's `call`: call it
    through `call_user_code`."""
    shapes = (model.get_build_config() or {}).get("input_shape")
    if shapes is None or isinstance(shapes, dict):
        return None
    several = bool(shapes) and isinstance(shapes[0], (list, tuple))
    inputs = [keras.Input(tuple(s)[1:]) for s in (shapes if several else [shapes])]
    given = {"training": training} if training is not None and takes_training(model) else {}
    outputs = model.call(inputs if several else inputs[0], **given)
    return _compiled_like(keras.Model(inputs if several else inputs[0], outputs), model)


def graph_copy(model: keras.Model) -> keras.Model:
    """A model of a class of the user's own that is a graph of layers (a functional model made in
    its ``__init__``, as Keras' guide mixes the styles; a Sequential subclass) as a plain
    ``keras.Model`` of the same inputs, outputs and layer objects (so the same weights), compiled
    as it is: what Keras' safe mode loads without the user's class. What the class changes beyond
    the graph (its own ``call``) is not in the copy: compare their outputs."""
    inputs, outputs = getattr(model, "_inputs_struct", None), getattr(model, "_outputs_struct", None)
    inputs, outputs = model.inputs if inputs is None else inputs, model.outputs if outputs is None else outputs
    return _compiled_like(keras.Model(inputs, outputs), model)


def _compiled_like(twin: keras.Model, model: keras.Model) -> keras.Model:
    if getattr(model, "compiled", False):
        try:
            twin.compile_from_config(model.get_compile_config())
        except Exception:  # the objective is then inferred from the outputs, as for an uncompiled model
            pass
    return twin


def takes_training(model: keras.Model) -> bool:
    """Whether `model.call` takes a ``training`` argument (by name, or as ``**kwargs``)."""
    try:
        parameters = inspect.signature(model.call).parameters
    except (TypeError, ValueError):
        return False
    return "training" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


@contextlib.contextmanager
def recorded_calls(layers: dict[int, keras.layers.Layer]) -> Iterator[list[tuple[int, Any]]]:
    """Within the block, each call of one of `layers` (keyed by the caller's keys) appends
    ``(key, training argument)`` to the yielded list, in call order: what a subclassed model,
    which records no graph, does in one forward pass. A layer whose ``call`` is an instance
    attribute of its own is left alone."""
    events: list[tuple[int, Any]] = []

    def recording(key: int, call: Any) -> Any:
        def recorded_call(*args: Any, **kwargs: Any) -> Any:
            events.append((key, kwargs.get("training")))
            return call(*args, **kwargs)
        return recorded_call

    patched = []
    try:
        for key, layer in layers.items():
            if "call" not in vars(layer):
                object.__setattr__(layer, "call", recording(key, layer.call))
                patched.append(layer)
        yield events
    finally:
        for layer in patched:
            object.__delattr__(layer, "call")


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


def upstream_layers(model: keras.Model) -> dict[int, set[int]]:
    """For each of the model's layers (by id), the ids of the layers its inputs come from, directly
    or through others; empty for a subclassed model, whose graph is not recorded."""
    found: dict[int, set[int]] = {}

    def above(operation: Any) -> set[int]:  # through every operation: a keras.ops call in a graph is no layer
        if id(operation) not in found:
            found[id(operation)] = set()  # a graph has no cycle; this only guards the recursion
            ups: set[int] = set()
            for node in getattr(operation, "_inbound_nodes", []):
                for parent in getattr(node, "parent_nodes", []):
                    ups |= {id(parent.operation)} | above(parent.operation)
            found[id(operation)] = ups
        return found[id(operation)]

    return {id(layer): above(layer) for layer in model.layers}
