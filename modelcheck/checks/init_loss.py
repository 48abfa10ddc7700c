"""Loss at initialisation: an untrained model should be unsure, so its loss on random
targets is close to a value known in advance (ln(n_classes) for softmax cross-entropy)."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from ..core.errors import SpecError, call_user_code
from ..model import loops
from ..model.inputs import batch_size_for
from ..model.objective import OutputLoss
from ..core.messages import also, for_audience, mismatch, output_ref
from ..core.result import CheckResult
from .common import check, fmt, prepare_batch
from .loss_config import BINARY_CE, CATEGORICAL_CE, SPARSE_CE, loss_facts

__all__ = ["check_loss_at_init", "expected_initial_loss"]

NAME = "loss_at_init"


def expected_initial_loss(loss: OutputLoss, prediction: np.ndarray, target: np.ndarray) -> tuple[float, str] | None:
    """The loss an unsure model gets on random `target`, and why; None when unknown.

    Cross-entropy over n classes: ln(n) (every class equally likely); binary cross-entropy:
    ln 2 (probability 1/2); mean squared / absolute error: the loss of a model that outputs 0
    (the targets are N(0, 1), so about 1 and 0.8).
    """
    facts = loss_facts(loss, tuple(prediction.shape))  # (a loss of the user's own that computes a Keras one, as it)
    classes = int(prediction.shape[loss.class_axis(prediction)]) if prediction.ndim > 1 else 1  # (a pointer's: axis 1)
    if facts.family in (SPARSE_CE, CATEGORICAL_CE) and classes > 1:
        return math.log(classes), f"ln({classes}), every one of {classes} classes equally likely"
    if facts.family == BINARY_CE:
        return math.log(2), "ln(2), a probability of 1/2 for every label"
    if facts.name == "mean_squared_error":
        return float(np.mean(np.square(target))), "the mean of the squared targets, the loss of an output of 0"
    if facts.name == "mean_absolute_error":
        return float(np.mean(np.abs(target))), "the mean absolute target, the loss of an output of 0"
    return None


def _describe_outputs(loss: OutputLoss, prediction: np.ndarray) -> str:
    """How the untrained outputs look, in the terms of the loss."""
    values = np.asarray(prediction, dtype="float64")
    facts = loss_facts(loss)
    probabilities = values.size and values.min() >= 0.0 and values.max() <= 1.0
    if facts.family in (SPARSE_CE, CATEGORICAL_CE) and not facts.from_logits and values.ndim > 1 and probabilities:
        return f"the most likely class gets {np.mean(np.max(values, axis=loss.class_axis(values))):.0%} on average"
    return f"outputs have mean {fmt(float(values.mean()))} and standard deviation {fmt(float(values.std()))}"


@check(NAME)
def check_loss_at_init(
    model: keras.Model,
    *,
    output: Any = None,
    tolerance: float = 3.0,
    batch_size: int = 64,
    expected: float | None = None,
    seed: int = 0,
) -> CheckResult:
    """The untrained model's loss on a synthetic batch must be near its expected value.

    The expected value is ln(n_classes) for (sparse) categorical cross-entropy, ln 2 for
    binary cross-entropy and the mean squared target (about 1) for mean squared error (see
    `expected_initial_loss`), or `expected` for a single-output model. Each output's loss must
    lie within a factor `tolerance` of it (between expected / tolerance and expected *
    tolerance); for mean squared error the factor applies to the error scale, so the loss may
    be off by tolerance ** 2. Outputs whose loss has no known expected value are not judged; a model with
    none is skipped.

    Example::

        result = check_loss_at_init(model)   # softmax over 10 classes: about 2.303
        assert result.passed, result.message
    """
    if not tolerance > 1.0:
        raise SpecError(f"check_loss_at_init: tolerance is a factor and must be above 1, received tolerance={tolerance!r}")
    batch_size = batch_size_for(model, batch_size)
    prepared = prepare_batch(NAME, model, output=output, batch_size=batch_size, seed=seed)
    if isinstance(prepared, CheckResult):
        return prepared
    _, targets, objective, predictions = prepared
    if expected is not None and len(objective.losses) != 1:
        raise SpecError(f"check_loss_at_init: expected={expected!r} needs a single-output model; this one has "
                        f"{len(objective.losses)} outputs")
    rows, problems, unknown = [], [], []
    for loss, prediction, target in zip(objective.losses, predictions, targets):
        if not loss.trained:
            continue
        value = float(np.mean(keras.ops.convert_to_numpy(
            call_user_code(f"computing the loss {loss.name}", loss.function, target, prediction))))
        summed = loss.summed_terms(prediction)  # reduction="sum" adds up the batch: judged per sample
        value /= summed
        known = (expected, "the value given") if expected is not None else expected_initial_loss(loss, prediction, target)
        if known is None:
            unknown.append(f"{loss.output}: {loss.name}")
            continue
        reference, why = known
        ratio = value / reference if reference > 0 else float("inf")
        # squared errors grow with the square of the output scale: the factor applies to that scale
        allowed = tolerance ** 2 if loss_facts(loss).name == "mean_squared_error" else tolerance
        rows.append({"output": loss.output, "loss": loss.name, "initial": value, "expected": reference,
                     "ratio": ratio, "summed_terms": summed, "allowed_factor": allowed, "why": why})
        if not math.isfinite(value) or not 1 / allowed <= ratio <= allowed:
            direction = "above" if not math.isfinite(value) or ratio > 1 else "below"
            per_sample = f"; the loss adds up {summed} values (reduction=\"sum\"), judged per value" if summed > 1 else ""
            problems.append((direction, mismatch(
                f"initial {loss.name}", f"about {fmt(reference)} = {why} (within a factor {fmt(allowed)})", fmt(value),
                at=output_ref(loss.output), note=f"{_describe_outputs(loss, prediction)}{per_sample}")))
    details = {"outputs": rows, "not_judged": unknown, "batch_size": batch_size, "tolerance": tolerance}
    audience = loops.current().audience
    if not rows:
        return CheckResult.skip(NAME, f"no known expected initial value for the loss ({', '.join(unknown)}); "
                                + for_audience(audience, configurer="pass expected=... to judge it",
                                               student="the assignment gives none to judge it by (an expected "
                                               "value is your instructor's setting), so it is not judged"), details=details)
    expected_value = {row["output"]: row["expected"] for row in rows}
    received = {row["output"]: row["initial"] for row in rows}
    if problems:
        above = any(direction == "above" for direction, _ in problems)
        hint = ("an untrained model should be unsure; a loss far above that means the last layer starts badly "
                "scaled (large initial weights, a kernel_initializer with a large stddev, inputs that are not "
                "normalised) or that the loss does not fit the output (e.g. cross-entropy on a linear output without "
                "from_logits=True)") if above else (
                "a loss far below what an unsure model gets on random targets means the loss does not measure "
                "what you think: check that it fits the output layer"
                + for_audience(audience, configurer=" (run check_loss_matches_output)", student=""))
        messages = [p for _, p in problems]
        return CheckResult.fail(NAME, also(messages[0], messages[1:]),
                                expected=expected_value, received=received, details=details, hint=hint)
    summary = ", ".join(f"{fmt(r['initial'])} vs {fmt(r['expected'])} ({r['output']})" for r in rows)
    return CheckResult.ok(NAME, f"the untrained loss is near its expected value: {summary}",
                          expected=expected_value, received=received, details=details)
