"""A spec can ask for its builder to be checked over generated arguments (issue 5)."""

from __future__ import annotations

import pytest

MODELS = """
import keras
from keras import layers


def build_model(n_hidden=1, n_neurons=30):
    model = keras.Sequential([keras.Input(shape=(8,))])
    for _ in range(n_hidden):
        model.add(layers.Dense(n_neurons, activation="relu"))
    model.add(layers.Dense(1))
    if n_hidden >= 2:  # a bug that only some arguments reach
        model.layers[1].trainable = False
    return model
"""

SPEC = """
[[model]]
builder = "mypkg.models:build_model"
output_shape = [1]
checks = ["output_shape", "gradient_flow"]
hypothesis = {{ n_hidden = {hidden}, n_neurons = [1, 99], max_examples = 8 }}
"""


@pytest.mark.parametrize("workers", [[], pytest.param(["-n", "2"], marks=pytest.mark.extended)], ids=["serial", "xdist"])
def test_generated_arguments_pass_and_fail_with_the_shrunk_call(pytester: pytest.Pytester, workers):
    package = pytester.mkpydir("mypkg")
    (package / "models.py").write_text(MODELS)
    pytester.makefile(".toml", modelcheck=SPEC.format(hidden="[0, 3]"))
    result = pytester.runpytest_subprocess("--modelcheck", "-p", "no:cacheprovider", *workers,
                                           "-k", "not architecture")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*build_model(n_hidden=2, n_neurons=1) fails gradient_flow:*frozen*"])


def test_a_space_that_avoids_the_bug_passes(pytester: pytest.Pytester):
    package = pytester.mkpydir("mypkg")
    (package / "models.py").write_text(MODELS)
    pytester.makefile(".toml", modelcheck=SPEC.format(hidden="[0, 1]"))
    result = pytester.runpytest_subprocess("--modelcheck", "-p", "no:cacheprovider", "-k", "not architecture", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*build_model::gradient_flow PASSED*"])


PROPERTY = """
from hypothesis import given, settings, strategies as st


@given(st.integers())
def test_profile(value):
    assert settings.default.max_examples == {examples}
"""


@pytest.mark.parametrize(("profile", "examples"), [("modelcheck-ci", 20), ("modelcheck-thorough", 500)])
def test_the_readmes_profiles_load_in_any_project(pytester: pytest.Pytester, profile: str, examples: int) -> None:
    """``pytest --hypothesis-profile=modelcheck-thorough`` in a project with no conftest of its own:
    the plugin registers the profiles before Hypothesis loads one (it was an INTERNALERROR)."""
    pytester.makepyfile(test_property=PROPERTY.format(examples=examples))
    result = pytester.runpytest_subprocess(f"--hypothesis-profile={profile}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
