"""Generate the mutants of a reference model, and tell a mutant that changes nothing from one that does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import keras
import numpy as np

from .operators import OPERATORS, Mutant, Site
from .recipe import Recipe, build, recipe_of

__all__ = ["generate", "Baseline", "baseline_of", "is_equivalent", "architecture_changed", "same_function",
           "NotMutable", "changes"]


class NotMutable(Exception):
    """The reference model cannot be mutated (a subclassed model with no graph to trace, or one Keras cannot
    rebuild)."""


def generate(model: keras.Model, *, operators: Iterable[str] | None = None) -> tuple[Recipe, list[Mutant]]:
    """The reference's recipe and every mutant of the chosen operators (default: all), in catalogue order.

    A subclassed model is mutated as its functional twin (`model.graph.functional_twin`: its `call`
    traced into the graph of its layers, the same weights). Raises `NotMutable` when it has none (built
    without a shape, or with a dict of inputs) or Keras cannot rebuild the twin from its configuration.
    """
    names = list(operators) if operators is not None else list(OPERATORS)
    for name in names:
        if name not in OPERATORS:
            raise KeyError(f"unknown mutation operator {name!r}; known operators are {', '.join(OPERATORS)}")
    recipe = recipe_of(model)
    if recipe is None:
        model = _twin(model)
        recipe = recipe_of(model)
    site = Site(recipe, model)
    mutants: list[Mutant] = []
    for name in names:
        mutants.extend(OPERATORS[name].apply(site))
    return recipe, mutants


def _twin(model: keras.Model) -> keras.Model:
    """The functional twin of subclassed `model`, checked to rebuild from its configuration (what every
    mutant is rebuilt from); `NotMutable` saying why when there is none."""
    from ..core.errors import UserCodeError, call_user_code
    from ..model.graph import functional_twin

    cannot = (f"{type(model).__name__} is a subclassed model: its layers are wired in Python code, which mutation "
              "edits only through the graph its call() makes on symbolic inputs")
    try:
        twin = call_user_code(f"tracing {type(model).__name__}.call() into a graph of its layers", functional_twin,
                              model)
    except UserCodeError as exc:
        raise NotMutable(f"{cannot}, and tracing it failed ({str(exc).splitlines()[0]}); declare it as a "
                         "Sequential or functional model") from exc
    if twin is None:
        raise NotMutable(f"{cannot}, and it has none: Keras recorded no input shape to trace it on (a call that "
                         "cannot run on symbolic inputs, such as a branch on a tensor's value, or a dict of inputs); "
                         "declare it as a Sequential or functional model")
    try:
        build(recipe_of(twin))
    except Exception as exc:  # what Keras raises on the configuration its layers give
        raise NotMutable(f"{cannot}, and Keras cannot rebuild that graph from its configuration "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); declare it as a "
                         "Sequential or functional model") from exc
    return twin


@dataclass
class Baseline:
    """What a mutant is compared with: the reference's architecture, compile settings, inputs, outputs
    and weights."""

    architecture: dict[str, Any]
    compile: dict[str, Any]
    x: list[np.ndarray]
    y: list[np.ndarray]
    weights: list[np.ndarray] = field(default_factory=list)


def _outputs(model: keras.Model, x: list[np.ndarray]) -> list[np.ndarray]:
    from ..model.inputs import pack_inputs
    from ..model.outputs import flatten_outputs
    from ..model.state import reset_states

    reset_states(model)
    out = model(pack_inputs(model, x), training=False)
    return [keras.ops.convert_to_numpy(o) for o in flatten_outputs(out)]


def baseline_of(recipe: Recipe, seed: int) -> Baseline:
    """Build the reference from its recipe once and record what equivalence compares."""
    from ..model.inputs import synthetic_inputs
    from ..model.probe import x_list
    from ..snapshot.serialize import architecture

    keras.utils.set_random_seed(seed)
    model = build(recipe)
    x = x_list(synthetic_inputs(model, 4, seed))
    return Baseline(architecture(model), recipe.compile, x, _outputs(model, x), _weights(model))


def _weights(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(w.value) for w in model.weights]


def architecture_changed(model: keras.Model, baseline: Baseline) -> bool:
    """True when the mutant's architecture snapshot differs from the reference's."""
    from ..snapshot.serialize import architecture

    return architecture(model) != baseline.architecture


def changes(model: keras.Model, baseline: Baseline) -> list[str]:
    """What the mutant changes that a check could see through an expectation: ``architecture`` (its
    snapshot differs), ``counts`` (total parameters), ``trainable`` (trainable parameters),
    ``layer_counts`` (parameters per layer) and ``shapes`` (input or layer output shapes)."""
    from ..snapshot.serialize import architecture

    mutant, base = architecture(model), baseline.architecture
    per_layer = lambda arch, key: [layer.get(key) for layer in arch.get("layers", [])]  # noqa: E731
    facets = {
        "architecture": mutant != base,
        "counts": mutant.get("totals", {}).get("total") != base.get("totals", {}).get("total"),
        "trainable": mutant.get("totals", {}).get("trainable") != base.get("totals", {}).get("trainable"),
        "layer_counts": per_layer(mutant, "params") != per_layer(base, "params"),
        "shapes": (per_layer(mutant, "output_shape") != per_layer(base, "output_shape")
                   or [i.get("shape") for i in mutant.get("inputs", [])]
                   != [i.get("shape") for i in base.get("inputs", [])]),
    }
    return [facet for facet, changed in facets.items() if changed]


def is_equivalent(model: keras.Model, recipe: Recipe, baseline: Baseline) -> bool:
    """True when the mutant has the reference's architecture snapshot, compile settings and outputs."""
    return not architecture_changed(model, baseline) and same_function(model, recipe, baseline)


def same_function(model: keras.Model, recipe: Recipe, baseline: Baseline) -> bool:
    """True when the mutant has the reference's compile settings and weights and gives its outputs on
    its inputs (with `architecture_changed` false: an equivalent mutant). The weights count because a
    few inputs do not reach every weight: a NaN in an embedding's row 0 (the padding token) left the
    outputs on four random token sequences as they were."""
    if recipe.compile != baseline.compile:
        return False
    weights = _weights(model)
    if len(weights) != len(baseline.weights) or not all(
            a.shape == b.shape and np.array_equal(a, b) for a, b in zip(weights, baseline.weights)):
        return False
    try:
        outputs = _outputs(model, baseline.x)
    except Exception:  # the reference's inputs do not fit the mutant: not the same function
        return False
    return len(outputs) == len(baseline.y) and all(
        a.shape == b.shape and np.array_equal(a, b, equal_nan=True) for a, b in zip(outputs, baseline.y))
