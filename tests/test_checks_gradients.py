import re

import keras
import pytest
from keras import layers

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


def _transfer(*, nested: bool, training_false: bool = True, frozen_head: bool = False) -> keras.Model:
    """A classifier over a frozen feature extractor of two layers with weights: nested and called
    (with training=False unless told), or its layers built into the model itself (``base.output``)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    extractor = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3, activation="relu", name="conv_a"),
                                  layers.Conv2D(4, 3, activation="relu", name="conv_b")], name="base")
    extractor.trainable = False
    if nested:
        features = extractor(inputs, training=False) if training_false else extractor(inputs)
    else:
        features = inputs
        for layer in extractor.layers:
            features = layer(features)
    hidden = layers.Dense(8, activation="relu", name="hidden")(layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, layers.Dense(3, activation="softmax", name="head", trainable=not frozen_head)(hidden))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("nested", [True, False], ids=["nested", "flat"])
def test_a_frozen_backbone_ahead_of_the_layers_that_train_is_transfer_learning(nested):
    result = mc.check_gradient_flow(_transfer(nested=nested))
    assert result.passed, result.message
    backbone = "'base'" if nested else "'conv_a', 'conv_b'"
    assert f"backbone {backbone} not checked: frozen on purpose, as transfer learning does" in result.message
    assert result.details["frozen_backbones"] == (["base"] if nested else ["conv_a", "conv_b"])


@pytest.mark.parametrize("nested", [True, False], ids=["nested", "flat"])
def test_a_layer_frozen_behind_one_that_trains_still_fails(nested):
    result = mc.check_gradient_flow(_transfer(nested=nested, frozen_head=True))
    assert not result.passed
    assert "received frozen (trainable=False), at layer 'head' (27 weights)" in result.message
    assert "conv_a" not in result.message and "'base'" not in result.message


def test_one_frozen_nested_layer_called_as_in_training_is_not_taken_for_a_backbone():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    block = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu")], name="block")
    block.trainable = False
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(block(inputs)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    result = mc.check_gradient_flow(model)
    assert not result.passed and "at layer 'block' (56 weights)" in result.message


def test_the_training_checks_skip_what_a_random_frozen_backbone_keeps_them_from_judging():
    model = _transfer(nested=True)
    for check in (mc.check_overfit_batch, mc.check_loss_decrease):
        result = check(model)
        assert result.status in ("passed", "skipped"), result.message
    failed = mc.check_loss_decrease(_transfer(nested=True), steps=6)
    assert failed.status == "skipped", failed.message
    assert "only the layers after the frozen backbone 'base' train" in failed.message
    assert failed.details["frozen_backbone"] == ["base"]


def test_stop_gradient_in_lambda_names_the_cut_variables():
    result = mc.check_gradient_flow(models.stop_gradient_lambda())
    assert not result.passed
    assert "received no gradient, at variables hidden/kernel, hidden/bias" in result.message
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


def _mae_regressor_balanced_on_the_first_batch():
    """An MAE regressor whose output bias sits at the median of its residuals on gradient_flow's
    first batch: 4 of the 8 samples above their targets, 4 below, so that bias's gradient (the
    mean of the residuals' signs) is exactly zero, as it is for about one MAE model in four at its
    initial weights."""
    import keras
    import numpy as np

    from modelcheck.checks.common import prepare_batch

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(16, activation="relu", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    rng = np.random.default_rng(3)
    model.set_weights([rng.normal(0, 0.3, (10, 16)).astype("float32"), np.full(16, 0.1, "float32"),
                       rng.normal(0, 0.3, (16, 1)).astype("float32"), np.zeros(1, "float32")])
    model.compile(optimizer="adam", loss="mae")
    x, targets, _, predictions = prepare_batch("gradient_flow", model, batch_size=8, seed=0)
    residuals = np.sort((predictions[0] - targets[0]).ravel())
    weights = model.get_weights()
    weights[3] = np.array([-(residuals[3] + residuals[4]) / 2], "float32")
    model.set_weights(weights)
    return model


def test_a_sign_gradient_that_cancels_on_one_batch_is_not_a_dead_layer():
    from modelcheck.checks.common import prepare_batch
    from modelcheck.checks.gradients import gradients

    model = _mae_regressor_balanced_on_the_first_batch()
    x, targets, objective, _ = prepare_batch("gradient_flow", model, batch_size=8, seed=0)
    assert not gradients(model, x, targets, objective)[1][3].any()  # the coincidence is there
    result = mc.check_gradient_flow(model)
    assert result.passed, result.message
    assert result.details["zero_on_first_batch_only"] == ["out/bias"]
    assert "out/bias got a zero gradient on the first batch only" in result.message


def test_a_dead_layer_stays_failed_after_the_second_batch():
    import numpy as np

    model = _mae_regressor_balanced_on_the_first_batch()
    weights = model.get_weights()
    weights[1] = np.full(16, -100.0, "float32")  # every hidden ReLU dead for any input in range
    model.set_weights(weights)
    result = mc.check_gradient_flow(model)
    assert not result.passed
    assert "received an all-zero gradient, at variables hidden/kernel" in result.message
    assert "zero_on_first_batch_only" not in result.details


def _lora_mlp(dead: bool = False):
    import keras

    keras.utils.set_random_seed(0)
    hidden = keras.layers.Dense(16, activation="relu", name="hidden",
                                bias_initializer=keras.initializers.Constant(-100.0 if dead else 0.0))
    model = keras.Sequential([keras.Input((6,)), hidden, keras.layers.Dense(3, activation="softmax", name="head")])
    hidden.enable_lora(2)
    return model


def test_keras_lora_adapters_are_exempt_at_the_first_step_only():
    # LoRA's B factor starts at zero, so A gets no gradient at the initial weights; one step later it does
    result = mc.check_gradient_flow(_lora_mlp())
    assert result.passed, result.message
    assert result.details["zero_at_the_initial_weights_only"] == ["hidden/lora_kernel_a"]
    assert "'hidden': its LoRA adapter's B factor starts at zero" in result.message


def _residual_block(gamma: str, dead: bool = False):
    """A residual block whose last BatchNormalization starts with its scale at zero (Goyal et al.'s
    zero-initialised residual), so the convolutions inside get no gradient at the first step."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="stem")(inputs)
    y = layers.Conv2D(4, 3, padding="same", activation="relu", name="inner",
                      bias_initializer=keras.initializers.Constant(-100.0 if dead else 0.0))(x)
    y = layers.BatchNormalization(gamma_initializer=gamma, name="last_bn")(layers.Conv2D(4, 3, padding="same")(y))
    x = layers.Activation("relu")(layers.Add()([x, y]))
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(x)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_a_residual_branch_whose_normalization_starts_at_zero_scale_is_exempt_at_the_first_step_only():
    result = mc.check_gradient_flow(_residual_block("zeros"))
    assert result.passed, result.message
    assert "'last_bn': its scale (gamma) starts at zero" in result.message
    assert "inner/kernel" in result.details["zero_at_the_initial_weights_only"]
    dead = mc.check_gradient_flow(_residual_block("zeros", dead=True))
    assert not dead.passed and "at variables inner/kernel" in dead.message


