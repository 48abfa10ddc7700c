"""An instructor's labels as the targets of a model's losses, refused in plain words when they cannot be.

Grading trains and scores a submission on the instructor's sample labels (class ids, one-hot rows,
0/1 or real values). `labels_as_targets` puts them in the form each output's loss takes, and raises
a `UserCodeError` for the student when the output cannot take them at all, in the cases where
Keras' own fit fails too: the wrong number of rows or units, a loss that cannot compare them with
the output, or a binary cross-entropy given values outside 0..1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops

from ..core.errors import UserCodeError
from .output_loss import OutputLoss, canonical_loss_name
from .targets import ONE_HOT, SPARSE

__all__ = ["labels_as_targets"]


def labels_as_targets(losses: list[OutputLoss], labels: list[Any], predictions: list[np.ndarray]) -> list[np.ndarray]:
    """The instructor's `labels` (class ids or one-hot rows; 0/1; values), one array per output, in
    the form each output's loss in `losses` takes for the output's `predictions`."""
    out = []
    for loss, y, pred in zip(losses, labels, predictions):
        y = np.asarray(y)
        if loss.targets == ONE_HOT and pred.shape[-1] == 1 and y.size == pred.size:
            out.append(y.astype("float32").reshape(pred.shape))  # one value per unit, as fit passes it on
        elif loss.targets in (SPARSE, ONE_HOT):
            axis = loss.class_axis(pred)
            if axis == pred.ndim - 1:
                out.append(_class_targets(loss, y, pred))
            else:  # a pointer's classes lie along its steps (CategoricalCrossentropy(axis=1)): worked out on the last
                moved = np.moveaxis(y, axis, -1) if y.shape == pred.shape else y
                out.append(np.moveaxis(_class_targets(loss, moved, np.moveaxis(pred, axis, -1)), -1, axis))
        else:
            y = y.astype("float32")
            out.append(y.reshape(pred.shape) if y.size == pred.size else y)
            _probabilities_for_cross_entropy(loss, out[-1])  # (PyTorch's own raises on such labels)
            _takes_labels(loss, out[-1], pred)
    return out


def _class_targets(loss: OutputLoss, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Class labels `y` (ids, or one-hot rows) as the class ids or one-hot rows along the last axis of
    `pred` that `loss` takes."""
    ids = np.argmax(y, axis=-1) if y.ndim == pred.ndim and y.shape[-1] == pred.shape[-1] > 1 else y
    if ids is y and _one_hot_rows(y):
        _fits_one_hot(loss, y, pred)
    _fits_classes(loss, ids, pred)
    ids = ids.reshape(pred.shape[:-1]).astype("int32")
    return ids if loss.targets == SPARSE else np.eye(pred.shape[-1], dtype="float32")[ids]


def _takes_labels(loss: OutputLoss, labels: np.ndarray, prediction: np.ndarray) -> None:
    """Raise a `UserCodeError` in plain words when `loss` cannot compare the instructor's `labels`
    with the output (class ids under mean squared error on a 10-way softmax): Keras' fit fails
    on them too, with TensorFlow's "Incompatible shapes"."""
    if not loss.trained:
        return
    try:
        ops.convert_to_numpy(loss.function(labels, np.asarray(prediction, dtype="float32")))
    except Exception as exc:  # the loss rejects them: said for a student, not in TensorFlow's words
        shape, out = tuple(labels.shape), tuple(np.shape(prediction))
        per_sample = labels.ndim == 1 or labels.size == out[0]
        what = "one value per sample (class ids?)" if per_sample and len(out) > 1 and out[-1] > 1 else "values"
        # the labels' values per sample, and the output as many per position of a sequence or an image
        per_position = len(out) > 2 and labels.size == out[0] * out[-1]
        hint = ("give the output one prediction per sample, not one per position of a sequence or an image, as the "
                "assignment's output shape says: return_sequences=False on the last recurrent layer, or a Flatten "
                "or a global pooling before the last Dense layer" if per_position else
                "for integer class ids use loss=\"sparse_categorical_crossentropy\"; otherwise give the output the "
                "labels' shape")
        raise UserCodeError(
            f"the loss {loss.name} of output {loss.output!r} cannot compare the labels, {what} of "
            f"shape {shape}, with the model's output of shape {out}, value by value; Keras' fit fails on them too",
            hint=hint, original=exc) from exc


