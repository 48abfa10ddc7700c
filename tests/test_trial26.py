"""Trial 26: a new user following README.md from top to bottom (TensorFlow only)."""

from __future__ import annotations

import keras
import pytest
from keras import layers, ops

import modelcheck as mc
from modelcheck.model import backend

OTHERS = [name for name in backend.installed() if name != backend.name()]


@keras.saving.register_keras_serializable(package="modelcheck_trial26")
class ScriptSquare(layers.Layer):
    """A portable layer (keras.ops only), as a user defines it in the script that calls the check."""

    def call(self, x):
        return ops.square(x)


@pytest.mark.skipif(not OTHERS, reason="only one Keras backend is installed")
def test_backend_parity_does_not_blame_a_portable_layer_defined_in_the_running_script(monkeypatch):
    # `python my_script.py` or a notebook: the class lives in __main__, which the other backends'
    # processes cannot import; their load failed and the portable layer was told to use keras.ops
    monkeypatch.setattr(ScriptSquare, "__module__", "__main__")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(2)(ScriptSquare(name="script_square")(inputs)))
    result = mc.check_backend_parity(model)
    assert result.status == "skipped", result.message
    assert "ScriptSquare is defined in __main__" in result.message
    assert "define it at the top level of a module" in result.message
    assert "keras.ops" not in result.message
