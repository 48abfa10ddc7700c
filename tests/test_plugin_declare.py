"""Builders decorated with @modelcheck.expect: the decorator, and their collection."""

from __future__ import annotations

import pytest

import modelcheck
from modelcheck.plugin.sources.declare import spec_of
from modelcheck.core.errors import SpecError


def test_expect_attaches_a_per_sample_spec_and_keeps_the_function() -> None:
    def build_classifier() -> None:
        return None

    decorated = modelcheck.expect(input_shape=(None, 8), output_shape=[(None, 1), (None, 3)],
                                  total_params=195, output=["binary", "probabilities"],
                                  checks=["param_count"])(build_classifier)
    assert decorated is build_classifier
    spec = spec_of(decorated)
    assert spec is not None
    assert (spec.id, spec.input_shape, spec.output_shape) == ("build_classifier", (8,), [(1,), (3,)])
    assert (spec.total_params, spec.checks, spec.builder) == (195, ("param_count",), build_classifier)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output_shape": (10,)}, "`output_shape` takes a shape as Keras prints it, with the batch dimension "
                                  "None first, e.g. output_shape=(None, 10); received output_shape=(10,)"),
        ({"checks": ["param_cont"]}, "unknown check 'param_cont' in `checks`; did you mean 'param_count'? "
                                     "known checks are output_shape, "),
        ({"checks": "param_count"}, "write checks=['param_count']"),
        ({"options": {"overfit": {"max_steps": 5}}}, "`options` names no check 'overfit'"),
        ({"total_params": -1}, "`total_params` must be a whole number >= 0, received -1"),
    ],
    ids=["shape-without-batch", "unknown-check", "checks-as-string", "options-unknown-check", "negative-count"],
)
def test_expect_rejects_bad_arguments_naming_argument_and_value(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError) as raised:
        modelcheck.expect(**kwargs)(lambda: None)
    assert message in str(raised.value)


BUILDERS = """
import keras
from keras import layers
import modelcheck


@modelcheck.expect(output_shape=(None, 3), total_params={total}, checks=["output_shape", "param_count"])
def build_classifier():
    return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                             layers.Dense(3, activation="softmax")])
"""


def test_decorated_builders_in_test_modules_and_modelcheck_modules_are_collected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_models=BUILDERS.format(total=195) + "\n\ndef test_plain():\n    pass\n")
    pytester.makepyfile(modelcheck_models=BUILDERS.format(total=200))
    # an imported builder is collected where it is defined, not again where it is imported
    pytester.makepyfile(test_imports="from test_models import build_classifier\n")
    result = pytester.runpytest_subprocess("--modelcheck", "-v", "-p", "no:cacheprovider")
    # every declared model also gets its architecture item; these two share an id in one folder, so they
    # would share one snapshot file, and both items say so
    result.assert_outcomes(passed=4, failed=3)
    result.stdout.fnmatch_lines_random([
        "modelcheck_models.py::build_classifier::output_shape PASSED*",
        "modelcheck_models.py::build_classifier::param_count FAILED*",
        "modelcheck_models.py::build_classifier::architecture FAILED*",
        "test_models.py::build_classifier::output_shape PASSED*",
        "test_models.py::build_classifier::param_count PASSED*",
        "test_models.py::build_classifier::architecture FAILED*",
        "test_models.py::test_plain PASSED*",
        "total parameters: expected 200, received 195 (-5), at the whole model*",
        "*Hint: Give each its own id: @modelcheck.expect(id=*",
    ])
    assert "test_imports.py::" not in result.stdout.str()


ARGUMENTS = """
import keras
from keras import layers
import modelcheck


@modelcheck.expect(output_shape=(None, 3), checks=["output_shape"])
def build_wide(units):
    return keras.Sequential([keras.Input((4,)), layers.Dense(units, activation="relu"), layers.Dense(3)])


@modelcheck.expect(output_shape=(None, 3), checks=["output_shape"], builder_kwargs={"units": 5})
def build_given(units):
    return keras.Sequential([keras.Input((4,)), layers.Dense(units, activation="relu"), layers.Dense(3)])
"""


def test_a_builder_whose_parameters_nothing_gives_is_told_where_to_give_them(pytester: pytest.Pytester) -> None:
    """Python's "missing 1 required positional argument" alone does not say that arguments come
    from builder_kwargs: the error names the arguments given and the fix."""
    pytester.makepyfile(modelcheck_models=ARGUMENTS)
    result = pytester.runpytest_subprocess("--modelcheck", "-k", "not architecture", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, deselected=2)
    result.stdout.fnmatch_lines([
        "build_wide() cannot be called with no arguments: missing a required argument: 'units'",
        "Hint: give the builder's parameters default values, or pass them as builder_kwargs*",
    ])
