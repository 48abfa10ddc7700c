"""The recipe checks about the model's state: trainable variables change, values stay finite,
the model survives a save/load round trip. Each passes on correct models and names the
culprit on a model broken on purpose."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers, ops

from modelcheck.checks.finite import check_finite
from modelcheck.checks.saving import check_save_load, serialisation_problems
from modelcheck.checks.trainable import check_trainable_changes



def classifier(name: str = "hidden") -> keras.Model:
    return keras.Sequential([keras.Input((6,)), layers.Dense(16, activation="relu", name=name),
                             layers.BatchNormalization(name="norm"), layers.Dropout(0.2),
                             layers.Dense(4, activation="softmax", name="out")])


def values(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v).copy() for v in model.variables]


def set_nan(variable: keras.Variable) -> None:
    value = keras.ops.convert_to_numpy(variable).copy()
    value.flat[0] = np.nan
    variable.assign(value)


# trainable changes


def test_trainable_changes_passes_lets_bn_statistics_move_and_restores_weights():
    model = classifier()
    before = values(model)
    result = check_trainable_changes(model)
    assert result.passed, result.message
    assert {"norm/moving_mean", "norm/moving_variance"} <= set(result.details["statistics_changed"])
    assert all(np.array_equal(a, b) for a, b in zip(before, values(model)))


def test_trainable_changes_names_a_layer_frozen_by_mistake():
    model = classifier()
    model.get_layer("hidden").trainable = False
    result = check_trainable_changes(model)
    assert result.status == "failed"
    assert "received frozen (trainable=False), at layer 'hidden' (112 weights)" in result.message


def test_trainable_changes_accepts_a_frozen_layer_on_request_if_it_stays_put():
    model = classifier()
    model.get_layer("hidden").trainable = False
    assert check_trainable_changes(model, allow_frozen=True).passed


class DriftsWhenTraining(layers.Layer):
    """A layer that changes its own weight in training mode, frozen or not."""

    def build(self, shape):
        self.scale = self.add_weight(shape=(shape[-1],), initializer="ones", name="scale")

    def call(self, x, training=None):
        if training:
            self.scale.assign(self.scale * 1.01)
        return x * self.scale


def test_trainable_changes_names_a_frozen_variable_that_changed():
    model = keras.Sequential([keras.Input((6,)), DriftsWhenTraining(name="drift"),
                              layers.Dense(4, activation="softmax")])
    model.get_layer("drift").trainable = False
    result = check_trainable_changes(model, allow_frozen=True)
    assert result.status == "failed"
    assert "at variable drift/scale of the frozen layer 'drift'" in result.message


def test_trainable_changes_names_variables_cut_off_from_the_loss():
    inputs = keras.Input((6,))
    hidden = layers.Dense(16, activation="relu", name="hidden")(inputs)
    cut = layers.Lambda(lambda t: ops.stop_gradient(t), name="cut")(hidden)
    model = keras.Model(inputs, layers.Dense(4, activation="softmax", name="out")(cut))
    result = check_trainable_changes(model)
    assert result.status == "failed"
    assert result.message.startswith("trainable variable: expected a change, received no change after 5 training steps, at variables hidden/kernel, hidden/bias")
    assert "not connected to the loss" in result.message
    assert result.received["unchanged"] == ["hidden/kernel", "hidden/bias"]


# finite


def test_trainable_changes_confirms_an_unchanged_bias_on_a_second_batch():
    """Under MAE the output bias's gradient is the mean of the residuals' signs: zero on a batch where
    4 of 8 samples lie above their targets, and a few small steps keep it so (5 of 20 fresh MAE
    regressors failed). A second batch of odd size moves it; a dead layer stays unchanged on both."""
    from modelcheck.checks.common import prepare_batch
    from tests.test_checks_gradients import _mae_regressor_balanced_on_the_first_batch

    model = keras.Sequential([keras.Input((10,)), layers.Dense(1, name="out")])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 15.0, (10, 1)).astype("float32"), np.zeros(1, "float32")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mae")
    _, targets, _, predictions = prepare_batch("trainable_changes", model, batch_size=8, seed=0)
    residuals = np.sort((predictions[0] - targets[0]).ravel())  # far apart: 5 small steps carry none across 0
    model.set_weights([model.get_weights()[0], np.array([-(residuals[3] + residuals[4]) / 2], "float32")])
    result = check_trainable_changes(model)
    assert result.passed, result.message
    assert any(note.startswith("out/bias did not change on the first batch only") for note in result.details["notes"])
    dead = _mae_regressor_balanced_on_the_first_batch()
    weights = dead.get_weights()
    weights[1] = np.full(16, -100.0, "float32")  # every hidden ReLU dead
    dead.set_weights(weights)
    failed = check_trainable_changes(dead)
    assert not failed.passed and "no change after 5 training steps, at variables hidden/kernel, hidden/bias" in failed.message


def test_finite_passes_layer_by_layer():
    result = check_finite(classifier())
    assert result.passed, result.message
    assert result.details["layer_by_layer"] is True
    assert result.details["first_nonfinite_layer"] is None


def test_finite_names_an_injected_nan_weight_and_the_layer_it_poisons():
    model = classifier()
    set_nan(model.get_layer("out").kernel)
    result = check_finite(model)
    assert result.status == "failed"
    assert result.message.startswith("weights: expected finite values, received 1 NaN among 64 values, at weight out/kernel")
    assert "the first layer whose output turns NaN/Inf is 'out'" in result.message


def test_finite_names_the_first_layer_that_outputs_nan():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, name="project"),
                              layers.Lambda(lambda t: ops.log(t), name="log"), layers.Dense(1, name="head")])
    result = check_finite(model)
    assert result.status == "failed"
    assert "at layer 'log' (Lambda); the first layer to output NaN/Inf" in result.message
    assert result.details["first_nonfinite_layer"] == "log"


def test_finite_names_variables_with_a_nan_gradient():
    # sqrt at exactly 0 (a distance of a vector from itself): an infinite derivative times a finite
    # one is NaN on every backend (a ReLU's zeros before sqrt give NaN on TensorFlow only: JAX and
    # PyTorch mask its gradient with a select)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, name="project"),
                              layers.Lambda(lambda t: ops.sqrt(t - t), name="root"), layers.Dense(1, name="head")])
    result = check_finite(model)
    assert result.status == "failed"
    assert "received NaN/Inf values, at variable(s) project/kernel, project/bias" in result.message
    assert "sqrt" in result.hint


def with_backbone(log: bool = False) -> keras.Model:
    """A task model over a functional backbone built on inputs of its own (as keras.applications
    builds theirs) and called on the task model's input."""
    inner = keras.Input((6,))
    hidden = layers.Dense(8, name="project")(inner)
    if log:
        hidden = layers.Lambda(lambda t: ops.log(t), name="log")(hidden)
    backbone = keras.Model(inner, hidden, name="backbone")
    outer = keras.Input((6,))
    return keras.Model(outer, layers.Dense(2, name="head")(backbone(outer)))


