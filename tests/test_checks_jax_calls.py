"""A large model's calls outside training run as one compiled program per input signature on JAX
(`modelcheck.model.backend.jax_calls`): they must give what the eager call gives, leave the model
in the state an eager call leaves it in, and fall back to the eager call where a model cannot be
compiled. On the other backends `call_model` is the eager call itself."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

import modelcheck as mc
from modelcheck.model.backend import call_model

from .backends import BACKEND

jax_only = pytest.mark.skipif(BACKEND != "jax", reason="the compiled path exists on JAX only: TensorFlow and "
                              "PyTorch run a model's calls eagerly, whose first call at a shape is cheap there")

DEPTH = 44  # over jax_calls.COMPILE_FROM_LAYERS


def _deep(extra: list[layers.Layer] | None = None, width: int = 6) -> keras.Model:
    keras.utils.set_random_seed(0)
    stack = [keras.Input((width,))] + [layers.Dense(width, activation="tanh") for _ in range(DEPTH)]
    model = keras.Sequential(stack + (extra or []) + [layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _batch(n: int, width: int = 6) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, width)).astype("float32")


def _programs(model: keras.Model) -> int:
    from modelcheck.model.backend import jax_calls

    return len(jax_calls._programs.get(model, {}))


def test_a_large_model_is_called_as_one_program_per_shape_with_the_eager_call_s_outputs():
    model = _deep()
    x = _batch(8)
    assert np.allclose(keras.ops.convert_to_numpy(call_model(model, x)),
                       keras.ops.convert_to_numpy(model(x, training=False)), atol=1e-6)
    if BACKEND == "jax":
        assert _programs(model) == 1
        call_model(model, _batch(8))
        assert _programs(model) == 1, "the same shape must reuse its program"
        call_model(model, _batch(5))
        assert _programs(model) == 2, "a new batch size gets a program of its own"


def test_the_compiled_call_reads_the_weights_as_they_are_at_each_call():
    model = _deep()
    x = _batch(4)
    before = keras.ops.convert_to_numpy(call_model(model, x))
    last = model.layers[-1]
    last.kernel.assign(np.zeros(last.kernel.shape, "float32"))
    after = keras.ops.convert_to_numpy(call_model(model, x))
    assert not np.allclose(before, after)
    assert np.allclose(after, 1 / 3, atol=1e-6), "a zero kernel gives the softmax of the bias alone"


class _AlwaysDrop(layers.Layer):
    """Dropout in inference mode too (Monte-Carlo Dropout), from a seeded generator."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.drop = layers.Dropout(0.5, seed=3)

    def call(self, x):
        return self.drop(x, training=True)


def test_a_call_that_draws_advances_the_generator_as_the_eager_call_does():
    model = _deep([_AlwaysDrop()])
    state = model.layers[-2].drop.seed_generator.state
    start = keras.ops.convert_to_numpy(state.value)
    x = _batch(8)
    first = keras.ops.convert_to_numpy(call_model(model, x))
    after_compiled = keras.ops.convert_to_numpy(state.value)
    second = keras.ops.convert_to_numpy(call_model(model, x))
    assert not np.array_equal(start, after_compiled), "the generator's state must move on"
    assert not np.allclose(first, second), "a second call draws other values"
    state.assign(start)
    eager = keras.ops.convert_to_numpy(model(x, training=False))
    assert np.array_equal(keras.ops.convert_to_numpy(state.value), after_compiled)
    assert np.allclose(first, eager, atol=1e-6)


def test_a_training_mode_call_writes_batchnormalization_s_statistics_back():
    model = _deep([layers.BatchNormalization(momentum=0.0)])
    norm = model.layers[-2]
    x = _batch(8)
    call_model(model, x, training=True)
    compiled_mean = keras.ops.convert_to_numpy(norm.moving_mean.value)
    norm.moving_mean.assign(np.zeros(norm.moving_mean.shape, "float32"))
    model(x, training=True)
    assert np.allclose(compiled_mean, keras.ops.convert_to_numpy(norm.moving_mean.value), atol=1e-5)
    assert np.any(np.abs(compiled_mean) > 1e-3)


