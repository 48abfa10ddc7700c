"""Trial 20: false alarms and missed bugs found by running modelcheck on real-world-style Keras
models (an engineer who did not write it). Each test is a sound model that modelcheck failed, or a
broken one it passed."""

import keras
import pytest
from keras import layers

import modelcheck as mc


def _classifier(loss: keras.losses.Loss, classes: int = 5) -> keras.Model:
    model = keras.Sequential([keras.Input((10,)), layers.Dense(32, activation="relu"),
                              layers.Dense(classes, activation="softmax")])
    model.compile("adam", loss)
    return model


def test_loss_at_init_judges_a_loss_summed_over_the_batch_per_sample():
    """reduction="sum" adds up the batch's losses (64 samples: 117 where ln 5 = 1.6 per sample); an
    untrained model is as unsure as with the default mean, so it must pass, and a badly scaled one
    still fail."""
    keras.utils.set_random_seed(0)
    result = mc.check_loss_at_init(_classifier(keras.losses.SparseCategoricalCrossentropy(reduction="sum")))
    assert result.passed, result.message
    (row,) = result.details["outputs"]
    assert row["initial"] < 3 * row["expected"]

    keras.utils.set_random_seed(0)
    model = _classifier(keras.losses.SparseCategoricalCrossentropy(reduction="sum"))
    model.layers[-1].kernel.assign(model.layers[-1].kernel * 30.0)
    result = mc.check_loss_at_init(model)
    assert result.status == "failed"
    assert result.message.startswith("initial SparseCategoricalCrossentropy: expected about 1.609")
    assert 'the loss adds up 64 values (reduction="sum"), judged per value' in result.message


def test_loss_decrease_names_the_initial_loss_a_summed_loss_expects():
    keras.utils.set_random_seed(0)
    result = mc.check_loss_decrease(_classifier(keras.losses.SparseCategoricalCrossentropy(reduction="sum")))
    assert result.passed, result.message
    expected = result.details["expected_initial_loss"]
    assert 0.5 < result.details["initial_loss"] / expected < 2, (result.details["initial_loss"], expected)
