"""Property tests: modelcheck's layer arithmetic and checks against Keras, on drawn layers and models.

The static properties compare shapes and counts with Keras' symbolic build (no forward pass,
weights not even allocated); the gradient properties run one backward pass per example.
Example counts come from the Hypothesis profile (modelcheck-ci by default, see
modelcheck/hypothesis_profiles.py); the per-test settings below only lift the deadline.
"""

from __future__ import annotations

import math
import re

import keras  # imported here, not inside the first example: Keras raises the recursion limit
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import modelcheck as mc
from modelcheck import strategies as mst

SLOW_DATA = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def keras_figures(model):
    """(total params, {layer: params}, output shape or list of them) from Keras."""
    shapes = [tuple(t.shape) for t in model.outputs]
    per_layer = {layer.name: layer.count_params() for layer in model.layers}
    return model.count_params(), per_layer, shapes[0] if len(shapes) == 1 else shapes


def build_unallocated(drawn):
    """Build the model symbolically without allocating weights (shapes and counts only)."""
    with keras.StatelessScope(initialize_variables=False):
        return drawn.build()


def assert_matches_keras(drawn, model):
    total, per_layer, shapes = keras_figures(model)
    for name, arithmetic in drawn.expected_arithmetic.items():
        assert per_layer[name] == arithmetic.count, (
            f"layer {name}: Keras counts {per_layer[name]:,}, modelcheck says {arithmetic.formula}"
        )
    assert total == drawn.expected_params
    assert shapes == drawn.expected_output_shape, f"Keras gives {shapes}, modelcheck {drawn.expected_output_shape}"


# ------------------------------------------------------------------ static properties


@SLOW_DATA
@given(mst.layer_configs())
def test_layer_arithmetic_agrees_with_keras(drawn):
    note(repr(drawn))
    with keras.StatelessScope(initialize_variables=False):
        layer = drawn.build()
        output = layer(keras.Input(drawn.input_shape, dtype=drawn.input_dtype))
    arithmetic = drawn.arithmetic
    note(arithmetic.formula)
    assert layer.count_params() == arithmetic.count
    assert sum(math.prod(w.shape) for w in layer.trainable_weights) == arithmetic.trainable
    assert tuple(output.shape) == drawn.expected_output_shape


@SLOW_DATA
@given(mst.conv_layers(rank=1) | mst.conv_layers(rank=3, max_size=6) | mst.recurrent_layers())
def test_conv_and_recurrent_arithmetic_agrees_with_keras(drawn):
    note(repr(drawn))
    with keras.StatelessScope(initialize_variables=False):
        layer = drawn.build()
        output = layer(keras.Input(drawn.input_shape))
    assert layer.count_params() == drawn.expected_params, drawn.arithmetic.formula
    assert tuple(output.shape) == drawn.expected_output_shape


@SLOW_DATA
@given(mst.models())
def test_model_counts_and_shapes_agree_with_keras(drawn):
    note("\n".join(drawn.layers))
    assert_matches_keras(drawn, build_unallocated(drawn))


@SLOW_DATA
@given(mst.models(kinds=["sequential"]))
def test_sequential_models_never_shrink_below_one(drawn):
    model = build_unallocated(drawn)
    for layer in model.layers:
        assert all(d is None or d >= 1 for d in layer.output.shape), "\n".join(drawn.layers)


@SLOW_DATA
@given(mst.build_model_kwargs())
def test_build_model_kwargs_cover_document_003(kwargs):
    """Document 003's build_model, in its Keras 3 spelling, builds for every drawn argument set."""
    with keras.StatelessScope(initialize_variables=False):
        model = keras.Sequential([keras.Input(kwargs["input_shape"])])
        for _ in range(kwargs["n_hidden"]):
            model.add(keras.layers.Dense(kwargs["n_neurons"], activation="relu"))
        model.add(keras.layers.Dense(1))
    assert 3e-4 <= kwargs["learning_rate"] <= 3e-2
    d, n, h = kwargs["input_shape"][0], kwargs["n_neurons"], kwargs["n_hidden"]
    expected = (d + 1) * n + (h - 1) * (n + 1) * n + (n + 1) if h else d + 1
    assert model.count_params() == expected


# --------------------------------------------- a failing property shrinks to a readable model


def test_failures_shrink_to_a_small_readable_layer_list():
    """A property that is false for some Conv2D shrinks to the smallest such model, printed."""
    from hypothesis import find

    smallest = find(
        mst.models(kinds=["sequential"], input_kinds=["image"]),
        lambda m: any(n.class_name == "Conv2D" for n in m.nodes),
        settings=settings(database=None, max_examples=2000, derandomize=True),
    )
    lines = smallest.layers
    assert lines[0] == "input = Input(shape=(1, 1, 1))"
    assert lines[1].startswith("conv2d = Conv2D(filters=1, kernel_size=(1, 1))  # -> (None, 1, 1, 1), 2 params")
    assert len(lines) == 4, lines  # input, conv, a flattening layer, head
    assert "conv2d = Conv2D(" in repr(smallest)