def test_a_frozen_batchnormalization_gets_a_program_of_its_own_in_training_mode():
    model = _deep([layers.BatchNormalization(momentum=0.0)])
    norm = model.layers[-2]
    x = _batch(8)
    call_model(model, x, training=True)
    norm.trainable = False
    norm.moving_mean.assign(np.zeros(norm.moving_mean.shape, "float32"))
    call_model(model, x, training=True)
    assert np.all(keras.ops.convert_to_numpy(norm.moving_mean.value) == 0), \
        "a frozen BatchNormalization keeps its statistics in training mode"


def test_a_model_edited_in_place_gets_a_program_of_its_own():
    # a program kept for the model before its edit gave int32 outputs after Sequential.pop() had
    # removed the layer that cast them (the variables, all the key held, were the same)
    model = _deep()
    model.add(layers.Identity(dtype="int32"))
    x = _batch(4)
    assert "int" in str(call_model(model, x).dtype)
    model.pop()
    assert "float" in str(call_model(model, x).dtype)
    before = keras.ops.convert_to_numpy(call_model(model, x))
    model.layers[-1].activation = keras.activations.linear
    after = keras.ops.convert_to_numpy(call_model(model, x))
    assert not np.allclose(after.sum(axis=1), 1.0), "the softmax was replaced by a linear output"
    assert np.allclose(before.sum(axis=1), 1.0, atol=1e-5)


class _Branching(layers.Layer):
    """Python branching on a tensor's value: cannot be staged by jax.jit."""

    def compute_output_shape(self, shape):
        return shape

    def call(self, x):
        if float(keras.ops.convert_to_numpy(keras.ops.max(x))) > 100:
            return x * 0
        return x


@jax_only
def test_a_model_that_cannot_be_compiled_is_called_eagerly():
    from modelcheck.model.backend import jax_calls

    model = _deep([_Branching()])
    x = _batch(4)
    out = keras.ops.convert_to_numpy(call_model(model, x))
    assert np.allclose(out, keras.ops.convert_to_numpy(model(x, training=False)), atol=1e-6)
    assert model in jax_calls._eager_only and _programs(model) == 0


@jax_only
def test_a_small_model_and_a_traced_call_stay_eager():
    import jax

    small = keras.Sequential([keras.Input((6,)), layers.Dense(3)])
    call_model(small, _batch(2))
    assert _programs(small) == 0, "a small model's eager ops are shared with other models: no program"
    model = _deep()
    x = _batch(3)
    grad = jax.grad(lambda batch: keras.ops.sum(call_model(model, batch)[:, 0]))(x)
    assert np.asarray(grad).shape == x.shape and np.any(np.asarray(grad) != 0)
    assert _programs(model) == 0, "inside a traced function the call is compiled with it"


class _Loud(layers.Layer):
    """Fails on every call (its output shape is declared, so the model builds)."""

    def compute_output_shape(self, shape):
        return shape

    def call(self, x):
        raise ValueError("this layer always fails")


def test_a_user_s_error_in_a_large_model_is_still_the_user_s():
    broken = _deep([_Loud()])
    result = mc.check_output_shape(broken, (None, 3))
    assert result.status == "error", result.message
    assert "this layer always fails" in result.message
    assert "internal error" not in result.message


def test_checks_judge_a_large_model_as_before():
    model = _deep()
    assert mc.check_output_shape(model, (None, 3)).status == "passed"
    assert mc.check_batch_independence(model).status == "passed"
    wrong = mc.check_output_shape(model, (None, 4))
    assert wrong.status == "failed" and "4" in wrong.message


class _BatchMean(layers.Layer):
    """Subtracts the batch's mean: every sample's output depends on the others."""

    def call(self, x):
        return x - keras.ops.mean(x, axis=0, keepdims=True)


def test_input_gradients_of_a_large_model_find_the_layer_that_mixes_samples():
    model = _deep([_BatchMean(name="batch_mean")])
    result = mc.check_batch_independence(model)
    assert result.status == "failed", result.message
    assert "layer 'batch_mean' (_BatchMean)" in result.message


def test_input_gradients_of_a_large_model_find_an_input_it_ignores():
    keras.utils.set_random_seed(0)
    used, ignored = keras.Input((6,), name="used"), keras.Input((2,), name="ignored")
    h = used
    for _ in range(DEPTH):
        h = layers.Dense(6, activation="tanh")(h)
    model = keras.Model([used, ignored], layers.Dense(3)(h))
    result = mc.check_input_dependence(model)
    assert result.status == "failed", result.message
    assert "'ignored'" in result.message
