"""Trial 21: a course instructor's two new assignments (a small CNN on 32 x 32 x 3 images with
one-hot labels, an Embedding + LSTM sentiment classifier), graded as a class. Each test holds one
thing the trial found wrong in a grade or in what a student reads."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

import modelcheck as mc
from modelcheck.model.inputs import set_instructor_data

RNG = np.random.default_rng(21)
IMAGES = RNG.uniform(0, 1, (16, 6, 6, 1)).astype("float32")
ONE_HOT = np.eye(4, dtype="float32")[np.arange(16) % 4]


def _one_hot_model(*body: keras.layers.Layer) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 1)), *body])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    set_instructor_data(model, x=[IMAGES], y=[ONE_HOT])
    return model


@pytest.mark.parametrize("body, said, hint", [
    # the Flatten forgotten: one row of class scores per pixel
    ((layers.Dense(4, activation="softmax"),), "one row of class scores per one-hot row", "Flatten"),
    # 10 units for the 4 classes of the one-hot rows
    ((layers.Flatten(), layers.Dense(10, activation="softmax")), "the output has 10 units", "one unit per class (4)"),
], ids=["no_flatten", "wrong_units"])
def test_one_hot_labels_that_do_not_fit_the_output_are_described_as_one_hot_rows(body, said, hint):
    result = mc.run_checks(_one_hot_model(*body), checks=["gradient_flow"])[0]
    assert result.status == "error", result.message
    # was: "the labels, 32 class ids (shape (8, 4)) ... takes one class id per row", and for 10 units
    # "the output has 8 rows" (as many as the labels) with the Flatten hint
    assert "class ids" not in result.message, result.message
    assert "8 one-hot rows of 4 classes" in result.message and said in result.message, result.message
    assert hint in result.hint, result.hint
    assert "Keras' fit fails on them too" in result.message


def _cnn(*body: keras.layers.Layer) -> keras.Model:
    return keras.Sequential([keras.Input((8, 8, 3)), *body, layers.Flatten(), layers.Dense(4, activation="softmax")])


def _conv_then_pool(activation: str, pool: type = layers.MaxPooling2D) -> keras.Model:
    return _cnn(layers.Conv2D(6, 3, padding="same", activation=activation), pool(2))


@pytest.mark.parametrize("activation, after", [
    ("relu", layers.ReLU), ("relu", lambda: layers.Activation("relu")), ("tanh", lambda: layers.Activation("tanh"))])
def test_an_activation_after_a_max_pooling_equals_the_same_activation_before_it(activation, after):
    # max(f(a), f(b)) = f(max(a, b)) for an f that never decreases: Conv2D -> MaxPooling2D -> ReLU computes
    # Conv2D(relu) -> MaxPooling2D (was: "activation relu expected, none received" and "not in the reference")
    student = _cnn(layers.Conv2D(6, 3, padding="same"), layers.MaxPooling2D(), after())
    result = mc.check_matches_reference(student, reference=_conv_then_pool(activation))
    assert result.passed, result.message
    assert mc.check_matches_reference(_conv_then_pool(activation), reference=student).passed


@pytest.mark.parametrize("student, reference", [
    # swish dips below zero and rises again: it does not commute with a max
    (lambda: _cnn(layers.Conv2D(6, 3, padding="same"), layers.MaxPooling2D(), layers.Activation("swish")),
     lambda: _conv_then_pool("swish")),
    # an average of relus is not the relu of an average
    (lambda: _cnn(layers.Conv2D(6, 3, padding="same"), layers.AveragePooling2D(2), layers.ReLU()),
     lambda: _conv_then_pool("relu", layers.AveragePooling2D)),
    # the conv's relu already applied: the second one is not in the reference
    (lambda: _cnn(layers.Conv2D(6, 3, padding="same", activation="relu"), layers.MaxPooling2D(), layers.ReLU()),
     lambda: _conv_then_pool("relu")),
], ids=["swish", "average_pooling", "twice"])
def test_an_activation_that_does_not_commute_with_the_pooling_stays_a_difference(student, reference):
    assert not mc.check_matches_reference(student(), reference=reference()).passed


def test_a_sequence_output_for_one_label_per_sample_is_told_to_give_one_value_per_sample():
    # return_sequences=True before the sigmoid head: one prediction per token, one 0/1 label per review
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12,), dtype="int32"), layers.Embedding(50, 4),
                              layers.LSTM(4, return_sequences=True), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    set_instructor_data(model, x=[RNG.integers(1, 50, (16, 12))], y=[(np.arange(16) % 2).astype("float32")])
    result = mc.run_checks(model, checks=["gradient_flow"])[0]
    assert result.status == "error" and "Keras' fit fails on them too" in result.message, result.message
    # was: "for integer class ids use loss="sparse_categorical_crossentropy"; otherwise give the output the labels' shape"
    assert "sparse_categorical_crossentropy" not in result.hint, result.hint
    assert "one prediction per sample" in result.hint and "return_sequences=False" in result.hint, result.hint


MSE_ASSIGNMENT = """
[assignment]
name = "mse"
builder = "build_model"
[expect]
input_shape = [4]
output_shape = [3]
output = "classes"
[points]
loss_matches_output = 1
"""


def test_mse_on_a_softmax_tells_the_student_to_use_a_cross_entropy_first_in_words_without_the_grader():
    from modelcheck.grading.assignment import parse_assignment
    from modelcheck.grading.jobs import _run_checks

    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="mse")
    report: dict = {}
    _run_checks(model, parse_assignment(MSE_ASSIGNMENT), report, "results")
    message = report["results"][0]["message"]
    assert report["results"][0]["status"] == "failed", message
    # was: "the grader is not told that the targets stay within that range: use activation=None (a linear
    # output); for classification use a cross-entropy loss, or ask your instructor if they do"
    assert "grader" not in message, message
    assert message.index("cross-entropy") < message.index("activation=None"), message


def _sentiment(length: int | None) -> keras.Model:
    return keras.Sequential([keras.Input((length,), dtype="int32"), layers.Embedding(100, 4), layers.LSTM(4),
                             layers.Dense(1, activation="sigmoid")])


def test_an_input_of_any_length_takes_the_reference_sequences():
    # Input(shape=(None,)) reads the assignment's 50-token reviews (output_shape passes it: None is a wildcard);
    # was: "input 1: shape (50,) expected, (None,) received", two points lost for a correct model
    result = mc.check_matches_reference(_sentiment(None), reference=_sentiment(50))
    assert result.passed, result.message
    assert not mc.check_matches_reference(_sentiment(40), reference=_sentiment(50)).passed
