"""Models nobody here wrote, in the style of the keras.io examples: each sound model passes every
default check; a broken variant of each fails, with the message naming the cause."""

from __future__ import annotations

import keras
import pytest

import modelcheck as mc
from modelcheck.core.registry import CHECKS

from . import zoo

DEFAULT_CHECKS = [name for name, info in CHECKS.items() if info.default]


@pytest.fixture
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    yield
    keras.mixed_precision.set_global_policy("float32")


def _run(builder, broken=False):
    model = builder(broken=broken)
    return {r.check: r for r in mc.run_checks(model, DEFAULT_CHECKS)}


def _problems(results):
    return [f"{r.check}: {r.status}: {r.message}" for r in results.values() if r.status in ("failed", "error")]


@pytest.mark.parametrize("builder", list(zoo.FAULTS), ids=lambda b: b.__name__)
def test_sound_model_passes_every_default_check(builder, request):
    if builder is zoo.mixed_precision_mlp:
        request.getfixturevalue("mixed_precision")
    results = _run(builder)
    assert not _problems(results), "\n".join(_problems(results))


@pytest.mark.parametrize("builder", list(zoo.FAULTS), ids=lambda b: b.__name__)
def test_broken_variant_fails_naming_the_cause(builder, request):
    if builder is zoo.mixed_precision_mlp:
        request.getfixturevalue("mixed_precision")
    check, phrase = zoo.FAULTS[builder]
    result = mc.run_checks(builder(broken=True), [check])[0]
    assert result.status == "failed", result.message
    assert phrase in result.message, result.message


def test_custom_train_step_is_trained_with_its_own_step_and_overfit_is_skipped():
    model = zoo.vae()
    decrease = mc.check_loss_decrease(model)
    assert decrease.passed, decrease.message
    assert "own train_step" in decrease.details["optimizer"]
    overfit = mc.check_overfit_batch(model)
    assert overfit.status == "skipped" and "overrides train_step" in overfit.message


def test_batchnorm_and_dropout_are_judged_in_inference_mode():
    result = mc.check_overfit_batch(zoo.residual_image_classifier())
    assert result.passed, result.message
    assert "in inference mode" in result.message
    assert "inference mode" in result.details["mode"]


def test_integer_ids_stay_inside_the_nested_backbones_embedding():
    from modelcheck.model.inputs import input_infos

    (info,) = input_infos(zoo.nested_backbone())
    assert info.vocabulary == 50


def test_unknown_lengths_cover_the_receptive_field_and_a_spec_can_set_them():
    from modelcheck.model.inputs import sequence_length, set_sequence_length

    model = zoo.timeseries_conv1d()
    assert sequence_length(model) >= 10  # pooling by 2 before a valid kernel of 5
    set_sequence_length(model, 64)
    assert mc.check_output_shape(model).details["batch_size"] and sequence_length(model) == 64


def test_loss_dict_keyed_by_output_names_is_used():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, {"price": keras.layers.Dense(1)(hidden),
                                 "kind": keras.layers.Dense(2, activation="softmax")(hidden)})
    model.compile("adam", loss={"price": "mae", "kind": "sparse_categorical_crossentropy"})
    result = mc.check_loss_decrease(model)
    assert "mae" in result.details["loss_function"] and "sparse_categorical" in result.details["loss_function"]


def test_a_slow_learner_is_extended_not_failed_and_a_per_pixel_output_is_never_failed_for_it():
    def checked(seed: int, check: str) -> mc.CheckResult:
        keras.utils.set_random_seed(seed)  # the initial weights decide how slowly it learns
        return mc.run_checks(zoo.tiny_two_inputs(), [check])[0]

    decrease = checked(0, "loss_decrease")  # 10% only after 63 steps
    assert decrease.passed and decrease.details["step_budget"] > 50, decrease.message
    overfit = checked(1, "overfit_batch")  # memorised after 700 steps
    assert overfit.passed and overfit.details["steps"] > 500, overfit.message
    keras.utils.set_random_seed(0)
    per_pixel = mc.run_checks(zoo.conv_autoencoder(), ["overfit_batch"])[0]
    assert per_pixel.status in ("passed", "skipped"), per_pixel.message


def test_a_model_drawing_from_an_unkeyed_generator_is_skipped_by_the_comparing_checks():
    import tensorflow as tf

    class Noise(keras.layers.Layer):  # tf.random keeps its state where modelcheck cannot put it back
        def call(self, x):
            return x + tf.random.normal(tf.shape(x), stddev=0.1)

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), Noise(name="noise"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    for check in (mc.check_batch_independence, mc.check_input_dependence):
        result = check(model)
        assert result.status == "skipped", result.message
        assert "layer 'noise' (Noise) draws new random values" in result.message


def test_random_in_inference_names_the_drawing_layer_and_rewinding_repeats_keras_draws():
    import numpy as np

    from modelcheck.model.randomness import random_in_inference

    x = np.random.default_rng(0).standard_normal((4, 20)).astype("float32")
    assert random_in_inference(zoo.sampling_vae(), x) == "layer 'sampling' (Sampling)"
    assert random_in_inference(zoo.sampling_vae(), x, rewound=True) is None
    assert random_in_inference(zoo.mae_regressor(), x[:, :10]) is None


def test_a_model_compiled_without_a_loss_trains_the_losses_its_layers_add():
    model = zoo.add_loss_autoencoder()
    overfit = mc.check_overfit_batch(model)
    assert overfit.status == "skipped" and "compiled without a loss" in overfit.message, overfit.message
    decrease = mc.check_loss_decrease(model)
    assert decrease.passed, decrease.message
    assert decrease.details["loss_function"] == "the losses its layers add (add_loss), as compiled without a loss"


def test_an_input_read_only_by_an_added_loss_counts_as_used():
    result = mc.check_input_dependence(zoo.ctc_captcha_reader())
    assert result.passed, result.message
    assert "'label' only the losses (add_loss)" in result.message
    assert result.details["changes_added_losses"] == ["image", "label"]
