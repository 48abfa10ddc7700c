"""One wording for every check's failure: what was checked, expected, received, and where.

Keras' own tests word a mismatch as "Expected output shapes (None, 10) but received (None, 12)";
modelcheck words every failing verdict through `mismatch`, so the first line always reads::

    parameters: expected 235,500, received 157,000, at layer 'dense' (Dense); its arithmetic: ...

No Keras import: the plugin and the grading parent read these messages.
"""

from __future__ import annotations

from typing import Any

__all__ = ["mismatch", "layer_ref", "output_ref", "also", "for_audience", "time_budget_fix", "CONFIGURER", "STUDENT",
           "AUDIENCES", "MODEL_TIMEOUT_HINT", "OWN_CODE_FIX", "OWN_TRAINING_FIX"]

# Who reads a check's hints. Whoever configures the checks (a spec file, a check's keyword arguments,
# an assignment's [expect]) can change those settings; a student whose submission is graded reads the
# feedback and can change only their model's code. Grading sets STUDENT on the spec it checks
# (`ModelSpec.audience`, which the session hands to the checks on their run context) and on the run
# context of its build job.
CONFIGURER = "configurer"
STUDENT = "student"
AUDIENCES = (CONFIGURER, STUDENT)

# How whoever configures the checks raises a model's time budget (`ModelSpec.model_timeout`), for
# the messages of the checks it stopped (`time_budget_fix`).
MODEL_TIMEOUT_HINT = "the spec key model_timeout or --modelcheck-model-timeout"

# How to make a graded model train in the grader's clean process as it does in the student's: what
# the grader says when a submission's own functions or training code do not survive its model file.
OWN_CODE_FIX = ("give Keras' own activations, losses and optimizers by name (activation=\"relu\", "
                "loss=\"sparse_categorical_crossentropy\", optimizer=\"adam\"), or the course's; the grader checks "
                "your model with Keras' code only, and a function of your own is saved by its name alone")
OWN_TRAINING_FIX = ("the grader trains the saved model with Keras' own training step: to have these checks judged, "
                    "keep training code out of the model (no train_step or compute_loss of its own, no branch of "
                    "call() taken only when training), or ask your instructor whether the assignment accepts it")


def mismatch(what: str, expected: Any, received: Any, at: str | None = None, note: str | None = None) -> str:
    """``<what>: expected <expected>, received <received>, at <at>; <note>``.

    Args:
        what: what was checked, in plain words (``"output shape"``, ``"parameters"``).
        expected: what the check wanted; shown with ``str``.
        received: what the model gave; shown with ``str``.
        at: where: the layer, output, input or variable (``"layer 'dense' (Dense)"``).
        note: the explanation or the fix, after a semicolon.

    Example::

        >>> mismatch("output shape", "(None, 10)", "(None, 12)", at="output 'dense_2'")
        "output shape: expected (None, 10), received (None, 12), at output 'dense_2'"
    """
    text = f"{what}: expected {expected}, received {received}"
    if at:
        text += f", at {at}"
    if note:
        text += f"; {note}"
    return text


def for_audience(audience: str, *, configurer: str, student: str) -> str:
    """The wording of a hint for `audience`: `student` for a graded student (what to change in the
    model or code, or what the assignment expects), `configurer` for everyone else (which setting
    of the check to change). Each hint whose fix differs is written once per audience here::

        note = for_audience(loops.current().audience,
                            configurer="... or pass allow_frozen=True if freezing is intended",
                            student="... or ask your instructor if freezing is intended")
    """
    return student if audience == STUDENT else configurer


def time_budget_fix(audience: str, *, then: str = "") -> str:
    """What gets a check that the model's time budget stopped judged, for `audience`: whoever
    configures the checks raises the budget (``raise it with <MODEL_TIMEOUT_HINT><then>``); a graded
    student cannot, so is told what makes the model fit in it, and the instructor, who reads the
    same result in the class summary, which of their settings the limit is."""
    return for_audience(audience, configurer=f"raise it with {MODEL_TIMEOUT_HINT}{then}",
                        student="a model that trains faster (fewer or smaller layers) would finish within it; that "
                        "budget is the checks' share of the assignment's time limit, which your instructor sets "
                        "([limits] timeout_s)")


def layer_ref(name: str, kind: str | None = None) -> str:
    """``layer 'dense' (Dense)``, or ``layer 'dense'`` without a class name."""
    return f"layer {name!r}" + (f" ({kind})" if kind else "")


def output_ref(name: str) -> str:
    """``output 'dense_2'``."""
    return f"output {name!r}"


def also(first: str, others: list[str]) -> str:
    """The first problem's message, followed by the others after ``; also: ``."""
    return first + "".join(f"; also: {other}" for other in others)
