"""Calls of a model outside training on JAX, as one compiled program per input signature.

Run eagerly, JAX compiles every op of a model on its own for each new shape: the first call of
MobileNetV3Small at a batch size took 10-12 s on 2 cores, its compiled program 1.2 s (Keras'
own ``predict`` compiles too). A small model is the other way round: its ops' compiled forms are
shared with every model that has the same ops and shapes, so that its eager calls cost next to
nothing after the first model, where a program of its own costs 0.1-0.3 s per model and shape.
So a model is compiled from `COMPILE_FROM_LAYERS` layers on, and run eagerly below that.

The program takes every variable's value and returns the outputs and the values of the variables
the call assigns (a random generator's state, a stateful recurrent layer's state, in training
mode BatchNormalization's moving statistics), which are written back as an eager call would.
A model that cannot be staged (Python branching on values, unseeded random ops, inputs or
outputs that are not arrays) is run eagerly from then on: its eager call raises the user's
errors, as it always did.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import jax
import keras
import numpy as np

from ..inputs import all_layers

__all__ = ["call", "worth_compiling", "run_eagerly", "compiled_for_few_runs", "COMPILE_FROM_LAYERS"]

# Measured on 2 cores: at 40 layers and more (a small ResNet, any keras.applications model) one
# program per shape costs less than the first eager call; below, eager calls share their ops' compiles.
COMPILE_FROM_LAYERS = 40

# XLA's optimising passes are most of a one-shot compile and save little on a program run a few
# times: MobileNetV2's backward compiled in 11.8 s at the default level, 4.1 s at level 0, and ran as
# fast (a training loop's many steps do run slower: it keeps the default)
_FEW_RUNS_OPTIONS = {"xla_backend_optimization_level": 0}

_programs: "weakref.WeakKeyDictionary[Any, dict[Any, Callable[[Any], Any]]]" = weakref.WeakKeyDictionary()
_eager_only: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _signature(x: Any) -> Any:
    """What of a batch makes a new program: its structure, and each leaf's shape and dtype."""
    leaves, tree = jax.tree_util.tree_flatten(x)
    return tree, tuple((np.shape(leaf), str(getattr(leaf, "dtype", type(leaf).__name__))) for leaf in leaves)


def _fingerprint(model: Any) -> Any:
    """What a program was traced from besides the variables: every layer (nested ones too) and the
    objects its public attributes hold, and whether it is trainable (a frozen BatchNormalization
    normalises on its moving statistics in training mode too). A model edited in place (a layer
    popped or added, an activation or a rate assigned, a layer frozen) gets a new program."""
    return tuple((id(layer), layer.trainable, id(getattr(layer, "_dtype_policy", None)),
                  tuple((name, id(value)) for name, value in vars(layer).items() if not name.startswith("_")))
                 for layer in model._flatten_layers(include_self=True, recursive=True))


def worth_compiling(model: Any, x: Any) -> bool:
    """Whether `model`'s call on `x` (a batch, or a list of its arrays) is compiled as a program of
    its own: a built model of `COMPILE_FROM_LAYERS` layers or more, stageable so far, called on
    arrays (inside a traced function a call is compiled with it)."""
    if model in _eager_only or not model.built:
        return False
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x)):
        return False
    return len(all_layers(model)) >= COMPILE_FROM_LAYERS


def compiled_for_few_runs(function: Callable[..., Any], args: list[Any]) -> Any:
    """``function`` compiled by ``jax.jit`` for `args` (arrays of these shapes and dtypes) without
    XLA's costly passes, for a program run once or a few times."""
    lowered = jax.jit(function).lower(*args)
    try:
        return lowered.compile(_FEW_RUNS_OPTIONS)
    except Exception:  # an XLA that does not know the option: compiled as jax.jit would
        return lowered.compile()


def run_eagerly(model: Any) -> None:
    """Run `model` eagerly from now on: it could not be staged (its trace raised), so trying
    again at every call would only repeat that trace's cost."""
    _eager_only.add(model)


def _compile(model: Any, x: Any, training: bool) -> Callable[[Any], Any]:
    """The program of ``model(x, training=training)`` on the model's variables as they are listed
    now: a function of the batch that reads their values, runs, and writes back those it assigned."""
    variables = list(model.variables)
    assigned: list[int] = []

    def run(values: list[Any], batch: Any) -> tuple[Any, list[Any]]:
        with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
            outputs = model(batch, training=training)
        new = [scope.get_current_value(v) for v in variables]
        assigned[:] = [i for i, (after, before) in enumerate(zip(new, values)) if after is not before]
        return outputs, [new[i] for i in assigned]

    compiled = compiled_for_few_runs(run, [[v.value for v in variables], x])
    written = list(assigned)

    def call_compiled(batch: Any) -> Any:
        outputs, updates = compiled([v.value for v in variables], batch)
        for i, value in zip(written, updates):
            variables[i].assign(value)
        return outputs

    return call_compiled


def call(model: Any, x: Any, training: bool = False) -> Any:
    """``model(x, training=training)``, compiled once per input signature (and `_fingerprint`) for a
    model of `COMPILE_FROM_LAYERS` layers or more."""
    if not worth_compiling(model, x):
        return model(x, training=training)
    programs = _programs.setdefault(model, {})
    signature = (training, _fingerprint(model), tuple(id(v) for v in model.variables), _signature(x))
    program = programs.get(signature)
    if program is None:
        try:
            program = _compile(model, x, training)
        except Exception:  # not stageable: the eager call below runs it, or raises the user's error
            run_eagerly(model)
            return model(x, training=training)
        programs[signature] = program
    return program(x)
