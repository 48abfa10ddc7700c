"""Why a check applies (or does not) to a reference model: the shared wording of spec.reasons."""

from __future__ import annotations

__all__ = [
    "FORWARD", "COUNTS", "GRADIENTS", "MEMORISE", "LOSS_FALLS", "LINEAR",
    "NO_TASK", "TOO_BIG", "no_training", "RECIPE",
]

FORWARD = "A real forward pass must give the documented output shape with finite values."
COUNTS = "Parameter counts follow from the layer arithmetic the document teaches."
GRADIENTS = "Every trainable weight must receive a finite, non-zero gradient."
MEMORISE = "A small model that cannot memorise one batch has a broken output, loss or wiring; cheap here."
LOSS_FALLS = "A few training steps must lower the loss."
LINEAR = "The document trains this model on y = 2x - 1 and prints w, b and the prediction at 5."

NO_TASK = (
    "It is a layer demonstration or a building block whose output is a feature map, not a task: "
    "a training check would only test a made-up target."
)
TOO_BIG = "Training it is not cheap enough for every CI build."

# The practitioners' recipe checks that run on every reference model: cheap, no training.
RECIPE = {
    "finite": "No NaN/Inf in any weight, layer output, loss or gradient.",
    "config_lint": "No configuration mistake that no run reveals (Dropout rate as keep_prob, Dense after Dense "
                   "without activation, softmax on one unit, the input shape).",
    "loss_matches_output": "The compiled loss must fit the output layer (skipped when the document does not compile).",
    "batch_independence": "Samples of a batch must not influence each other in inference mode.",
    "input_dependence": "Every input must change the output.",
}


def no_training(reason: str) -> dict[str, str]:
    """Reasons for leaving out both training checks."""
    return {"overfit_batch": reason, "loss_decrease": reason}