def test_a_lora_adapter_on_dead_units_still_fails():
    result = mc.check_gradient_flow(_lora_mlp(dead=True))
    assert not result.passed
    assert re.search(r"received an all-zero gradient, at variables? [^;]*hidden/lora_kernel_b", result.message)
    assert "zero_at_the_initial_weights_only" not in result.details


def test_no_gradient_anywhere_is_told_once_as_the_losss_doing():
    """A linear output under binary cross-entropy, pushed far below 0: the loss clips it and gives
    no gradient, so every variable gets none. Said once, at the loss, not once per variable with a
    dead-units explanation (sweep 13)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(6, activation="relu"),
                              layers.Dense(1)])
    model.compile("adam", "binary_crossentropy")
    model.layers[-1].bias.assign([-100.0])
    result = mc.check_gradient_flow(model)
    assert result.status == "failed"
    assert result.message.startswith("gradient: expected a finite, non-zero gradient, received an all-zero gradient, "
                                     "at every trainable variable (6); the loss gives no gradient at the model's output")
    assert "also:" not in result.message


def test_no_gradient_anywhere_names_the_loss_that_does_not_fit_the_output():
    """A sigmoid unit under sparse categorical cross-entropy: Keras renormalises one probability
    to 1, so the loss is always 0. The message says that mismatch, not a generic list of causes
    that names binary_crossentropy."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(8, activation="relu"),
                              layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "sparse_categorical_crossentropy")
    result = mc.check_gradient_flow(model)
    assert result.status == "failed"
    assert "because it does not fit the output: output units: expected one unit per class for " \
        "sparse_categorical_crossentropy, received 1 unit" in result.message
    assert "binary_crossentropy clips" not in result.message


