"""config_lint's findings on the loss against the labels (the instructor's sample, or the kind that
config_lint's ``labels`` option names): a loss that Keras' fit cannot run on them (one that takes a
target per output unit, for class ids; one that takes class ids, for one-hot rows), a cross-entropy
over another axis than the classes', and an ``ignore_class`` that is one of the classes. Every
Keras loss is classed by the labels it takes.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ..core.messages import mismatch, output_ref

__all__ = ["label_findings"]

# The labels each Keras loss takes (canonical names, `canonical_loss_name`): one class id per
# sample, or a target per output unit (one-hot rows or probabilities, 0/1 per unit, real values).
_CLASS_ID_LOSSES = ("sparse_categorical_crossentropy", "categorical_generalized_cross_entropy")
_ONE_HOT_LOSSES = ("categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge", "kl_divergence",
                   "kullback_leibler_divergence", "poisson", "cosine_similarity", "dice", "tversky")
_BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge")
_REAL_LOSSES = ("mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                "mean_squared_logarithmic_error", "huber", "log_cosh")
# what each loss of a target per unit needs, in words
_PER_UNIT = {**{name: "one-hot rows (or probabilities)" for name in _ONE_HOT_LOSSES},
             **{name: "a 0/1 value per unit" for name in _BINARY_LOSSES},
             **{name: "a real value per unit" for name in _REAL_LOSSES}}


def _loss_name(identifier: Any) -> str | None:
    """A compiled loss's canonical Keras name, None for one that is not a loss (a metric, None)."""
    from .loss_config import canonical_loss_name

    if identifier is None or isinstance(identifier, keras.metrics.Metric):
        return None
    name = identifier if isinstance(identifier, str) else \
        type(identifier).__name__ if isinstance(identifier, keras.losses.Loss) else getattr(identifier, "__name__", None)
    return canonical_loss_name(str(name)) if name else None


def _loss_settings(identifier: Any) -> dict[str, Any]:
    """A Loss object's settings: its config and the keyword arguments of its function (``axis`` is
    in the latter only: Keras' get_config leaves it out)."""
    if not isinstance(identifier, keras.losses.Loss):
        return {}
    try:
        config = dict(identifier.get_config() or {})
    except Exception:  # a custom Loss without get_config
        config = {}
    return {**(getattr(identifier, "_fn_kwargs", None) or {}), **config}


def _output_losses(model: keras.Model) -> list[tuple[Any, str, tuple[Any, ...] | None, int]]:
    """Each compiled output loss: (identifier, where, the output's shape or None, output index)."""
    from ..model.compiled import compiled_loss

    loss = compiled_loss(model)
    if loss is None:
        return []
    try:
        shapes: list[tuple[Any, ...] | None] = [tuple(t.shape) for t in model.outputs]
        names = [t._keras_history.operation.name for t in model.outputs]
    except (AttributeError, ValueError, TypeError):  # subclassed: the outputs' shapes are not known here
        shapes, names = [None], ["the model's output"]
    if isinstance(loss, dict):
        by_name = {name: i for i, name in enumerate(names)}
        pairs = [(value, by_name.get(str(key))) for key, value in loss.items()]
    elif isinstance(loss, (list, tuple)):
        pairs = [(value, i if i < len(shapes) else None) for i, value in enumerate(loss)]
    else:
        pairs = [(loss, i) for i in range(len(shapes))]
    return [(value, output_ref(names[i]) if i is not None and shapes[i] is not None else "the compiled loss",
             shapes[i] if i is not None else None, i if i is not None else -1) for value, i in pairs]


def _units(shape: tuple[Any, ...] | None) -> int | None:
    return int(shape[-1]) if shape is not None and len(shape) > 1 and shape[-1] is not None else None


def _integer_label_finding(name: str, shape: tuple[Any, ...] | None, where: str) -> str | None:
    """The finding for a loss that takes a target per output unit, compiled for integer class ids."""
    units = _units(shape)
    needs = _PER_UNIT.get(name)
    if needs is None or (units is None and name not in _ONE_HOT_LOSSES) or units == 1:
        return None  # (one unit: 0/1 labels are one value per sample, as binary losses take them)
    outputs = f"each of the output's {units} values" if units else "each output unit"
    return mismatch("loss", "a loss that takes integer class ids (sparse_categorical_crossentropy)", name, at=where,
                    note=f"{name} compares the label with {outputs}, so it needs {needs}, and Keras' fit cannot run "
                    "it on integer labels, one class id per sample: compile with "
                    "loss=\"sparse_categorical_crossentropy\""
                    + (" (or turn the labels into one-hot rows with keras.utils.to_categorical)"
                       if name in _ONE_HOT_LOSSES else ""))


