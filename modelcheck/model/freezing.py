"""Which layers a model freezes (``trainable = False``), and which of them are a backbone frozen
on purpose (transfer learning) rather than a layer frozen by mistake."""

from __future__ import annotations

import keras

from .graph import layers_of, upstream_layers

__all__ = ["BACKBONE_NOTE", "backbone_names", "frozen_layers"]


def frozen_layers(model: keras.Model) -> tuple[list[keras.layers.Layer], list[keras.layers.Layer]]:
    """The model's layers with weights frozen by ``trainable = False``: (those that may be frozen
    by mistake, a frozen backbone). Transfer learning freezes a pretrained feature extractor ahead
    of the layers that train: a nested model called with ``training=False`` (Keras' transfer-learning
    guide), or the layers in front of every trainable one when they hold at least two layers with
    weights (``base.trainable = False`` under a head built on ``base.output``). A single frozen
    layer, or one frozen behind a trainable layer, is the mistake the check exists for."""
    frozen = [layer for layer in layers_of(model) if not layer.trainable and layer.count_params()]
    if not frozen:
        return [], []
    upstream = upstream_layers(model)
    training = {id(layer) for layer in layers_of(model) if layer.trainable_weights}
    feeds_training = set().union(*(upstream.get(key, set()) for key in training))
    ahead = [layer for layer in frozen if _fed_by_inputs(layer) and id(layer) in feeds_training
             and not upstream.get(id(layer), set()) & training]
    backbones = ahead if sum(_weighted_layers(layer) for layer in ahead) >= 2 else []
    backbones += [layer for layer in frozen if layer not in backbones and isinstance(layer, keras.Model)
                  and id(layer) in feeds_training and _called_in_inference(layer)]
    return [layer for layer in frozen if layer not in backbones], backbones


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


def backbone_names(backbones: list[keras.layers.Layer]) -> str:
    """The frozen backbone's layers in a few words: 'base', or 'conv' ... 'conv_1_bn' (86 layers)."""
    names = [repr(layer.name) for layer in backbones]
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} ... {names[-1]} ({len(names)} layers)"