def test_finite_probes_a_nested_backbone_in_the_outer_graph():
    # a nested model's own `output` belongs to its inner graph: a probe built from it raised
    # "Output with path `0` is not connected to `inputs`", reported as the user's error
    result = check_finite(with_backbone())
    assert result.passed, result.message
    assert result.details["layer_by_layer"] is True
    broken = check_finite(with_backbone(log=True))
    assert broken.status == "failed" and broken.details["first_nonfinite_layer"] == "backbone"
    assert "at layer 'backbone' (Functional)" in broken.message


class LogOutput(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3)

    def call(self, x):
        return ops.log(self.dense(x))


def test_finite_falls_back_to_outputs_for_a_subclassed_model():
    model = LogOutput()
    model(np.zeros((1, 6), "float32"))
    result = check_finite(model)
    assert result.status == "failed"
    assert "not probed layer by layer" in result.message


# save and load


class Scale(layers.Layer):
    """A custom layer with a constructor argument, never registered."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor


@keras.saving.register_keras_serializable(package="modelcheck_tests")
class ForgetfulScale(Scale):
    """Registered, but its get_config leaves out `factor`."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(factor, **kwargs)

    def get_config(self):
        return super().get_config()


@keras.saving.register_keras_serializable(package="modelcheck_tests")
class GoodScale(Scale):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(factor, **kwargs)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}



