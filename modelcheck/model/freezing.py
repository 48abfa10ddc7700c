"""Which layers a model freezes (``trainable = False``), and which of them are frozen on purpose
rather than by mistake: a backbone (transfer learning), or a whole network kept beside the model
that its forward pass never calls (a distiller's teacher, a DQN's target network, used in the loss).

A functional model records its graph, so what feeds what is read from it. A subclassed model
records none: for a frozen nested model inside one, one training-mode forward pass on a synthetic
batch (`_forward_calls`) tells whether its ``call`` uses it at all, with which ``training``
argument, and whether a layer that trains runs after it."""

from __future__ import annotations

from typing import Any

import keras

from ..core.errors import UserCodeError, call_user_code
from .counting import weight_count
from .engine import preserved_weights
from .graph import has_symbolic_inputs, layers_of, recorded_calls, upstream_layers
from .inputs import synthetic_inputs
from .memo import remembered
from .state import reset_states

__all__ = ["BACKBONE_NOTE", "ASIDE_NOTE", "backbone_names", "frozen_layers", "frozen_aside"]


def frozen_layers(model: keras.Model) -> tuple[list[keras.layers.Layer], list[keras.layers.Layer]]:
    """The model's layers with weights frozen by ``trainable = False``: (those that may be frozen
    by mistake, a frozen backbone). Transfer learning freezes a pretrained feature extractor ahead
    of the layers that train: a nested model called with ``training=False`` (Keras' transfer-learning
    guide; in a subclassed model's ``call``, one that a layer that trains runs after), or the layers
    in front of every trainable one when they hold at least two layers with weights
    (``base.trainable = False`` under a head built on ``base.output``). A single frozen layer, one
    frozen behind a trainable layer, or a whole model frozen is the mistake the check exists for.
    A whole network the forward pass never calls is in neither list (see `frozen_aside`)."""
    mistakes, backbones, _ = _classified(model)
    return mistakes, backbones


def frozen_aside(model: keras.Model) -> list[keras.Model]:
    """The frozen nested models of a subclassed model that its forward pass never calls: a network
    kept beside the model and used in its loss or its own training step (a distiller's teacher, a
    DQN's target network), frozen on purpose (a teacher that learned from the distillation loss
    would be the bug). Their weights cannot reach the model's outputs, so no gradient is missed."""
    return _classified(model)[2]


def _classified(model: keras.Model) -> tuple[list[keras.layers.Layer], list[keras.layers.Layer], list[keras.Model]]:
    """(frozen by mistake, frozen backbones, frozen networks kept aside): see `frozen_layers`."""
    frozen = [layer for layer in layers_of(model) if not layer.trainable and weight_count(layer.weights)]
    if not frozen:
        return [], [], []
    upstream = upstream_layers(model)
    training = {id(layer) for layer in layers_of(model) if layer.trainable_weights}
    feeds_training = set().union(*(upstream.get(key, set()) for key in training))
    ahead = [layer for layer in frozen if _fed_by_inputs(layer) and id(layer) in feeds_training
             and not upstream.get(id(layer), set()) & training]
    backbones = ahead if sum(_weighted_layers(layer) for layer in ahead) >= 2 else []
    backbones += [layer for layer in frozen if layer not in backbones and isinstance(layer, keras.Model)
                  and id(layer) in feeds_training and _called_in_inference(layer)]
    aside: list[keras.Model] = []
    nested = [layer for layer in frozen if layer not in backbones and isinstance(layer, keras.Model)]
    if nested and training and not has_symbolic_inputs(model):
        calls = _forward_calls(model, nested)
        if calls is not None:
            aside = [layer for layer, (arguments, _) in zip(nested, calls) if not arguments]
            backbones += [layer for layer, (arguments, before_training) in zip(nested, calls)
                          if arguments and all(a is False for a in arguments) and before_training]
    return [layer for layer in frozen if layer not in backbones and layer not in aside], backbones, aside


def _forward_calls(model: keras.Model, nested: list[keras.Model]) -> tuple[tuple[tuple[Any, ...], bool], ...] | None:
    """For each of `nested` (frozen models inside the subclassed `model`), in order: the
    ``training`` argument of each of its calls in one training-mode forward pass on a synthetic
    batch of 2 (None where its ``call`` takes none), and whether a layer with trainable weights
    ran after its first call. None when the forward pass raises (the checks report that)."""
    watched = {id(layer): layer for layer in nested}
    trains = {id(layer): layer for layer in layers_of(model) if layer.trainable_weights}

    def run() -> tuple[tuple[tuple[Any, ...], bool], ...]:
        try:
            with recorded_calls({**watched, **trains}) as events, preserved_weights(model, non_trainable_only=True):
                reset_states(model)
                call_user_code("running the model once in training mode to see which frozen networks its call() "
                               "uses", model, x, training=True)
        finally:
            reset_states(model)
        found = []
        for key in watched:
            positions = [i for i, (k, _) in enumerate(events) if k == key]
            arguments = tuple(events[i][1] for i in positions)
            later = bool(positions) and any(k in trains for k, _ in events[positions[0] + 1:])
            found.append((arguments, later))
        return tuple(found)

    try:
        x = synthetic_inputs(model, 2, 0)
        return remembered("frozen_calls", model, x, run, extra=tuple(id(layer) for layer in nested))
    except UserCodeError:
        return None


def _fed_by_inputs(layer: keras.layers.Layer) -> bool:
    """Whether the model's graph records where the layer's inputs come from (not a subclassed model)."""
    return any(getattr(node, "parent_nodes", None) for node in getattr(layer, "_inbound_nodes", []))


def _weighted_layers(layer: keras.layers.Layer) -> int:
    inner = [sub for sub in layer._flatten_layers(include_self=False) if sub.weights] if isinstance(layer, keras.Model) else []
    return len(inner) or 1


def _called_in_inference(layer: keras.layers.Layer) -> bool:
    calls = [node for node in getattr(layer, "_inbound_nodes", []) if getattr(node, "arguments", None) is not None]
    return bool(calls) and all(node.arguments.kwargs.get("training") is False for node in calls)


BACKBONE_NOTE = ("frozen on purpose, as transfer learning does (ahead of every layer that trains, or called with "
                 "training=False)")

ASIDE_NOTE = ("the model's call() never uses it: a network kept beside the model (a teacher, a target network) and "
              "frozen on purpose, whose weights cannot reach the outputs")


def backbone_names(backbones: list[keras.layers.Layer]) -> str:
    """The frozen backbone's layers in a few words: 'base', or 'conv' ... 'conv_1_bn' (86 layers)."""
    names = [repr(layer.name) for layer in backbones]
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} ... {names[-1]} ({len(names)} layers)"
