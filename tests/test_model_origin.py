"""Whose code an object is, told by its file: a user's module named like Keras' (keras_model.py,
a file students often write) is still the user's code."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import keras
import pytest

from modelcheck.checks.loss_config import check_loss_matches_output
from modelcheck.checks.saving import serialisation_problems
from modelcheck.model.engine import own_training
from modelcheck.model.origin import held_functions, is_library_code, source_file

USER_CODE = textwrap.dedent('''
    import keras

    def relu(x):
        return x

    class Twice(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    class Quiet(keras.layers.Dense):
        pass

    class Stepper(keras.Model):
        def train_step(self, data):
            return {"loss": 0.0}
''')


@pytest.fixture
def keras_named_module(tmp_path, monkeypatch):
    """The user's code in a file called keras_model.py, imported as the module keras_model."""
    path = tmp_path / "keras_model.py"
    path.write_text(USER_CODE)
    spec = importlib.util.spec_from_file_location("keras_model", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "keras_model", module)
    spec.loader.exec_module(module)
    return module


def test_keras_own_objects_are_library_code():
    import tensorflow as tf

    for obj in (keras.layers.Dense, keras.activations.relu, keras.losses.MeanSquaredError, keras.Model.train_step,
                keras.layers.InputLayer, tf.nn.relu):
        assert is_library_code(obj), obj


def test_user_code_in_a_module_named_like_keras_is_not(keras_named_module):
    module = keras_named_module
    assert module.Twice.__module__.startswith("keras")
    for obj in (module.relu, module.Twice, module.Quiet, module.Stepper.train_step):
        assert not is_library_code(obj), obj
    assert source_file(module.Quiet) == module.__file__  # defines no method: its module's file
    assert not is_library_code(eval("lambda x: x"))  # made at run time: no file


def test_held_functions_lists_plain_functions_by_attribute(keras_named_module):
    layer = keras.layers.Dense(2, activation=keras_named_module.relu)
    held = [(attribute, fn.__name__) for _, attribute, fn in held_functions([layer]) if not is_library_code(fn)]
    assert held == [("activation", "relu")]  # Keras' own wrappers (build...) are library code


def test_own_train_step_in_a_keras_named_module_is_own_training(keras_named_module):
    inputs = keras.Input((3,))
    model = keras_named_module.Stepper(inputs, keras.layers.Dense(1)(inputs))
    assert own_training(model) == "train_step"
    assert own_training(keras.Model(inputs, keras.layers.Dense(1)(inputs))) is None


def test_saving_names_unregistered_user_code_in_a_keras_named_module(keras_named_module):
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, activation=keras_named_module.relu)(inputs)
    model = keras.Model(inputs, keras_named_module.Twice()(hidden))
    problems = " ".join(serialisation_problems(model))
    assert "the custom function relu" in problems
    assert "the custom class Twice is not registered" in problems


def test_output_activation_of_a_user_layer_in_a_keras_named_module_is_not_read(keras_named_module):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras_named_module.Twice()(keras.layers.Dense(3, activation="softmax")(inputs)))
    model.compile(loss="mse")
    result = check_loss_matches_output(model)
    assert result.status == "skipped" and "custom Twice layer" in result.message
