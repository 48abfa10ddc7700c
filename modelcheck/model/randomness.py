"""Models that draw random values when called in inference mode, and how to compare their calls.

Most models give the same output for the same batch every time. Some draw random values in
inference mode on purpose: a variational autoencoder's sampling layer, Monte-Carlo Dropout
(``Dropout(...)(x, training=True)``), a noise layer of the user's own. Checks that compare two
calls (does sample 0's output change when the other samples change? does the output change when
an input changes?) would take the new draw for an effect. Keras draws from `SeedGenerator`
states, which are variables: `rewinder` puts them back before each call, so compared calls draw
the same values. Random ops that keep their state elsewhere (``tf.random.normal`` without a
Keras seed) cannot be put back; `random_in_inference` tells such a model apart.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import keras
import numpy as np

from ..core.errors import call_user_code
from ..core.messages import layer_ref
from . import backend
from .inputs import all_layers, batch_words
from .origin import is_library_code
from .outputs import flatten_outputs
from .probe import layer_probe
from .state import reset_states, stateful_layers

__all__ = ["noisy_in_training", "training_only_layer", "seed_states", "rewinder", "rewound_forward", "same_draws", "random_in_inference", "UNREWINDABLE"]

# Layers that draw random values in training mode only: Dropout of every kind, GaussianNoise and
# the like, random augmentation.
_TRAINING_NOISE = re.compile(r"Dropout|Noise|^Random")


def training_only_layer(layer_class: str) -> bool:
    """Whether a layer of class `layer_class` acts in training mode only (its noise, or
    ActivityRegularization's penalty), so that a model may well call it only then."""
    return bool(_TRAINING_NOISE.search(layer_class)) or layer_class == "ActivityRegularization"


def noisy_in_training(model: keras.Model) -> bool:
    """Whether `model` (nested models too) holds a layer that draws noise in training mode: Keras'
    own by class, and a layer of the user's own that keeps a `keras.random.SeedGenerator` (a VAE's
    sampling layer, whose draws made a sound VAE's training loss too noisy to judge). Keras' own
    layers keep one whether they draw or not (a GRU for its dropout, at rate 0 too)."""
    return any(_TRAINING_NOISE.search(type(layer).__name__)
               or (getattr(layer, "_seed_generators", None) and not is_library_code(type(layer)))
               for layer in all_layers(model))


# Why a model's draws could not be repeated, and what makes them repeatable, for skip messages.
UNREWINDABLE = ("draws new random values at every call, in inference mode too, from a generator modelcheck cannot "
                "put back (tf.random, or on PyTorch torch's own for a Dropout given no seed; draw with keras.random "
                "and a keras.random.SeedGenerator kept by the layer, or give the Dropout a seed, to have it checked)")


def seed_states(model: keras.Model) -> list[Any]:
    """The state variables of the random generators `model` draws from: those of its layers
    (nested ones too) and Keras' global generator, used by random ops given no seed."""
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    states, seen = [], set()
    for layer in [model, *all_layers(model)]:
        for generator in getattr(layer, "_seed_generators", ()):
            if id(generator.state) not in seen:
                seen.add(id(generator.state))
                states.append(generator.state)
    shared = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    if shared is not None and id(shared.state) not in seen:
        states.append(shared.state)
    return states


def rewinder(model: keras.Model) -> Callable[[], None]:
    """A function that puts every Keras random generator of `model` back where it is now, so
    the calls it precedes draw the same random values, and its stateful recurrent layers back
    to a fresh model's state (`modelcheck.model.state`). Does nothing for a model with neither."""
    states = seed_states(model)
    saved = [np.array(keras.ops.convert_to_numpy(state.value)) for state in states]
    recurrent = stateful_layers(model)

    def rewind() -> None:
        for state, value in zip(states, saved):
            state.assign(value)
        reset_states(model, recurrent)

    return rewind


def same_draws(source: keras.Model, target: keras.Model) -> bool:
    """Set `target`'s random generators to the states of `source`'s, pairwise in layer order (a
    model and its copy loaded from a file: a Dropout given no seed draws its own at construction,
    so the copy would draw other values). False when they do not pair up, changing nothing."""
    originals, copies = seed_states(source), seed_states(target)
    if len(originals) != len(copies) or any(a.shape != b.shape for a, b in zip(originals, copies)):
        return False
    for a, b in zip(originals, copies):
        if a is not b:
            b.assign(keras.ops.convert_to_numpy(a.value))
    return True


def rewound_forward(model: keras.Model, rewind: Callable[[], None] | None = None) -> Callable[[Any], list[np.ndarray]]:
    """Inference-mode outputs of `model` on a batch as NumPy arrays, each call after `rewind`
    (by default `rewinder(model)` taken now), so that compared calls draw the same random values
    and differ only by their inputs. Not remembered across checks, whose calls drew other values."""
    rewind = rewind or rewinder(model)

    def run(x: Any) -> list[np.ndarray]:
        rewind()
        outputs = call_user_code(f"running the model on {batch_words(model)}", backend.call_model, model, x)
        return [np.asarray(keras.ops.convert_to_numpy(o)) for o in flatten_outputs(outputs)]

    return run


def _differ(first: list[np.ndarray], second: list[np.ndarray]) -> bool:
    return any(a.shape != b.shape or not np.array_equal(a, b, equal_nan=True) for a, b in zip(first, second))


def random_in_inference(model: keras.Model, x: Any, *, rewound: bool = False) -> str | None:
    """Whether two inference-mode calls of `model` on the same batch `x` give different outputs:
    None when they agree, else where the draws happen (``"layer 'sampling' (Sampling)"``, or
    ``"the model"`` when no single layer can be named). With `rewound`, Keras' random generators
    are put back before each call, so only randomness they cannot reach is found."""
    rewind = rewinder(model) if rewound else (lambda: reset_states(model))  # a recurrent state is not a draw
    run = rewound_forward(model, rewind)
    if not _differ(run(x), run(x)):
        return None
    probe = layer_probe(model)
    if probe is not None:
        rewind()
        first = probe.run(x)
        rewind()
        second = probe.run(x)
        for layer, a, b in zip(probe.layers, first, second):
            if _differ(a, b):
                return layer_ref(layer.name, type(layer).__name__)
    return "the model"