_ONE_ROW_PER_SAMPLE = ("give the output one row of class scores per sample, as the assignment's output shape says "
                       "(a Flatten or a global pooling before the last Dense layer)")


def _one_hot_rows(labels: np.ndarray) -> bool:
    """True when `labels` are one-hot rows: along the last axis, one 1 and the rest 0."""
    return (labels.ndim >= 2 and labels.shape[-1] > 1 and bool(np.isin(labels, (0, 1)).all())
            and bool(np.all(labels.sum(axis=-1) == 1)))


def _fits_one_hot(loss: OutputLoss, labels: np.ndarray, prediction: np.ndarray) -> None:
    """Raise a `UserCodeError` when the instructor's one-hot `labels` cannot be the targets of
    output `prediction`, said of one-hot rows (read as class ids, 8 rows of 10 classes were "80
    class ids", and an output of 100 units was told it had too many rows)."""
    shape, rows, classes = tuple(np.shape(prediction)), int(np.prod(labels.shape[:-1])), labels.shape[-1]
    what = (f"the labels, {rows} one-hot rows of {classes} classes (shape {tuple(labels.shape)}), do not fit "
            f"output {loss.output!r} of shape {shape}")
    if rows != int(np.prod(shape[:-1])):
        raise UserCodeError(
            f"{what}: the loss {loss.name} takes one row of class scores per one-hot row, and the output has "
            f"{int(np.prod(shape[:-1]))} rows; Keras' fit fails on them too",
            hint=_ONE_ROW_PER_SAMPLE)
    if classes != shape[-1]:
        raise UserCodeError(
            f"{what}: one-hot rows need one unit per class, and the output has {shape[-1]} units; Keras' fit "
            "fails on them too",
            hint=f"give the last layer one unit per class ({classes}), as the assignment's output shape says")


def _fits_classes(loss: OutputLoss, ids: np.ndarray, prediction: np.ndarray) -> None:
    """Raise a `UserCodeError` in plain words when the instructor's class labels `ids` cannot be the
    targets of output `prediction` under `loss`, as Keras' fit cannot take them either: another
    number of labels than the output has rows of class scores (a model without its Flatten scores
    every pixel), or, for one-hot targets, a class id the output has no unit for (ten classes on
    five units). A sparse loss says the latter itself, in its own words."""
    shape = tuple(np.shape(prediction))
    rows = int(np.prod(shape[:-1]))
    if ids.size != rows:
        raise UserCodeError(
            f"the labels, {ids.size} class ids (shape {tuple(ids.shape)}), do not fit output {loss.output!r} of shape "
            f"{shape}: the loss {loss.name} takes one class id per row of class scores, and the output has {rows} "
            "rows; Keras' fit fails on them too",
            hint=_ONE_ROW_PER_SAMPLE)
    if loss.targets == ONE_HOT and ids.size and (int(np.min(ids)) < 0 or int(np.max(ids)) >= shape[-1]):
        raise UserCodeError(
            f"the labels hold class ids from {int(np.min(ids))} to {int(np.max(ids))}, and output {loss.output!r} "
            f"has {shape[-1]} units: one-hot targets need one unit per class; Keras' fit fails on them too",
            hint="give the last layer one unit per class, as the assignment's output shape says")


_PROBABILITY_TARGETS = ("binary_crossentropy", "binary_focal_crossentropy")


def _probabilities_for_cross_entropy(loss: OutputLoss, labels: np.ndarray) -> None:
    """Raise a `UserCodeError` when a binary cross-entropy is given labels outside 0..1 (a
    regression's values): with a target of 300 its loss has no least value, it falls below 0
    without end (fit shows it), and training learns nothing about the labels."""
    if not loss.trained or canonical_loss_name(loss.name) not in _PROBABILITY_TARGETS or labels.size == 0:
        return
    low, high = float(np.min(labels)), float(np.max(labels))
    if low >= 0.0 and high <= 1.0:
        return
    raise UserCodeError(
        f"the loss {canonical_loss_name(loss.name)} of output {loss.output!r} takes targets between 0 and 1 "
        f"(probabilities), and the labels hold values from {low:.4g} to {high:.4g}: with such targets the loss has no least value (it falls "
        "below 0 without end under fit too), so training learns nothing about them",
        hint="for values like these (a regression) use loss=\"mse\" (or \"mae\") with a linear output; "
        "binary_crossentropy is for 0/1 labels")
