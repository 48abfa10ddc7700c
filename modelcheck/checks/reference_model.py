"""A live model read into the canonical form `check_matches_reference` compares.

`model_form` reads a model's `architecture()` and hands it to `canonical_architecture`
(`modelcheck.checks.reference_form`). A subclassed model is first traced into the functional graph
its ``call`` makes (`functional_twin`); where that cannot be done, its layers are read as a chain
and how many times each runs is counted with one forward pass (`traced_calls`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import keras

from ..core.errors import UserCodeError, call_user_code
from ..model.graph import functional_twin, has_symbolic_inputs, recorded_calls
from ..model.inputs import synthetic_inputs
from ..model.state import reset_states
from ..snapshot.serialize import architecture
from .reference_form import canonical_architecture

__all__ = ["model_form", "traced_calls"]


def _has_subclassed(arch: dict[str, Any]) -> bool:
    return arch.get("kind") == "subclassed" or any(
        isinstance(layer.get("model"), dict) and _has_subclassed(layer["model"]) for layer in arch.get("layers") or [])


def traced_calls(model: keras.Model, seed: int = 0) -> dict[tuple[int, ...], int]:
    """How many times each layer inside `model` runs in one forward pass (inference mode, on a
    synthetic batch of 2), by its index path in `architecture(model)`: ``(2,)`` is
    ``model.layers[2]``, ``(2, 0)`` the first layer of the nested model ``model.layers[2]``.

    A subclassed model records no calls: this is how a layer called again in its ``call`` shows."""
    paths: dict[int, list[tuple[int, ...]]] = {}
    found: dict[int, keras.layers.Layer] = {}

    def walk(parent: keras.Model, prefix: tuple[int, ...]) -> None:
        for i, layer in enumerate(parent.layers):
            if isinstance(layer, keras.Model):
                walk(layer, prefix + (i,))
            else:
                paths.setdefault(id(layer), []).append(prefix + (i,))
                found[id(layer)] = layer

    walk(model, ())
    try:
        with recorded_calls(found) as events:
            x = synthetic_inputs(model, 2, seed)
            call_user_code("running the model once to count how many times each layer is called", model, x,
                           training=False)
    finally:
        reset_states(model)
    counts = Counter(key for key, _ in events)
    return {path: counts[key] for key, found_paths in paths.items() for path in found_paths}


def _subclassed_as_graph(model: keras.Model, seed: int) -> keras.Model | None:
    """A subclassed model (at the top) as the functional graph its `call` makes (`functional_twin`),
    so that its wiring, its calls and the operations between its layers are compared as a
    functional model's are, and it equals the functional model it computes (as grading's build job
    exports it). None for any other model, when its `call` cannot be traced on symbolic inputs
    (Python branching on tensor values, dict inputs), or leaves one of its layers uncalled: it is
    then read as a chain."""
    if has_symbolic_inputs(model):
        return None
    try:
        if (model.get_build_config() or {}).get("input_shape") is None:
            call_user_code("running the model once to build it", model, synthetic_inputs(model, 2, seed),
                           training=False)
            reset_states(model)
        twin = call_user_code("tracing the subclassed model's call() on symbolic inputs", functional_twin, model)
    except UserCodeError:
        return None
    if twin is None or {id(layer) for layer in model.layers} - {id(layer) for layer in twin.layers}:
        return None  # a layer its call() never calls: the chain reading names it ("never called")
    return twin


def model_form(model: keras.Model, *, ignore: Sequence[str] = (), pass_through: Sequence[str] = (),
               seed: int = 0, input_order: Sequence[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """`model`'s `architecture()` dict and its canonical form: a subclassed model's as the functional
    graph its `call` makes, where that can be traced; the layers of subclassed models otherwise
    counted by `traced_calls`. `input_order`: the reference's input names (see `canonical_architecture`)."""
    twin = _subclassed_as_graph(model, seed)
    arch = architecture(twin if twin is not None else model)
    traced = None
    if _has_subclassed(arch):
        traced = traced_calls(model, seed)
        arch = architecture(model)  # the forward pass built what was not built yet
    return arch, canonical_architecture(arch, ignore=ignore, pass_through=pass_through, traced=traced,
                                        input_order=input_order)