_CLASS_AXIS_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy")


def _axis_finding(name: str, settings: dict[str, Any], shape: tuple[Any, ...] | None, where: str) -> str | None:
    """The finding for a cross-entropy over the batch axis (it makes the samples compete), or a
    sparse one over any axis but the last, the only one its fit runs on. The categorical ones take
    another axis (a pointer's softmax over its steps, axis 1, under ``CategoricalCrossentropy(axis=1)``):
    loss_matches_output judges that axis against the softmax's."""
    axis = settings.get("axis")
    if name not in _CLASS_AXIS_LOSSES or not isinstance(axis, int) or axis == -1 or shape is None:
        return None
    if axis % len(shape) == len(shape) - 1 or (axis % len(shape) != 0 and name != "sparse_categorical_crossentropy"):
        return None  # (the last axis as a positive number is the same axis)
    fix = "" if name != "sparse_categorical_crossentropy" or axis % len(shape) == 0 else \
        ", or use categorical_crossentropy with one-hot labels, which takes another axis"
    why = ("axis 0 is the batch: the samples compete with each other for the probability" if axis % len(shape) == 0
           else "fit raises \"Only axis=-1 is currently supported\"")
    return mismatch("loss axis", "the classes' axis, the last (axis=-1, Keras' default)", f"axis={axis}", at=where,
                    note=f"{name} takes the classes along the last axis only ({why}): leave axis out{fix}")


def _ignored_class_finding(settings: dict[str, Any], shape: tuple[Any, ...] | None, where: str,
                           labels: str | None, sample: Any) -> str | None:
    """The finding for ``ignore_class`` set to one of the assignment's classes: with instructor
    labels, a value they hold; without, a class id of a classifier's output (one label per sample,
    compiled for integer labels). A segmentation's "void" label, not a class, is left alone."""
    ignored = settings.get("ignore_class")
    if ignored is None or isinstance(ignored, bool):
        return None
    units = _units(shape)
    if sample is not None:
        values = np.asarray(sample)
        if values.ndim and units and values.shape[-1] == units > 1 and values.ndim == len(shape or ()):
            values = np.argmax(values, axis=-1)  # one-hot labels
        if not np.any(values == ignored):
            return None
        among = "the classes in the labels"
    elif labels == "integers" and shape is not None and len(shape) == 2 and units and 0 <= ignored < units:
        among = f"the output's class ids 0..{units - 1}"
    else:
        return None
    return mismatch("loss", "every class trained", f"ignore_class={ignored}", at=where,
                    note=f"ignore_class={ignored} leaves out every sample labelled {ignored}, one of {among}, so the "
                    f"model never learns class {ignored}; ignore_class is for a label that is not a class (a "
                    "segmentation's \"void\" pixels): remove it")


def label_findings(model: keras.Model, labels: str | None) -> list[str]:
    """Losses that cannot train on the labels: with ``labels="integers"`` one that
    takes a target per output unit (one-hot rows, 0/1 or real values per unit), with ``"one_hot"``
    one that takes class ids; whatever `labels`, a cross-entropy over another axis than the last,
    and ``ignore_class`` set to one of the assignment's classes."""
    from ..model.inputs import _DATA_ATTRIBUTE

    data = getattr(model, _DATA_ATTRIBUTE, None)
    found = []
    for identifier, where, shape, index in _output_losses(model):
        name = _loss_name(identifier)
        if name is None:
            continue
        settings = _loss_settings(identifier)
        if labels == "integers":
            found += [f for f in [_integer_label_finding(name, shape, where)] if f]
        elif labels == "one_hot" and name in _CLASS_ID_LOSSES:
            found.append(mismatch("loss", "categorical_crossentropy for labels given as one-hot rows", name, at=where,
                                  note=f"{name} expects integer class ids: compile with loss=\"categorical_crossentropy\""))
        found += [f for f in [_axis_finding(name, settings, shape, where)] if f]
        sample = data.y[index] if data is not None and data.y is not None and 0 <= index < len(data.y) else None
        found += [f for f in [_ignored_class_finding(settings, shape, where, labels, sample)] if f]
    return found
