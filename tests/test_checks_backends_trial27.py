"""Trial 27: the same model must get the same verdicts on TensorFlow, JAX and PyTorch.

Models from earlier trials (built and judged on TensorFlow) were run on JAX and PyTorch; each test
here pins a verdict that differed on one backend."""

from __future__ import annotations

import time

import keras
import pytest
from keras import layers

import modelcheck as mc


class _AlwaysTrainingNorm(keras.Model):
    """call() passes training=True to its BatchNormalization always (copied from a training loop)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(16)
        self.norm = layers.BatchNormalization()
        self.out = layers.Dense(4, activation="softmax")

    def call(self, x, training=None):
        return self.out(keras.activations.relu(self.norm(self.hidden(x), training=True)))


def _always_training_norm() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = _AlwaysTrainingNorm()
    model.build((None, 6))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_batch_independence_fails_a_norm_always_in_training_and_leaves_the_model_usable():
    # on JAX the input gradients were taken with the norm writing its statistics from inside
    # jax.vjp: the check errored with UnexpectedTracerError and every later check of the model
    # (input_dependence, loss_at_init, trainable_changes) errored too
    model = _always_training_norm()
    result = mc.check_batch_independence(model)
    assert result.status == "failed", result.message
    assert "samples of a batch influence each other" in result.message
    assert "BatchNormalization called with training=True" in result.message
    later = mc.check_input_dependence(model)
    assert later.status == "passed", later.message
    assert all(keras.ops.all(keras.ops.isfinite(v.value)) for v in model.non_trainable_variables)


def test_config_lint_says_once_where_a_schedule_too_high_from_its_first_step_starts():
    # it read "the learning rate starts at 3 (it starts at 3)"
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(4, activation="softmax")])
    schedule = keras.optimizers.schedules.ExponentialDecay(3.0, decay_steps=100, decay_rate=0.9)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy")
    result = mc.check_config_lint(model)
    assert result.status == "failed", result.message
    assert "received ExponentialDecay up to 3, at the Adam optimizer's schedule; the learning rate starts at 3; " \
        "Adam moves every weight" in result.message, result.message


def test_input_dependence_says_when_only_the_gradient_shows_the_input_matters():
    # keras.applications.MobileNetV3Small(weights=None) passed with 'each of the 1 input(s) changes the
    # output (smallest relative change 0)': its untrained softmax is the same for every image
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="pixels")
    tiny = keras.initializers.RandomNormal(stddev=1e-12, seed=0)  # every output rounds to 1/4
    outputs = layers.Dense(4, activation="softmax", kernel_initializer=tiny)(inputs)
    model = keras.Model(inputs, outputs)
    result = mc.check_input_dependence(model)
    assert result.status == "passed", result.message
    assert "'pixels' changed no output value measurably on this batch, but the outputs' gradient with respect " \
        "to it is not zero" in result.message, result.message
    assert result.details["dependence_by_gradient"] == ["pixels"]


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="about JAX's eager ops.cond")
def test_config_lint_reads_a_warm_up_schedule_quickly_on_jax():
    # CosineDecay's warm-up evaluated at config_lint's 68 steps took 23-25 s on JAX (0.05 s on
    # TensorFlow): each eager ops.cond compiled its branches anew; about 2 s now under load
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(4, activation="softmax")])
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=1000, warmup_target=0.05,
                                                      warmup_steps=1_000_000)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    result = mc.check_config_lint(model)
    assert result.status == "passed", result.message
    assert time.perf_counter() - start < 8.0


def test_trainable_changes_passes_a_run_that_did_all_its_steps_past_the_timeout():
    # keras.applications.ResNet50 on JAX (64x64): 'expected 5 steps with a finite loss, received stopped
    # by the 30 s timeout after 5 steps': compiling the step took longer than the timeout, the steps all ran
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    result = mc.check_trainable_changes(model, steps=1, timeout_s=1e-9)
    assert result.status == "passed", result.message
    assert "changed in 1 steps" in result.message