# -------------------------------------------------------------------- gradient flow

# Models in which every trainable variable must get a gradient. Left out, because the check
# rightly flags them: dead ReLUs and Dropout (active in training mode) can starve a layer for
# one batch, and a BatchNormalization (training mode) subtracts the batch mean, so a bias or
# beta right before it gets an exactly-zero gradient.
HEALTHY = dict(activations=("linear", "tanh", "sigmoid"), exclude=("Dropout", "BatchNormalization"))


def gradient_flow(model):
    from modelcheck.checks.gradients import check_gradient_flow

    return check_gradient_flow(model, batch_size=8, seed=0)




def assert_gradient_flows(drawn):
    note("\n".join(drawn.layers))
    model = drawn.build()
    result = gradient_flow(model)
    assert result.passed, result.message
    assert len(result.details["grad_norms"]) == len(model.trainable_variables)


@SLOW_DATA
@given(mst.models(max_layers=3, **HEALTHY))
def test_gradient_flow_passes_on_drawn_models(drawn):
    assert_gradient_flows(drawn)


@pytest.mark.slow
@SLOW_DATA
@given(mst.models(max_layers=6, max_units=32, **HEALTHY))
def test_gradient_flow_passes_on_larger_drawn_models(drawn):
    assert_gradient_flows(drawn)


def pick_layer(drawn, data, candidates, label):
    """Draw the layer to break among `candidates`; print the model when the property fails."""
    assume(candidates)
    note("\n".join(drawn.layers))
    return data.draw(st.sampled_from(candidates), label=label)


@SLOW_DATA
@given(mst.models(max_layers=3, **HEALTHY), st.data())
def test_a_frozen_layer_is_named(drawn, data):
    name = pick_layer(drawn, data, drawn.parametrized_layers, "frozen layer")
    result = gradient_flow(drawn.with_config(name, trainable=False).build())
    assert not result.passed
    assert f"'{name}'" in result.message and "frozen" in result.message, result.message


def cut_after(drawn, name):
    """The drawn model with Lambda(stop_gradient) on the output of layer `name`."""
    return drawn.build(insert_after={name: keras.layers.Lambda(keras.ops.stop_gradient, name="cut")})


@SLOW_DATA
@given(mst.models(max_layers=3, **HEALTHY), st.data())
def test_a_stop_gradient_cut_is_named(drawn, data):
    name = pick_layer(drawn, data, drawn.parametrized_layers, "cut after")
    result = gradient_flow(cut_after(drawn, name))
    assert not result.passed
    assert re.search(rf"at variables? [^;]*\b{name}/", result.message) and "received no gradient" in result.message, \
        result.message


def test_recurrent_culprits_are_named_by_layer():
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(2, return_sequences=True, name="first"),
                              keras.layers.LSTM(2, name="second"), keras.layers.Dense(1)])
    result = gradient_flow(model)
    assert len(result.details["grad_norms"]) == len(model.trainable_variables)  # 8, not 5
    cut = keras.Sequential([keras.Input((3, 2)), keras.layers.SimpleRNN(2, name="rnn"),
                            keras.layers.Lambda(keras.ops.stop_gradient), keras.layers.Dense(1)])
    assert "received no gradient, at variables rnn/kernel" in gradient_flow(cut).message


MLPS = mst.models(kinds=["sequential"], input_kinds=["vector"], activations=("linear", "tanh"),
                  exclude=mst.OPTIONAL_LAYERS, max_layers=3)


@SLOW_DATA
@given(MLPS, st.data())
def test_a_zero_initialised_hidden_layer_is_named(drawn, data):
    hidden = drawn.parametrized_layers[:-1]  # the last Dense is the head
    name = pick_layer(drawn, data, hidden, "zeroed layer")
    model = drawn.with_config(name, kernel_initializer="zeros", bias_initializer="zeros").build()
    result = gradient_flow(model)
    assert not result.passed
    assert "received an all-zero gradient" in result.message and f"'{name}'" in result.message, result.message


# Multi-layer perceptrons as students write them (one or several branches, joined by Concatenate): the
# training checks' targets come from a teacher of the same architecture, so a sound one can fit them.
DRAWN_MLPS = mst.models(kinds=["sequential", "functional"], input_kinds=["vector"],
                        activations=("linear", "tanh", "sigmoid"), exclude=mst.OPTIONAL_LAYERS, max_layers=4)


@SLOW_DATA
@given(DRAWN_MLPS)
def test_the_training_checks_never_fail_a_drawn_mlp(drawn):
    """overfit_batch and loss_decrease pass a sound MLP, or skip one that learns only slowly (a bottleneck of one
    unit) as still learning; never fail it. (Outside this class a head of two or three weights over features that
    barely vary, such as a GlobalMaxPooling of raw inputs, can need 10,000 steps and fails at its budget.)"""
    note("\n".join(drawn.layers))
    for result in mc.run_checks(drawn.build(), ["overfit_batch", "loss_decrease"]):
        assert result.status == "passed" or (result.status == "skipped" and result.details.get("still_falling")), \
            result.message
