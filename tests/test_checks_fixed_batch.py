"""Models whose inputs declare a fixed batch size (stateful RNNs need one): every check feeds
batches of exactly that size, and every call starts from the state of a fresh model."""

import keras
import numpy as np
import pytest
from keras import layers, ops

import modelcheck as mc
from modelcheck.core.spec import ModelSpec
from modelcheck.model.inputs import fixed_batch_size, synthetic_inputs
from modelcheck.model.state import stateful_layers


def stateful_lstm(**head: object) -> keras.Model:
    """The stateful LSTM of Keras' docs: a fixed batch of 16 sequences of 10 steps."""
    inputs = keras.Input(batch_shape=(16, 10, 4))
    hidden = layers.LSTM(8, stateful=True)(inputs)
    model = keras.Model(inputs, layers.Dense(1, name="head", **head)(hidden))
    model.compile(optimizer="adam", loss="mse")
    return model


def stateful_gru() -> keras.Model:
    """A flat input of a fixed batch of 5, read as a sequence by a stateful GRU."""
    inputs = keras.Input((8,), batch_size=5)
    hidden = layers.GRU(6, stateful=True)(layers.Reshape((8, 1))(inputs))
    model = keras.Model(inputs, layers.Dense(1)(hidden))
    model.compile(optimizer="adam", loss="mse")
    return model


def stateful_bidirectional() -> keras.Model:
    inputs = keras.Input(batch_shape=(8, 6, 3))
    hidden = layers.Bidirectional(layers.LSTM(4, stateful=True))(inputs)
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(hidden))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def seeded(builder, seed: int = 0):
    def build() -> keras.Model:
        keras.utils.set_random_seed(seed)
        return builder()

    return build


@pytest.mark.parametrize("builder", [stateful_lstm, stateful_gru])
def test_a_sound_stateful_model_on_a_fixed_batch_passes_every_default_check(builder) -> None:
    results = mc.run_spec(ModelSpec(id=builder.__name__, builder=seeded(builder)))
    assert {r.check for r in results} >= {"output_shape", "gradient_flow", "overfit_batch", "loss_decrease", "finite",
                                         "batch_independence", "input_dependence"}
    assert all(r.passed for r in results), [(r.check, r.status, r.message) for r in results if not r.passed]


def test_every_batch_has_the_declared_size_whatever_a_check_asks_for() -> None:
    model = stateful_lstm()
    assert fixed_batch_size(model) == 16
    assert synthetic_inputs(model, 4, seed=0).shape == (16, 10, 4)
    assert fixed_batch_size(keras.Sequential([keras.Input((3,)), layers.Dense(1)])) is None
    a, b = keras.Input(batch_shape=(6, 5, 2)), keras.Input((3,), batch_size=6)
    two = keras.Model([a, b], layers.Dense(1)(layers.Concatenate()([layers.LSTM(2, stateful=True)(a), b])))
    assert [x.shape[0] for x in synthetic_inputs(two, 32, seed=0)] == [6, 6]


def test_the_details_report_the_batch_actually_fed() -> None:
    model = stateful_lstm()
    assert mc.check_output_shape(model, (None, 1), batch_size=4).details["batch_size"] == 16
    assert mc.check_gradient_flow(model, batch_size=3).details["batch_size"] == 16
    assert mc.check_finite(model).details["batch_size"] == 16
    assert mc.check_input_dependence(model).details["batch_size"] == 16


def test_output_rows_are_compared_with_the_rows_fed() -> None:
    inputs = keras.Input((8,), batch_size=6)
    merged = layers.Lambda(lambda t: ops.reshape(t, (-1, 4)), output_shape=(4,))(inputs)  # 6 samples -> 12 rows
    result = mc.check_output_shape(keras.Model(inputs, layers.Dense(1)(merged)), batch_size=4)
    assert result.status == "failed"
    assert result.message.startswith("rows in the output: expected 6 (one per input sample), received 12")


def test_batch_independence_on_a_fixed_batch_of_one_is_skipped_with_the_reason() -> None:
    inputs = keras.Input((8,), batch_size=1)
    result = mc.check_batch_independence(keras.Model(inputs, layers.Dense(2)(inputs)))
    assert result.status == "skipped"
    assert "batches of exactly 1 sample" in result.message and "at least 2" in result.message


def test_every_call_starts_from_a_fresh_state() -> None:
    """Outputs compared across calls (before and after loading, one input redrawn) agree only
    when each call starts from the same state; the layer's state is a fresh model's afterwards."""
    model = stateful_bidirectional()
    for check in (mc.check_save_load, mc.check_input_dependence, mc.check_batch_independence, mc.check_finite):
        result = check(model)
        assert result.passed, result.message
    assert len(stateful_layers(model)) == 2  # the forward and backward LSTM inside the Bidirectional
    x = synthetic_inputs(model, 8, seed=0)
    model(x)  # the user's own call moves the state on; the checks start from zeros nonetheless
    result = mc.check_save_load(model)
    assert result.passed, result.message


def test_a_stateful_model_with_a_nan_kernel_still_fails() -> None:
    model = stateful_lstm()
    kernel = model.get_layer("head").kernel
    kernel.assign(np.full(tuple(kernel.shape), np.nan, "float32"))
    results = {r.check: r for r in mc.run_spec(ModelSpec(id="nan", builder=lambda: model))}
    assert results["finite"].status == "failed"
    assert "weight head/kernel" in results["finite"].message
    assert results["output_shape"].status == "failed"
    assert results["overfit_batch"].status == "failed"


def test_gradient_flow_still_catches_a_dead_output_on_a_fixed_batch() -> None:
    """Every unit of the ReLU output is dead: no gradient reaches any weight, on the first batch
    or the second drawn to confirm it (also of 16 samples)."""
    model = stateful_lstm(activation="relu", bias_initializer=keras.initializers.Constant(-100.0))
    result = mc.check_gradient_flow(model)
    assert result.status == "failed"
    assert result.message.startswith("gradient: expected a finite, non-zero gradient, received an all-zero gradient")
    assert result.details["batch_size"] == 16 and "zero_on_first_batch_only" not in result.details
