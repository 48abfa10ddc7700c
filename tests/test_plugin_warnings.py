"""A clean project gets a clean run: modelcheck's items add nothing to the user's warnings summary
(neither the libraries' deprecation notices nor warnings that modelcheck's own calls cause),
while a warning raised by the user's builder is still shown."""

from __future__ import annotations

import pytest

MODELS = """
import warnings

import keras
from keras import layers


def build_wide_deep():
    # the inputs as a list of one, as the book writes it: the checks must call it that way
    input_ = keras.Input(shape=(8,))
    hidden = layers.Dense(30, activation="relu")(input_)
    concat = layers.Concatenate()([input_, hidden])
    model = keras.Model(inputs=[input_], outputs=[layers.Dense(1)(concat)])
    model.compile(loss="mean_squared_error", optimizer="sgd")
    return model


def build_noisy():
    warnings.warn("the builder's own warning", UserWarning)
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)])
"""

SPEC = """
[[model]]
builder = "models:build_wide_deep"
id = "wide_deep"
output_shape = [1]

[[model]]
builder = "models:build_noisy"
id = "noisy"
output_shape = [1]
checks = ["output_shape"]
"""


def test_only_the_users_own_warning_reaches_the_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(models=MODELS)
    pytester.makefile(".toml", modelcheck=SPEC)
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-checks=output_shape,param_count,"
                                           "gradient_flow,finite,batch_independence,input_dependence,"
                                           "loss_matches_output", "-p", "no:cacheprovider", "-W", "default")
    result.assert_outcomes(passed=8)  # output_shape of both models
    text = result.stdout.str()
    summary = text[text.index("warnings summary"):] if "warnings summary" in text else ""
    assert "the builder's own warning" in summary
    assert summary.count("Warning:") == 1, summary
