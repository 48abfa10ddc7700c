import modelcheck as mc
from tests import models


def test_passes_and_reports_norms_per_variable():
    result = mc.check_gradient_flow(models.fashion_mlp())
    assert result.passed, result.message
    assert len(result.details["grad_norms"]) == 6
    assert all(v > 0 for v in result.details["grad_norms"].values())


def test_frozen_layer_fails_unless_allowed():
    model = models.frozen_hidden()
    result = mc.check_gradient_flow(model)
    assert not result.passed
    assert f"'{model.layers[0].name}'" in result.message and "received frozen (trainable=False)" in result.message
    assert mc.check_gradient_flow(model, allow_frozen=True).passed


def test_stop_gradient_in_lambda_names_the_cut_variables():
    result = mc.check_gradient_flow(models.stop_gradient_lambda())
    assert not result.passed
    assert "received no gradient, at variable hidden/kernel" in result.message
    assert "stop_gradient" in result.message


def test_zero_initialised_hidden_layers():
    result = mc.check_gradient_flow(models.zero_initialised())
    assert not result.passed
    assert "received an all-zero gradient" in result.message
    assert "'hidden_1', 'hidden_2' start with all-zero weights" in result.message


def test_nan_weights_fail():
    result = mc.check_gradient_flow(models.nan_weights())
    assert not result.passed and "NaN" in result.message


def test_multi_output_model_uses_a_loss_per_output():
    result = mc.check_gradient_flow(models.two_heads())
    assert result.passed, result.message
    assert "mean_squared_error" in result.details["loss_function"]
    assert "sparse_categorical_crossentropy" in result.details["loss_function"]


def test_compiled_loss_is_used():
    model = models.small_classifier()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    result = mc.check_gradient_flow(model)
    assert result.passed and "categorical_crossentropy" in result.details["loss_function"]


def test_bias_before_batchnorm_is_exempt_but_a_dead_bias_elsewhere_is_not():
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, name="pre_bn"), layers.BatchNormalization(),
                              layers.Activation("relu"), layers.Dense(3, activation="softmax")])
    result = mc.check_gradient_flow(model)
    assert result.passed, result.message
    assert result.details["exempt_biases_before_batchnorm"] == ["pre_bn/bias"]
    assert "before BatchNormalization exempt" in result.message
