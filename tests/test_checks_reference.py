"""matches_reference: equivalent forms are equal, names never matter, each difference is worded
for a student; and instructor samples / input ranges reach every check that runs the model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from modelcheck import check_matches_reference
from modelcheck.checks.common import prepare_batch
from modelcheck.model.inputs import set_instructor_data, synthetic_inputs
from modelcheck.snapshot.serialize import architecture


def reference() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(30, activation="relu"),
                             layers.Dense(10, activation="relu"), layers.Dense(5, activation="softmax")])


def functional_separate_activations() -> keras.Model:
    x = keras.Input((28, 28), name="pixels")
    h = layers.Dense(30, name="hidden")(layers.Flatten()(x))
    h = layers.Dense(10)(layers.ReLU()(h))
    return keras.Model(x, layers.Softmax()(layers.Dense(5)(layers.Activation("relu")(h))))


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flat, self.a = layers.Flatten(), layers.Dense(30, activation="relu")
        self.b, self.out = layers.Dense(10, activation="relu"), layers.Dense(5, activation="softmax")

    def call(self, x):
        return self.out(self.b(self.a(self.flat(x))))


def subclassed() -> keras.Model:
    model = Subclassed()
    model.build((None, 28, 28))
    return model


@pytest.mark.parametrize("builder", [reference, functional_separate_activations, subclassed])
def test_equivalent_forms_match_the_reference(builder):
    result = check_matches_reference(builder(), reference=reference)
    assert result.passed, result.message


@pytest.mark.parametrize(("layers_", "expected"), [
    ([layers.Flatten(), layers.Dense(30), layers.Dense(10, activation="relu"), layers.Dense(5, activation="softmax")],
     "layer 2 (Dense 30): activation relu expected, none received"),
    ([layers.Flatten(), layers.Dense(31, activation="relu"), layers.Dense(10, activation="relu"),
      layers.Dense(5, activation="softmax")], "layer 2 (Dense 31): units 30 expected, 31 received"),
    ([layers.Flatten(), layers.Dense(30, activation="relu"), layers.Dense(5, activation="softmax")],
     "layer 3: Dense 10 expected (as in the reference solution), missing"),
    ([layers.Flatten(), layers.Dense(30, activation="relu"), layers.Dropout(0.5), layers.Dense(10, activation="relu"),
      layers.Dense(5, activation="softmax")], "layer 3 (Dropout 0.5): not in the reference solution"),
])
def test_each_difference_is_worded_for_a_student(layers_, expected):
    model = keras.Sequential([keras.Input((28, 28)), *layers_])
    result = check_matches_reference(model, reference=architecture(reference()))
    assert result.status == "failed"
    assert result.message.splitlines()[0].startswith("architecture: expected the reference solution's, received ")
    assert expected in result.message.splitlines()[1:]


def test_allowed_extra_layers_and_ignored_keys_pass():
    model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(),
                              layers.Dense(30, activation="relu", kernel_initializer="he_normal"), layers.Dropout(0.3),
                              layers.Dense(10, activation="relu"), layers.Dense(5, activation="softmax")])
    assert not check_matches_reference(model, reference=reference).passed
    assert check_matches_reference(model, reference=reference, allow_extra=["Dropout"],
                                   ignore=["initializers"]).passed


def test_connections_count_a_skip_that_the_reference_lacks():
    def chain(skip: bool) -> keras.Model:
        x = keras.Input((8,))
        a = layers.Dense(8, activation="relu")(x)
        b = layers.Dense(8, activation="relu")(a)
        return keras.Model(x, layers.Dense(2)(layers.Add()([b, a if skip else b])))

    result = check_matches_reference(chain(True), reference=chain(False))
    assert "layer 3 (Add): reads layer 2 (Dense 8), layer 2 (Dense 8) expected, layer 2 (Dense 8), " \
           "layer 1 (Dense 8) received" in result.message


def test_without_a_reference_the_check_is_skipped():
    assert check_matches_reference(reference()).status == "skipped"


def test_instructor_samples_and_labels_replace_synthetic_batches():
    model = reference()
    x = np.random.default_rng(0).random((12, 28, 28)).astype("float32")
    y = np.arange(12) % 5
    set_instructor_data(model, x=[x], y=[y])
    assert np.array_equal(synthetic_inputs(model, 8, 0), x[:8])
    assert not np.array_equal(synthetic_inputs(model, 8, 1), synthetic_inputs(model, 8, 0))
    batch = prepare_batch("loss_decrease", model, batch_size=8, seed=0, fittable=True)
    assert np.array_equal(batch.x, x[:8]) and list(batch.targets[0].reshape(-1)) == list(y[:8])


def test_an_input_range_bounds_synthetic_inputs():
    model = reference()
    set_instructor_data(model, input_range=[0, 1])
    x = synthetic_inputs(model, 16, 0)
    assert x.min() >= 0 and x.max() <= 1 and x.std() > 0.2
