"""The state a stateful recurrent layer carries from one call to the next.

A layer built with ``stateful=True`` (LSTM, GRU, SimpleRNN, ConvLSTM, each half of a Bidirectional)
starts each call from the state the previous call ended with, so two calls on the same batch
give different outputs. Every call modelcheck makes starts from the state a fresh model has
(`reset_states`): comparisons (before and after loading, one input redrawn, another backend)
then compare like with like, and each training step memorises the batch from that same state.
Such a layer also fixes the batch size: its state holds one row per sample (`state_batch_size`).
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["stateful_layers", "reset_states", "state_batch_size"]


def stateful_layers(model: Any) -> list[keras.layers.RNN]:
    """The recurrent layers of `model` that carry a state between calls, found recursively
    (nested models, the forward and backward layers of a Bidirectional); empty when none."""
    if not isinstance(model, keras.layers.Layer):
        return []
    found = model._flatten_layers(include_self=True, recursive=True)
    # only RNN layers: other layers' reset_state (lookup, TextVectorization) forgets what they adapted
    return [layer for layer in found if isinstance(layer, keras.layers.RNN) and layer.stateful
            and getattr(layer, "states", None) is not None]


def reset_states(model: Any, layers: list[keras.layers.RNN] | None = None) -> None:
    """Put every stateful recurrent layer of `model` (or `layers`, found once by the caller) back
    to the state of a fresh model (zeros)."""
    for layer in stateful_layers(model) if layers is None else layers:
        layer.reset_state()


def state_batch_size(model: Any) -> int | None:
    """The batch size the stateful recurrent layers of `model` were built for (their state has
    one row per sample), or None when it has none."""
    for layer in stateful_layers(model):
        first = keras.tree.flatten(layer.states)[0]
        return int(first.shape[0])
    return None
