"""backend_parity: a model written with keras.ops gives the same outputs on every installed
backend; a custom layer that calls tf.* directly, or computes differently per backend, is named.

Each call starts one process per other backend (3-5 s each to import Keras and its backend)."""

from __future__ import annotations

import keras
import pytest
from keras import layers, ops

import modelcheck as mc
from modelcheck.core.errors import SpecError
from modelcheck.model import backend
from tests.backends import BACKEND
from tests.models import SeededNoise

OTHERS = [name for name in backend.installed() if name != BACKEND]
needs_two = pytest.mark.skipif(not OTHERS, reason=f"only one Keras backend is installed ({BACKEND})")


@keras.saving.register_keras_serializable(package="modelcheck_tests")
class TfSquare(layers.Layer):
    """Breaks Keras 3's promise: TensorFlow ops inside a layer run on TensorFlow only."""

    def call(self, x):
        import tensorflow as tf

        return tf.math.square(x)


@keras.saving.register_keras_serializable(package="modelcheck_tests")
class BackendScaled(layers.Layer):
    """Loads and runs everywhere, but computes something else on TensorFlow."""

    def call(self, x):
        return x * (2.0 if keras.backend.backend() == "tensorflow" else 1.0)


@keras.saving.register_keras_serializable(package="modelcheck_tests")
class WeightedSquares(keras.losses.Loss):
    """A loss of the user's own: saved with the model, so the other backends' processes need its module too."""

    def __init__(self, weight: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = weight

    def call(self, y_true, y_pred):
        return self.weight * ops.mean(ops.square(y_true - y_pred), axis=-1)

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


def with_layer(layer: layers.Layer) -> keras.Model:
    inputs = keras.Input((6,))
    hidden = layers.Dense(8, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, layers.Dense(3, activation="softmax", name="out")(layer(hidden)))


@needs_two
def test_a_models_own_registered_loss_is_imported_by_the_other_backends():
    """Only the layers' modules were imported: 'Could not locate class WeightedSquares' failed a sound model,
    with a hint blaming a layer that calls tf.* (trial 19)."""
    model = keras.Sequential([keras.Input((6,)), layers.Dense(2, name="out")])
    model.compile(optimizer="adam", loss=WeightedSquares(3.0))
    result = mc.check_backend_parity(model)
    assert result.passed, result.message


@needs_two
def test_a_model_of_keras_layers_gives_the_same_outputs_on_every_backend():
    model = keras.Sequential([keras.Input((5, 4)), layers.Conv1D(6, 3, activation="relu", name="conv"),
                              layers.BatchNormalization(name="norm"), layers.GlobalAveragePooling1D(name="pool"),
                              layers.Dense(3, activation="softmax", name="out")])
    result = mc.check_backend_parity(model)
    assert result.passed, result.message
    assert f"on {', '.join(OTHERS)} as on {BACKEND}, layer by layer (4 layer(s)" in result.message
    assert result.details["reference"] == BACKEND and set(result.details["max_difference"]) == set(OTHERS)


@needs_two
@pytest.mark.skipif(BACKEND != "tensorflow", reason="a layer calling tf.* can be built on TensorFlow only")
def test_a_layer_calling_tensorflow_directly_is_named():
    result = mc.check_backend_parity(with_layer(TfSquare(name="tf_square")))
    assert result.status == "failed"
    assert result.message.startswith(f"loading the model on {OTHERS[0]}: expected the model loads and runs as on "
                                     "tensorflow, received ")
    assert "at layer 'tf_square' (TfSquare); a layer that calls tf.* (or jax.numpy, torch) directly runs on one " \
           "backend only: write it with keras.ops" in result.message


@needs_two
def test_the_first_layer_that_computes_differently_is_named_with_the_tolerance():
    model = with_layer(BackendScaled(name="scaled"))
    result = mc.check_backend_parity(model, backends=[BACKEND, OTHERS[0]])
    assert result.status == "failed"
    assert result.message.startswith(f"outputs on {OTHERS[0]}: expected the outputs of {BACKEND} (within atol 0.0001 "
                                     "+ rtol 0.001 x |value|), received a largest difference of ")
    assert f"at layer 'scaled' (BackendScaled); the first layer where {OTHERS[0]} and {BACKEND} disagree" \
        in result.message
    assert result.details["culprit_layer"] == "scaled"


def test_one_backend_is_skipped_with_the_reason():
    result = mc.check_backend_parity(with_layer(layers.Identity(name="same")), backends=[BACKEND])
    assert result.status == "skipped"
    assert result.message.startswith(f"only one Keras backend to compare ({BACKEND}): install another")


def test_an_unknown_backend_is_the_callers_error():
    with pytest.raises(SpecError, match=r"backends must be among tensorflow, jax, torch; received \['mxnet'\]"):
        mc.check_backend_parity(with_layer(layers.Identity()), backends=["mxnet"])


@needs_two
def test_a_model_drawing_random_values_in_inference_is_skipped_naming_the_layer():
    result = mc.check_backend_parity(with_layer(SeededNoise(name="noise")))
    assert result.status == "skipped", result.message
    assert "layer 'noise' (SeededNoise) draws new random values" in result.message
