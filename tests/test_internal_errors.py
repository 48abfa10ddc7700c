"""An exception in modelcheck's own code is an internal error with its traceback, never the
user's error; an exception in the user's code (or in Keras running the user's model) is."""

import keras
import numpy as np
import pytest
from keras import layers

import modelcheck as mc
from modelcheck.core.errors import InternalError, UserCodeError, call_user_code, raised_by_user
from modelcheck.model import inputs


def _bug_in_modelcheck(*args, **kwargs):
    return {}[0]  # a KeyError raised in a modelcheck module, as the subclassed-dict bug did


def test_a_bug_in_modelcheck_is_an_internal_error(monkeypatch):
    # imported before the patch: a check module imported under it would keep the bug bound by its
    # `from ..model.inputs import input_infos` for every later test in this process
    import modelcheck.checks.shapes  # noqa: F401

    monkeypatch.setattr(inputs, "input_infos", _bug_in_modelcheck)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    result = mc.check_output_shape(model, (None, 2))
    assert result.status == "error"
    assert result.message.startswith("internal error in modelcheck while running output_shape: KeyError")
    assert result.details["internal"] is True
    assert "_bug_in_modelcheck" in result.details["traceback"]
    assert "bug in modelcheck, not in your model" in result.hint


def test_numpy_called_by_modelcheck_is_ours_but_a_layer_raising_is_the_users():
    from modelcheck.model.outputs import describe_nonfinite

    with pytest.raises(InternalError) as info:
        call_user_code("describing values", describe_nonfinite, "not an array")  # NumPy raises, called by us
    assert str(info.value).startswith("internal error in modelcheck while describing values: TypeError")

    class Broken(layers.Layer):
        fail = False

        def call(self, x):
            if self.fail:
                raise ValueError("the student's layer is wrong")
            return x

    broken = Broken()
    model = keras.Sequential([keras.Input((3,)), broken])
    broken.fail = True
    with pytest.raises(UserCodeError) as info:
        call_user_code("running the model", model, np.zeros((2, 3), "float32"))
    assert raised_by_user(info.value.original)
    assert "the student's layer is wrong" in info.value.message


def test_user_error_stays_a_user_error():
    def builder():
        raise RuntimeError("no model today")

    result = mc.check_output_shape(builder)
    assert result.status == "error"
    assert "no model today" in result.message and not result.details.get("internal")


def test_fully_frozen_model_with_allow_frozen_is_skipped_not_a_crash():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    model.trainable = False
    result = mc.check_gradient_flow(model, allow_frozen=True)
    assert result.status == "skipped", result.message
    assert "every layer is frozen" in result.message
    assert mc.check_gradient_flow(model).status == "failed"
