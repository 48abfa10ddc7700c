"""The recipe checks that need no training: batch independence, input dependence, loss at
initialisation and loss/output fit. Each passes on correct models and fails, naming the
culprit, on a model broken on purpose."""

from __future__ import annotations

import keras
import pytest
from keras import layers, ops

from modelcheck.checks.independence import check_batch_independence, check_input_dependence
from modelcheck.checks.init_loss import check_loss_at_init
from modelcheck.checks.loss_config import check_loss_matches_output, loss_misfit
from modelcheck.core.errors import SpecError
from tests.models import SeededNoise


def mlp(units: int = 4, activation: str | None = "softmax", **last: object) -> keras.Model:
    return keras.Sequential([keras.Input((6,)), layers.Dense(16, activation="relu"), layers.BatchNormalization(),
                             layers.Dropout(0.3), layers.Dense(units, activation=activation, name="out", **last)])


def compiled(loss: object, units: int = 4, activation: str | None = "softmax") -> keras.Model:
    model = mlp(units, activation)
    model.compile(loss=loss, optimizer="adam")
    return model


def token_model(mix: bool = False) -> keras.Model:
    steps = [keras.Input((6,), dtype="int32"), layers.Embedding(50, 4, name="embed")]
    if mix:
        steps.append(layers.Lambda(lambda t: t - ops.mean(t, axis=0), name="batch_centre"))
    steps += [layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")]
    return keras.Sequential(steps)


def time_major_mixup() -> keras.Model:
    """A (batch, time, features) tensor transposed to time-major and reshaped back as if
    nothing happened: every row now holds pieces of several samples."""
    inputs = keras.Input((4, 3))
    hidden = layers.Dense(5, name="project")(inputs)
    mixed = layers.Lambda(lambda t: ops.reshape(ops.transpose(t, (1, 0, 2)), (-1, 4, 5)), name="time_major",
                          output_shape=(4, 5))(hidden)  # output_shape: JAX cannot infer a reshape of an unknown batch
    return keras.Model(inputs, layers.Dense(2, name="head")(layers.Flatten()(mixed)))


def two_inputs(ignore_second: bool, noisy: bool = False) -> keras.Model:
    wide = keras.Input((3,), name="wide")
    deep = keras.Input((2,), name="deep")
    merged = layers.concatenate([wide, wide] if ignore_second else [wide, deep])
    if noisy:
        merged = SeededNoise(name="noise")(merged)
    return keras.Model([wide, deep], layers.Dense(1)(merged))


# batch independence


@pytest.mark.parametrize("build", [mlp, token_model, lambda: two_inputs(False)],
                         ids=["mlp_bn_dropout", "embedding", "two_inputs"])
def test_batch_independence_passes_and_says_bn_runs_in_inference(build):
    result = check_batch_independence(build())
    assert result.passed, result.message
    assert "BatchNormalization" in result.details["mode"]


def test_batch_independence_names_the_transpose_that_mixes_samples():
    result = check_batch_independence(time_major_mixup())
    assert result.status == "failed"
    assert "at layer 'time_major' (Lambda); samples of a batch influence each other; it is the first layer" in result.message
    assert result.details["culprit_layer"] == "time_major"


def test_batch_independence_catches_mixing_behind_an_integer_input():
    result = check_batch_independence(token_model(mix=True))
    assert result.status == "failed"
    assert "'batch_centre'" in result.message
    assert "redrawing" in next(iter(result.details["methods"].values()))


def test_batch_independence_names_a_reshape_that_changes_the_batch_size():
    model = keras.Sequential([keras.Input((4, 2)), layers.Lambda(lambda t: ops.reshape(t, (-1, 4)), name="flat",
                                                                output_shape=(4,)),
                              layers.Dense(1)])
    result = check_batch_independence(model)
    assert result.status == "failed"
    assert result.message.startswith("rows in the output: expected 4 (one per sample), received 8, at layer 'flat' (Lambda)")
    assert "'flat'" in result.message


def test_batch_independence_rejects_a_batch_of_one():
    assert check_batch_independence(mlp(), batch_size=2).passed  # the smallest batch that can mix
    with pytest.raises(SpecError, match="batch_size >= 2"):
        check_batch_independence(mlp(), batch_size=1)


# input dependence


def test_input_dependence_passes_when_both_inputs_matter():
    result = check_input_dependence(two_inputs(ignore_second=False))
    assert result.passed, result.message


def test_input_dependence_names_the_ignored_input():
    result = check_input_dependence(two_inputs(ignore_second=True))
    assert result.status == "failed"
    assert "input 'deep' (shape (None, 2))" in result.message
    assert result.received["ignored_inputs"] == ["deep"]


def test_input_dependence_fails_a_model_that_ignores_its_only_input():
    model = keras.Sequential([keras.Input((5,)), layers.Dense(4, activation="relu", kernel_initializer="zeros"),
                              layers.Dense(1)])
    result = check_input_dependence(model)
    assert result.status == "failed"
    assert "received the same output whatever the input" in result.message


def test_the_comparing_checks_see_the_same_draws_of_a_model_drawing_random_values_in_inference():
    # each compared call drew new noise: sample 0's output changed with the other samples', and
    # an ignored input seemed to matter
    assert check_batch_independence(two_inputs(ignore_second=False, noisy=True)).passed
    assert check_input_dependence(two_inputs(ignore_second=False, noisy=True)).passed
    result = check_input_dependence(two_inputs(ignore_second=True, noisy=True))
    assert result.status == "failed", result.message
    assert result.received["ignored_inputs"] == ["deep"]


def test_input_dependence_passes_on_token_ids():
    assert check_input_dependence(token_model()).passed


# loss at initialisation


@pytest.mark.parametrize("model", [
    lambda: mlp(10),
    lambda: mlp(1, "sigmoid"),
    lambda: mlp(1, None),
    lambda: compiled(keras.losses.SparseCategoricalCrossentropy(from_logits=True), 10, None),
], ids=["softmax_10", "sigmoid", "regression", "logits"])
def test_loss_at_init_passes_on_well_initialised_models(model):
    result = check_loss_at_init(model())
    assert result.passed, result.message


def test_loss_at_init_expects_ln_of_the_number_of_classes():
    result = check_loss_at_init(mlp(10))
    (row,) = result.details["outputs"]
    assert row["expected"] == pytest.approx(2.302585, abs=1e-5)
    assert "ln(10)" in row["why"]


def test_loss_at_init_fails_a_badly_scaled_last_layer():
    model = mlp(10, kernel_initializer=keras.initializers.RandomNormal(stddev=5.0))
    result = check_loss_at_init(model)
    assert result.status == "failed"
    assert result.message.startswith("initial sparse_categorical_crossentropy: expected about 2.303")
    assert "badly scaled" in result.hint


def test_loss_at_init_fails_cross_entropy_on_a_linear_output():
    # two classes: the loss lands 5-8x above ln 2 on every backend (with ten it is 2.7-3.7x
    # ln 10 depending on the backend's random initial weights, astride the factor 3)
    result = check_loss_at_init(compiled("sparse_categorical_crossentropy", 2, None))
    assert result.status == "failed"
    assert "does not fit the output" in result.hint


def test_loss_at_init_skips_a_loss_without_a_known_value():
    result = check_loss_at_init(compiled("huber", 1, None))
    assert result.status == "skipped"
    assert "huber" in result.message


def test_loss_at_init_rejects_a_tolerance_that_is_not_a_factor():
    with pytest.raises(SpecError, match="tolerance"):
        check_loss_at_init(mlp(), tolerance=0.5)


# loss matches output


@pytest.mark.parametrize("loss, units, activation", [
    ("sparse_categorical_crossentropy", 10, "softmax"),
    (keras.losses.CategoricalCrossentropy(from_logits=True), 10, None),
    ("binary_crossentropy", 1, "sigmoid"),
    ("binary_crossentropy", 5, "sigmoid"),
    ("mse", 1, None),
])
def test_loss_matches_output_passes_on_fitting_pairs(loss, units, activation):
    result = check_loss_matches_output(compiled(loss, units, activation))
    assert result.passed, result.message


@pytest.mark.parametrize("loss, units, activation, words", [
    (keras.losses.SparseCategoricalCrossentropy(from_logits=True), 10, "softmax",
     "received sparse_categorical_crossentropy compiled with from_logits=True, at output 'out'"),
    ("categorical_crossentropy", 10, "sigmoid", "received sigmoid, at output 'out'; use activation=\"softmax\""),
    ("sparse_categorical_crossentropy", 10, None, "received 'linear', at output 'out'"),
    ("categorical_crossentropy", 1, "sigmoid", "received 1 unit, at output 'out'"),
    ("binary_crossentropy", 10, "softmax", "a 10-way softmax"),
    ("binary_crossentropy", 1, "softmax", "softmax over a single unit"),
    ("binary_crossentropy", 1, None, "add activation=\"sigmoid\""),
    ("mse", 1, "relu", "can only predict values of 0 or more"),
    ("mse", 1, "sigmoid", "can only predict values between 0 and 1"),
], ids=["from_logits_on_softmax", "cce_on_sigmoid", "scce_on_linear", "cce_one_unit", "bce_on_10_softmax",
        "softmax_one_unit", "bce_on_linear", "relu_regression", "sigmoid_regression"])
def test_loss_matches_output_names_each_mistake(loss, units, activation, words):
    result = check_loss_matches_output(compiled(loss, units, activation))
    assert result.status == "failed"
    assert words in result.message


def test_loss_misfit_is_the_checks_first_finding_and_leaves_the_generators_alone():
    """gradient_flow names a misfit loss through loss_misfit: the same words as the check, read
    without reseeding the global generators in the middle of another check's draws."""
    import numpy as np

    bad, good = compiled("categorical_crossentropy", 10, "sigmoid"), compiled("sparse_categorical_crossentropy", 10)
    np.random.seed(3)
    expected_draw = np.random.rand()
    np.random.seed(3)
    misfit = loss_misfit(bad)
    assert np.random.rand() == expected_draw
    assert misfit == check_loss_matches_output(bad).message.splitlines()[0]
    assert "received sigmoid, at output 'out'" in misfit
    assert loss_misfit(good) is None
    assert loss_misfit(mlp()) is None  # not compiled: nothing to name


def test_loss_matches_output_accepts_a_sigmoid_regression_when_targets_fit():
    assert check_loss_matches_output(compiled("mse", 1, "sigmoid"), target_range=(0.0, 1.0)).passed
    assert not check_loss_matches_output(compiled("mse", 1, "sigmoid"), target_range=(-1.0, 1.0)).passed


def test_loss_matches_output_accepts_a_non_negative_output_for_a_loss_of_non_negative_targets():
    # MSLE takes log(1 + y): its targets are 0 or more by definition, so a ReLU or softplus output fits
    for loss in ("msle", "mean_squared_logarithmic_error", keras.losses.MeanSquaredLogarithmicError()):
        for activation in ("relu", "softplus"):
            result = check_loss_matches_output(compiled(loss, 1, activation))
            assert result.passed, result.message
    assert "can only predict values between 0 and 1" in check_loss_matches_output(compiled("msle", 1, "sigmoid")).message
    assert "can only predict values of 0 or more" in check_loss_matches_output(compiled("mse", 1, "relu")).message


def test_loss_matches_output_skips_an_uncompiled_model():
    result = check_loss_matches_output(mlp())
    assert result.status == "skipped"
    assert "not compiled" in result.message


def test_loss_matches_output_judges_each_output_of_a_multi_output_model():
    inputs = keras.Input((4,))
    hidden = layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, [layers.Dense(1, name="price")(hidden),
                                 layers.Dense(3, activation="softmax", name="kind")(hidden)])
    model.compile(loss={"price": "mse", "kind": "binary_crossentropy"}, optimizer="adam")
    result = check_loss_matches_output(model)
    assert result.status == "failed"
    assert "for a 3-way softmax, received binary_crossentropy, at output 'kind'" in result.message
    assert "price" not in result.message
