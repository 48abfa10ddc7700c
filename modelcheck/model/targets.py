"""Synthetic targets of each kind, random or taught: what `modelcheck.model.objective` trains on.

Target kinds: class ids (``sparse``), one-hot rows, 0/1 per unit (``binary``), real values, or
one label per sample (``labels``, metric learning). Taught targets come from a teacher's outputs
(the same architecture with its weights shuffled, `modelcheck.model.teacher`), made into the kind
an output's loss takes so that a sound model can reach them: class ids from its centred scores,
0/1 in the widest gap of its values, real values standardised per unit (or kept as they are where
something after the activation sets the output's range).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .output_loss import OutputLoss

__all__ = ["SPARSE", "ONE_HOT", "BINARY", "REAL", "LABELS", "class_axis", "random_target", "teacher_target",
           "standardise", "varies", "other_target_kinds"]

SPARSE = "sparse"  # integer class ids
ONE_HOT = "one_hot"
BINARY = "binary"  # 0/1 per unit
REAL = "real"  # N(0, 1)
LABELS = "labels"  # one integer label per sample, whatever the output's shape (metric learning: Circle)


def class_axis(function: Any, rank: int) -> int:
    """The axis (counted from 0, of an output of `rank`) a cross-entropy reads the classes along:
    its ``axis`` (``CategoricalCrossentropy(axis=1)`` over a pointer's steps), else the last."""
    axis = (getattr(function, "_fn_kwargs", None) or {}).get("axis", -1)
    return int(axis) % rank if isinstance(axis, int) and rank > 0 else max(rank - 1, 0)


# How many times the spread of a model's outputs across samples its regression targets may ask
# for (see `teacher_target`).
_MAX_AMPLIFICATION = 10.0


def random_target(kind: str, shape: tuple[int, ...], rng: np.random.Generator,
                  bounds: tuple[float, float] | None = None, positive: bool = False,
                  nonnegative: bool = False, axis: int = -1) -> np.ndarray:
    """Random targets of `kind` and `shape`: class ids or one-hot rows (along `axis`, the loss's
    `class_axis`), 0/1, values inside `bounds`, above zero (`positive`), of 0 or more
    (`nonnegative`), or N(0, 1)."""
    if kind == ONE_HOT and axis % len(shape) != len(shape) - 1:
        axis %= len(shape)
        moved = tuple(size for i, size in enumerate(shape) if i != axis) + (shape[axis],)
        return np.moveaxis(random_target(kind, moved, rng), -1, axis)
    if kind == LABELS:  # about two samples per label, so that every sample has a positive pair
        return rng.integers(0, max(2, shape[0] // 2), size=shape[:1]).astype("int32")
    if kind in (SPARSE, ONE_HOT):
        classes = shape[-1]
        ids = rng.integers(0, max(classes, 1), size=shape[:-1])
        return ids.astype("int32") if kind == SPARSE else np.eye(classes, dtype="float32")[ids]
    if kind == BINARY:
        return rng.integers(0, 2, size=shape).astype("float32")
    if bounds is not None:  # a sigmoid or tanh output: inside what it can produce (see _INSIDE)
        middle, half = (bounds[0] + bounds[1]) / 2, _INSIDE * (bounds[1] - bounds[0]) / 2
        return rng.uniform(middle - half, middle + half, size=shape).astype("float32")
    values = rng.standard_normal(shape)
    return (np.abs(values) if nonnegative else _above_zero(values) if positive else values).astype("float32")


def _above_zero(values: np.ndarray) -> np.ndarray:
    """`values` shifted per unit (over its shared axes) so that the least is 1: positive quantities
    of the same spread, which a shift of the last bias realises."""
    return values - values.min(axis=_shared_axes(values), keepdims=True) + 1.0


def varies(values: np.ndarray) -> bool:
    """True when the outputs differ across the batch by more than float rounding."""
    values = np.asarray(values, dtype="float64")
    if values.ndim == 0 or values.shape[0] < 2 or not np.all(np.isfinite(values)):
        return False
    spread = float(np.max(np.std(values, axis=0)))
    return spread > 1e-4 * (float(np.mean(np.abs(values))) + 1e-30)


def teacher_target(loss: "OutputLoss", pred: np.ndarray, teacher: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Targets of the kind `loss` takes, shaped like `pred`, made from the `teacher`'s outputs."""
    teacher = np.asarray(teacher, dtype="float64")
    # Every axis but the last is one a layer's bias is shared along: the batch, and the positions of
    # a per-pixel or per-step output (a convolution, a Dense applied at every step). Offsets and
    # thresholds are taken per last-axis unit over all of them, so a shift of the last bias realises
    # them; per position they would need a bias per pixel, which a convolution does not have.
    shared = _shared_axes(teacher)
    if loss.targets in (SPARSE, ONE_HOT):
        return _class_targets(loss, teacher, pred)
    if loss.targets == BINARY:
        flat = teacher.reshape(-1, teacher.shape[-1]) if teacher.ndim > 1 else teacher
        labels = (teacher > _widest_gap(flat)).astype("float32")
        return labels if labels.std() > 0 else random_target(BINARY, tuple(pred.shape), rng)
    if loss.reachable_only:  # (a Rescaling after a sigmoid, a normalised Dot, a clip, NonNeg weights)
        return teacher.astype("float32").reshape(pred.shape)
    standardised, scale = standardise(teacher)
    # Unit spread, unless the architecture spreads its outputs far less (features that barely vary
    # across samples, as after a saturated tanh): amplifying them would need weights many times any
    # initialisation's, a slow crawl that is no sign of a bug. The targets then keep the larger of
    # the teacher's and the model's own spread (times _MAX_AMPLIFICATION); `Objective.spread` scales
    # the loss a check asks for alike.
    own = np.asarray(pred, dtype="float64").reshape(teacher.shape).std(axis=shared, keepdims=True)
    spread = np.minimum(1.0, _MAX_AMPLIFICATION * np.maximum(scale, own))  # (a unit that does not vary is 0 anyway)
    if loss.nonnegative:  # scaled, not shifted: a relu teacher's zeros stay zeros (no bias after the relu adds a shift)
        targets = teacher / scale * spread
    elif loss.positive:
        targets = _above_zero(standardised * spread)
    else:
        targets = standardised * spread
    if loss.bounds is not None:  # a sigmoid or tanh output: inside what it can produce, well clear of its ends
        low, high = loss.bounds
        largest = np.max(np.abs(targets), axis=shared, keepdims=True)
        targets = (low + high) / 2 + _INSIDE * (high - low) / 2 * targets / np.where(largest > 0, largest, 1.0)
    return targets.astype("float32").reshape(pred.shape)


def _class_targets(loss: "OutputLoss", teacher: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Class ids (or one-hot rows, along the loss's `class_axis`) of the teacher's centred scores,
    for the model's prediction `pred`."""
    axis = class_axis(loss.function, teacher.ndim) if loss.targets == ONE_HOT else teacher.ndim - 1
    teacher = np.moveaxis(teacher, axis, -1)  # (a pointer's classes are its steps, axis 1)
    scores = np.log(np.clip(teacher, 1e-12, None)) if loss.kind in ("probabilities", "binary") else teacher
    # centred so every class can occur, but the one the loss ignores (it would teach nothing)
    centred = scores - scores.mean(axis=_shared_axes(teacher), keepdims=True)
    if loss.ignored_class is not None and 0 <= loss.ignored_class < centred.shape[-1] and centred.shape[-1] > 1:
        centred[..., loss.ignored_class] = -np.inf
    ids = np.argmax(centred, axis=-1)
    if loss.targets == SPARSE:
        return ids.astype("int32")
    return np.moveaxis(np.eye(np.shape(pred)[axis], dtype="float32")[ids], -1, axis)


# How far toward the ends of a bounded output (sigmoid, tanh) its synthetic targets reach: near an end,
# the activation saturates and learning crawls.
_INSIDE = 0.8


def _shared_axes(values: np.ndarray) -> tuple[int, ...]:
    """The axes an output unit (the last axis) is shared along: the batch, and the positions of a
    per-pixel or per-step output."""
    return tuple(range(values.ndim - 1)) or (0,)


def standardise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`values` centred and scaled to unit spread per unit over its shared axes, and the scale
    each unit was divided by (its standard deviation; 1 where it does not vary)."""
    shared = _shared_axes(values)
    std = values.std(axis=shared, keepdims=True)
    scale = np.where(std > 0, std, 1.0)
    return (values - values.mean(axis=shared, keepdims=True)) / scale, scale


def _widest_gap(teacher: np.ndarray) -> np.ndarray:
    """Per unit (last axis; rows are the samples, and positions where the unit is shared), a threshold
    in the widest gap between the teacher's values within their middle half: both labels occur, and
    the margin a student must reach is as large as it can be."""
    ordered = np.sort(teacher, axis=0)
    n = ordered.shape[0]
    low, high = max(0, n // 4 - 1), min(n - 1, (3 * n) // 4)
    gaps = np.diff(ordered[low:high + 1], axis=0)
    at = np.argmax(gaps, axis=0)
    below = np.take_along_axis(ordered[low:high], at[None], axis=0)
    above = np.take_along_axis(ordered[low + 1:high + 1], at[None], axis=0)
    return (below + above) / 2


def other_target_kinds(targets: list[np.ndarray]) -> list[list[np.ndarray]]:
    """The same targets as other kinds, for a loss of the model's own that says nothing of what it
    takes (a ``compute_loss`` override): class ids (the largest of each row) and one-hot rows of
    them, in that order; from class ids, their one-hot rows. Outputs of one unit stay as they are.
    Empty when no output has another kind."""
    ids, one_hot = [], []
    for target in targets:
        values = np.asarray(target)
        if values.dtype.kind in "iu":  # class ids already
            classes = int(values.max()) + 1 if values.size else 1
            ids.append(values)
            one_hot.append(np.eye(max(classes, 2), dtype="float32")[values])
        elif values.ndim >= 2 and values.shape[-1] > 1:
            labels = np.argmax(values, axis=-1).astype("int32")
            ids.append(labels)
            one_hot.append(np.eye(values.shape[-1], dtype="float32")[labels])
        else:
            ids.append(values)
            one_hot.append(values)
    kinds = [ids, one_hot]
    return [kind for kind in kinds if any(a.shape != np.asarray(t).shape or a.dtype != np.asarray(t).dtype
                                          for a, t in zip(kind, targets))]
