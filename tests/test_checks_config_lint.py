"""config_lint: configuration mistakes no run reveals, each failing with its sentence; every reference model passes."""

from __future__ import annotations

import keras
import pytest

from modelcheck.checks.config_lint import check_config_lint
from modelcheck.core.registry import check_kwargs

L = keras.layers


def seq(*layers, shape=(4,)):
    return keras.Sequential([keras.Input(shape), *layers])


def test_a_sound_model_passes():
    model = seq(L.Dense(8, activation="relu"), L.Dropout(0.5), L.Dense(3, activation="softmax"))
    result = check_config_lint(model, expected_input=(None, 4), output="probabilities")
    assert result.passed, result.message


MISTAKES = [
    (lambda: seq(L.Dense(8, activation="relu", name="h"), L.Dropout(0.9, name="drop"), L.Dense(1, name="o")), {},
     "dropout rate: expected the fraction of units dropped, usually 0.1 to 0.5, received rate=0.9, at layer 'drop' "
     "(Dropout); Keras' rate is the fraction dropped, TF1's keep_prob was the fraction kept: this drops 90% of the "
     "units; to keep 90% write Dropout(0.1)"),
    (lambda: seq(L.Dense(8, name="h"), L.Dense(3, activation="softmax", name="o")), {},
     "activation: expected an activation between Dense layers 'h' and 'o', received no activation, at layer 'h' "
     "(Dense); two Dense layers with no activation between them collapse into one linear map, so the hidden layer "
     "adds nothing: add activation=\"relu\" to 'h'"),
    (lambda: seq(L.Dense(8, activation="relu"), L.Dense(1, activation="softmax", name="o")), {},
     "output activation: expected sigmoid on a single unit (or softmax over 2 or more units), received softmax over "
     "1 unit, at output 'o'; a softmax over one unit always outputs 1: use activation=\"sigmoid\" for two classes"),
    (lambda: seq(L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid", name="o")), {"output": "regression"},
     "output activation: expected a linear output for a regression, received sigmoid, at output 'o'; sigmoid "
     "squeezes every prediction between 0 and 1: remove the activation (activation=None)"),
    (lambda: seq(L.Dense(3, activation="softmax"), L.BatchNormalization(name="bn")), {},
     "output layer: expected the activation as the model's last step, received BatchNormalization after it, at "
     "layer 'bn' (BatchNormalization); a BatchNormalization after the output activation changes the probabilities "
     "(or values) the model predicts: move it before the output layer"),
    (lambda: seq(L.Flatten(), L.Dense(3, activation="softmax"), shape=(28, 28, 1)), {"expected_input": (None, 28, 28)},
     "input shape: expected (None, 28, 28), received (None, 28, 28, 1), at input 'input_layer'; the model must read "
     "the data as the assignment gives it: keras.Input(shape=(28, 28))"),
]


@pytest.mark.parametrize(("make", "kwargs", "first_line"), MISTAKES, ids=["dropout_keep_prob", "dense_dense",
                         "softmax_one_unit", "sigmoid_regression", "bn_after_output", "input_shape"])
def test_each_mistake_fails_with_its_sentence(make, kwargs, first_line):
    result = check_config_lint(make(), **kwargs)
    assert result.status == "failed"
    assert result.message.splitlines()[0].split("; also: ")[0] == first_line


def test_integer_labels_with_categorical_crossentropy_fail():
    model = seq(L.Dense(3, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    result = check_config_lint(model, labels="integers")
    assert result.message.splitlines()[0] == (
        "loss: expected sparse_categorical_crossentropy for labels given as integer class ids, received "
        "categorical_crossentropy, at the compiled loss; categorical_crossentropy expects one-hot rows: compile with "
        "loss=\"sparse_categorical_crossentropy\"")
    assert check_config_lint(model, labels="one_hot").passed


def test_every_reference_model_passes():
    from reference_models import catalog

    for entry in catalog(references_only=True):
        if "config_lint" not in (entry.spec.checks or ()):
            continue
        keras.backend.clear_session()
        result = check_config_lint(entry.build(), **check_kwargs(entry.spec, "config_lint"))
        assert result.status in ("passed", "skipped"), f"{entry.id}: {result.message}"


def compiled(optimizer: keras.optimizers.Optimizer) -> keras.Model:
    model = seq(L.Dense(8, activation="relu"), L.Dense(3, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    return model


def test_a_learning_rate_1000_times_too_large_fails_with_its_sentence():
    result = check_config_lint(compiled(keras.optimizers.Adam(1.0)))
    assert result.status == "failed"
    assert result.message.splitlines()[0] == (
        "learning rate: expected at most 0.1 for Adam, received learning_rate=1, at the Adam optimizer; Adam moves "
        "every weight by about the learning rate at each step, so 1 throws the weights far from any minimum; the "
        "usual range is 1e-4 to 1e-2 (Keras' default is 0.001): was a factor of 1000 slipped in?")
    sgd = check_config_lint(compiled(keras.optimizers.SGD(10.0)))
    assert sgd.message.startswith("learning rate: expected at most 1 for SGD, received learning_rate=10, at the SGD "
                                  "optimizer; SGD multiplies every gradient by the learning rate")


@pytest.mark.parametrize("optimizer", [lambda: keras.optimizers.Adam(1e-3), lambda: keras.optimizers.RMSprop(0.1),
                                       lambda: keras.optimizers.SGD(1.0), lambda: keras.optimizers.Adadelta(1.0),
                                       lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(
                                           1.0, 100, 0.5))],
                         ids=["adam_default", "rmsprop_at_limit", "sgd_at_limit", "adadelta_unjudged", "schedule"])
def test_usual_learning_rates_and_schedules_pass(optimizer):
    result = check_config_lint(compiled(optimizer()))
    assert result.passed, result.message