def test_a_head_whose_output_has_no_loss_is_told_as_such():
    """A head left out of the loss dict never trains under fit(): the message names that output,
    not stop_gradient or argmax."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, {"main": layers.Dense(1, name="main")(hidden),
                                 "embedding": layers.Dense(4, name="embedding")(hidden)})
    model.compile("adam", loss={"main": "mse"})
    result = mc.check_gradient_flow(model)
    assert result.status == "failed"
    assert ("received no gradient, at variables embedding/kernel, embedding/bias; it feeds only output 'embedding', "
            "which is compiled with no loss, so fit() never trains it") in result.message
    assert "stop_gradient" not in result.message


def _own_loss(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)  # y_true first, as users write it


def _centred_loss(y_true, y_pred):
    centre = keras.ops.mean(keras.ops.stop_gradient(y_pred))  # torch's stop_gradient calls .detach()
    return _own_loss(y_true, y_pred) + 0.01 * keras.ops.square(keras.ops.mean(y_pred) - centre)


@pytest.mark.parametrize("loss", [_own_loss, _centred_loss])
def test_a_loss_of_the_users_own_is_given_tensors_wherever_a_check_evaluates_it(loss):
    # On PyTorch the loss got NumPy arrays: `ndarray - tensor` raised for a tensor that needs grad
    # (gradient_flow and finite errored on a sound model), and stop_gradient on NumPy predictions raised
    # "'numpy.ndarray' object has no attribute 'detach'" (finite, and overfit_batch as an internal error)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="adam", loss=loss)
    for check in (mc.check_gradient_flow, mc.check_finite, mc.check_overfit_batch):
        result = check(model, seed=0)
        assert result.passed, result.message


def test_a_misspelt_key_of_the_loss_dict_is_told_as_such():
    """fit() raises KeyError for a loss dict key that names no output; the check said the other
    output was "compiled with no loss" and to give it one, never naming the misspelt key."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, {"cls": layers.Dense(4, activation="softmax", name="cls")(hidden),
                                 "reg": layers.Dense(1, name="reg")(hidden)})
    model.compile("adam", loss={"clss": "sparse_categorical_crossentropy", "reg": "mse"})
    result = mc.check_gradient_flow(model, seed=0)
    assert result.status == "error"
    assert result.message.startswith("the loss dict's key 'clss' names no output of the model: its outputs are "
                                     "'cls', 'reg'; Keras' fit raises KeyError")


def _small_regressor():
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_a_builder_is_built_from_the_checks_seed():
    # The builder ran before the seed was set, so its initial weights came from whatever had drawn
    # before: the first check of a process gave other numbers in every process
    norms = []
    for before in (1, 2):
        keras.utils.set_random_seed(before)
        norms.append(list(mc.check_gradient_flow(_small_regressor, seed=0).details["grad_norms"].values()))
    assert norms[0] == norms[1]


def test_a_head_whose_loss_misfits_it_is_told_so_not_as_dead_units():
    """Trial 20: a loss dict swapped between a classifier's and a regressor's heads left the one-unit head
    with sparse categorical cross-entropy, always 0: gradient_flow blamed dead ReLUs or a later layer
    multiplying by zero, while loss_matches_output named the loss in the same run."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, {"cls": keras.layers.Dense(3, activation="softmax", name="cls")(hidden),
                                 "reg": keras.layers.Dense(1, name="reg")(hidden)})
    model.compile("adam", {"cls": "mse", "reg": "sparse_categorical_crossentropy"})
    result = mc.check_gradient_flow(model)
    assert not result.passed
    assert ("at variables reg/kernel, reg/bias; it gives output 'reg', whose loss gives no gradient because it does "
            "not fit the output: output units: expected one unit per class for sparse_categorical_crossentropy"
            in result.message), result.message
    assert "dead" not in result.message