@keras.saving.register_keras_serializable(package="modelcheck_tests")
class MonteCarloDropout(layers.Dropout):
    """Dropout kept on in inference: each call draws a new mask."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


@keras.saving.register_keras_serializable(package="modelcheck_tests")
class NoisyForgetfulScale(ForgetfulScale):
    """Multiplies and adds noise in inference too; its get_config leaves out `factor`."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(factor, **kwargs)
        self.seed_generator = keras.random.SeedGenerator(7)

    def call(self, x):
        return super().call(x) + 0.1 * keras.random.normal(ops.shape(x), seed=self.seed_generator)

class NoConfigModel(keras.Model):
    def __init__(self, units):
        super().__init__()
        self.units = units
        self.dense = layers.Dense(units)

    def call(self, x):
        return self.dense(x)


def with_layer(layer: layers.Layer) -> keras.Model:
    inputs = keras.Input((6,))
    return keras.Model(inputs, layers.Dense(2, name="head")(layer(inputs)))


def test_save_load_passes_on_a_compiled_model_with_bn_and_dropout():
    model = classifier()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    result = check_save_load(model)
    assert result.passed, result.message
    assert result.details["max_difference"] == 0.0


def test_save_load_passes_on_a_registered_custom_layer_with_get_config():
    assert check_save_load(with_layer(GoodScale(3.0, name="scale"))).passed


def test_save_load_says_to_register_a_custom_layer():
    result = check_save_load(with_layer(Scale(3.0, name="scale")))
    assert result.status == "failed"
    assert "the custom class Scale is not registered" in result.message
    assert "@keras.saving.register_keras_serializable()" in result.message


def test_save_load_says_to_add_get_config_to_a_subclassed_model():
    model = NoConfigModel(3)
    model(np.zeros((2, 6), "float32"))
    result = check_save_load(model)
    assert result.status == "failed"
    assert "the custom class NoConfigModel (layer" in result.message
    assert "has no working get_config: add `def get_config(self)" in result.message


def test_save_load_names_the_layer_whose_config_loses_an_argument():
    result = check_save_load(with_layer(ForgetfulScale(3.0, name="scale")))
    assert result.status == "failed"
    assert "at layer 'scale' (ForgetfulScale); the first layer whose output differs" in result.message
    assert "leaves out a constructor argument" in result.message



def test_save_load_passes_a_model_drawing_random_values_in_inference():
    # the loaded Dropout draws its own seed at construction: its draws are set to the original's
    result = check_save_load(with_layer(MonteCarloDropout(0.3, name="mc_dropout")))
    if keras.backend.backend() == "torch":  # torch's own generator draws for a Dropout given no seed
        assert result.status == "skipped" and "cannot put back" in result.message, result.message
        result = check_save_load(with_layer(MonteCarloDropout(0.3, seed=5, name="mc_dropout")))
    assert result.passed, result.message
    assert result.details["max_difference"] == 0.0


def test_save_load_still_names_a_random_layer_whose_config_loses_an_argument():
    result = check_save_load(with_layer(NoisyForgetfulScale(3.0, name="scale")))
    assert result.status == "failed", result.message
    assert "at layer 'scale' (NoisyForgetfulScale); the first layer whose output differs" in result.message

def test_save_load_explains_that_safe_mode_refuses_a_python_lambda():
    result = check_save_load(with_layer(layers.Lambda(lambda t: t * 2, name="double")))
    assert result.status == "failed"
    assert "layer 'double' is a Lambda holding a Python lambda" in result.message


def test_serialisation_problems_accepts_custom_objects_given_to_load_model():
    model = with_layer(Scale(3.0, name="scale"))
    assert serialisation_problems(model)
    assert serialisation_problems(model, {"Scale": Scale}) == []
    assert check_save_load(model, custom_objects={"Scale": Scale}).passed


@pytest.mark.parametrize("check", [check_trainable_changes, check_finite, check_save_load])
def test_state_checks_report_an_error_for_a_builder_that_returns_none(check):
    result = check(lambda: None)
    assert result.status == "error"
    assert "returned None" in result.message
