"""Every key of `[expect]` is checked (issue 14): for each key, a model that violates only that
key loses the points of the check it belongs to, judged by the code the clean check job runs."""

from __future__ import annotations

import keras
import pytest
from keras import layers

from modelcheck.grading.assignment import _TABLES, parse_assignment
from modelcheck.grading.jobs import _run_checks

BASE = """
[assignment]
name = "toy"
builder = "build_model"
[expect]
input_shape = [4]
output_shape = [3]
layer_output_shapes = [[8], [3]]
total_params = 67
trainable_params = 67
non_trainable_params = 0
layer_params = [40, 27]
output = "probabilities"
max_params = 100
{extra}
[points]
output_shape = 1
param_count = 2
overfit_batch = 1
[options.overfit_batch]
learning_rate = 0.01
"""

# key -> (the value that the sound model violates, the check that loses its points)
VIOLATIONS = {
    "input_shape": ("[5]", "output_shape"),
    "output_shape": ("[4]", "output_shape"),
    "layer_output_shapes": ("[[9], [3]]", "output_shape"),
    "output": ('"regression"', "output_shape"),
    "total_params": ("68", "param_count"),
    "trainable_params": ("66", "param_count"),
    "non_trainable_params": ("1", "param_count"),
    "layer_params": ("[41, 26]", "param_count"),
    "max_params": ("50", "param_count"),
    "input_range": ("[0, 1]", "overfit_batch"),  # violated by a model that works only on noise
}


def sound_model() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])


def noise_only_model() -> keras.Model:
    """The sound layers behind relu(-x): every input in [0, 1] becomes 0."""
    x = keras.Input((4,))
    hidden = layers.Dense(8, activation="relu")(keras.ops.relu(keras.ops.negative(x)))
    return keras.Model(x, layers.Dense(3, activation="softmax")(hidden))


def _points(text: str, model: keras.Model) -> dict[str, float]:
    assignment = parse_assignment(text)
    report: dict = {}
    _run_checks(model, assignment, report, "results")
    return {r["check"]: (assignment.points[r["check"]] if r["status"] == "passed" else 0.0) for r in report["results"]}


def _text(key: str, value: str | None) -> str:
    expect, points = BASE.split("[points]")
    lines = [line for line in expect.splitlines() if not line.startswith(f"{key} =")]
    return "\n".join(lines).format(extra="" if value is None else f"{key} = {value}") + "\n[points]" + points


def test_every_expect_key_is_enumerated():
    assert set(VIOLATIONS) == set(_TABLES["expect"])


@pytest.mark.parametrize("key", sorted(VIOLATIONS))
def test_a_model_violating_only_one_expect_key_loses_that_checks_points(key):
    value, check = VIOLATIONS[key]
    build = noise_only_model if key == "input_range" else sound_model
    keras.utils.set_random_seed(0)
    kept = _points(_text(key, None), build())
    assert sum(kept.values()) == 4, kept  # without the key: full marks
    keras.utils.set_random_seed(0)
    lost = _points(_text(key, value), build())
    assert kept[check] > 0 and lost[check] == 0, lost
    assert sum(lost.values()) < 4


CLASSES = """
[assignment]
name = "toy"
builder = "build_model"
[expect]
output_shape = [3]
output = "{output}"
[points]
output_shape = 1
loss_matches_output = 1
overfit_batch = 1
"""


def _classifier(activation: str | None, from_logits: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation=activation)])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    return model


def test_output_classes_grades_softmax_and_logits_students_alike():
    assert _points(CLASSES.format(output="classes"), _classifier("softmax", False)) == \
        {"output_shape": 1, "loss_matches_output": 1, "overfit_batch": 1}
    assert _points(CLASSES.format(output="classes"), _classifier(None, True)) == \
        {"output_shape": 1, "loss_matches_output": 1, "overfit_batch": 1}
    # the loss must still read the form the model gives
    assert _points(CLASSES.format(output="classes"), _classifier(None, False))["loss_matches_output"] == 0
    # and "probabilities" keeps taking points from logits
    assert _points(CLASSES.format(output="probabilities"), _classifier(None, True))["output_shape"] == 0
