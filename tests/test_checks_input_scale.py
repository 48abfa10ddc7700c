"""Inputs on the scale a model expects when it rescales them itself: raw pixels before a
Rescaling layer or in a uint8 input, raw features around an adapted Normalization's statistics.
Fed N(0, 1) noise, such a model saw nearly the same values for every sample (noise / 255, or
(noise - 1000) / 300) and a sound one failed overfit_batch."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

import modelcheck as mc
from modelcheck.model.inputs import input_infos, synthetic_inputs


def _image_classifier(scale: float, offset: float, *, dtype: str = "float32", twice: bool = False,
                      seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 16, 3), dtype=dtype)
    x = layers.Rescaling(scale, offset=offset)(inputs)
    if twice:  # a student's mistake: the pixels are rescaled again after the first Rescaling
        x = layers.Rescaling(scale, offset=offset)(x)
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, activation="relu")(x))
    model = keras.Model(inputs, layers.Dense(4, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
@pytest.mark.parametrize("scale, offset, low, high", [(1 / 255, 0.0, 0.0, 1.0), (1 / 127.5, -1.0, -1.0, 1.0)])
def test_pixels_before_a_rescaling_span_what_it_maps_onto_its_range(dtype, scale, offset, low, high):
    model = _image_classifier(scale, offset, dtype=dtype)
    (info,) = input_infos(model)
    assert info.range == pytest.approx((0.0, 255.0))
    pixels = np.asarray(synthetic_inputs(model, 8, 0))
    assert pixels.dtype == np.dtype(dtype) and pixels.min() >= 0 and pixels.max() <= 255
    rescaled = pixels.astype("float64") * scale + offset
    assert rescaled.min() < low + 0.2 * (high - low) and rescaled.max() > high - 0.2 * (high - low)


def test_a_uint8_input_gets_pixels_without_a_rescaling_layer():
    model = keras.Sequential([keras.Input((8, 8, 1), dtype="uint8"), layers.Flatten(), layers.Dense(2)])
    pixels = np.asarray(synthetic_inputs(model, 8, 0))
    assert pixels.dtype == np.uint8 and pixels.max() > 200 and len(np.unique(pixels)) > 100


def test_a_rescaling_that_scales_up_and_int32_ids_keep_their_values():
    model = keras.Sequential([keras.Input((4,)), layers.Rescaling(2.0), layers.Dense(1)])
    assert input_infos(model)[0].range is None
    ids = np.asarray(synthetic_inputs(keras.Sequential([keras.Input((4,), dtype="int32"), layers.Dense(1)]), 8, 0))
    assert ids.max() < 10


def _normalised_mlp(mean: float, std: float, axis: int | None = -1) -> keras.Model:
    keras.utils.set_random_seed(0)
    norm = layers.Normalization(axis=axis)
    norm.adapt(np.random.default_rng(0).normal(mean, std, (200, 8)).astype("float32"))
    model = keras.Sequential([keras.Input((8,)), norm, layers.Dense(16, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("axis", [-1, None], ids=["per-feature", "axis-None"])
def test_features_before_an_adapted_normalization_are_drawn_around_its_statistics(axis):
    """axis=None (one mean and deviation for every feature) too: fed N(0, 1), it gave every sample
    about -3.33 and a sound classifier failed overfit_batch."""
    model = _normalised_mlp(1000.0, 300.0, axis)
    features = np.asarray(synthetic_inputs(model, 256, 0))
    assert abs(features.mean() - 1000.0) < 60.0 and 200.0 < features.std() < 400.0
    normalised = keras.ops.convert_to_numpy(model.layers[0](features))
    assert 0.7 < normalised.std() < 1.3


def _normalised_sequence(axis: object, flatten: bool = False) -> keras.Model:
    """Five time steps of three features, each step on its own scale (100, 200, ... give or take
    10%), normalised per step (``axis=1``), per step and feature (``axis=(1, 2)``), or after a
    Flatten (per flattened feature)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    scales = 100.0 * np.arange(1, 6, dtype="float32")[:, None]
    data = (scales + 0.1 * scales * rng.standard_normal((200, 5, 3))).astype("float32")
    norm = layers.Normalization(axis=axis)
    norm.adapt(data.reshape(200, -1) if flatten else data)
    steps = [layers.Flatten(), norm] if flatten else [norm, layers.Flatten()]
    model = keras.Sequential([keras.Input((5, 3)), *steps, layers.Dense(16, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("axis, flatten", [(1, False), ((1, 2), False), (-1, True)],
                         ids=["per-step", "per-step-and-feature", "after-flatten"])
def test_features_follow_a_normalization_over_other_axes_or_after_a_flatten(axis, flatten):
    """Another axis got raw N(0, 1) noise (every sample normalised to about -10 .. -50); a
    Normalization after a Flatten raised a broadcasting error inside modelcheck."""
    model = _normalised_sequence(axis, flatten)
    features = np.asarray(synthetic_inputs(model, 256, 0))
    assert features.shape == (256, 5, 3)
    step_means = features.mean(axis=(0, 2))
    assert np.allclose(step_means, 100.0 * np.arange(1, 6), rtol=0.1), step_means
    layer = model.layers[1] if flatten else model.layers[0]
    normalised = keras.ops.convert_to_numpy(layer(features.reshape(256, -1) if flatten else features))
    assert abs(normalised.mean()) < 0.2 and 0.7 < normalised.std() < 1.3


def test_sound_models_that_scale_their_own_inputs_memorise_a_batch():
    for model in (_image_classifier(1 / 127.5, -1.0), _image_classifier(1 / 127.5, -1.0, dtype="uint8"),
                  _normalised_mlp(1000.0, 300.0), _normalised_sequence(1)):
        result = mc.check_overfit_batch(model)
        assert result.passed, result.message


def test_pixels_rescaled_twice_cannot_be_memorised():
    result = mc.check_overfit_batch(_image_classifier(1 / 127.5, -1.0, twice=True))
    assert result.status == "failed" and "expected 100% batch accuracy" in result.message, result.message


@pytest.mark.parametrize("nested", [True, False, "pipeline"],
                         ids=["augmentation_model", "augmentation_layer", "augmentation_pipeline"])
def test_pixels_reach_a_rescaling_behind_data_augmentation(nested):
    # keras.io's image classifiers augment before they rescale: the Rescaling was not found behind
    # RandomFlip, or behind a data_augmentation Sequential, and a sound model failed overfit_batch
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    augment = [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)]
    if nested == "pipeline":  # keras.layers.Pipeline, Keras 3's container of preprocessing layers
        x = layers.Pipeline(augment, name="data_augmentation")(inputs)
    else:
        x = keras.Sequential(augment, name="data_augmentation")(inputs) if nested else augment[1](augment[0](inputs))
    x = layers.Rescaling(1 / 127.5, offset=-1)(x)
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, activation="relu")(x))
    model = keras.Model(inputs, layers.Dense(4, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert input_infos(model)[0].range == pytest.approx((0.0, 255.0))
    result = mc.check_overfit_batch(model)
    assert result.passed, result.message


@pytest.mark.parametrize("adapted", [False, True], ids=["given", "adapted"])
def test_values_before_a_discretization_fall_into_every_bin(adapted):
    """Ages bucketed at 18, 30, 45 and 65: N(0, 1) noise fell into the first bucket only, and
    input_dependence said the model ignores its age input."""
    keras.utils.set_random_seed(0)
    if adapted:
        buckets = layers.Discretization(num_bins=5, output_mode="one_hot")
        buckets.adapt(np.random.default_rng(0).uniform(18, 80, (200, 1)).astype("float32"))
    else:
        buckets = layers.Discretization(bin_boundaries=[18, 30, 45, 65], output_mode="one_hot")
    age, other = keras.Input((1,), name="age"), keras.Input((3,), name="other")
    hidden = layers.Dense(8, activation="relu")(layers.concatenate([buckets(age), other]))
    model = keras.Model({"age": age, "other": other}, layers.Dense(1)(hidden))
    ages = synthetic_inputs(model, 64, seed=0)["age"]
    assert len(np.unique(np.digitize(ages.ravel(), buckets.bin_boundaries))) == 5
    assert mc.check_input_dependence(model).passed
