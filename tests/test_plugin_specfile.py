"""Spec files: modelcheck.toml and [tool.modelcheck], their items, failures and usage errors."""

from __future__ import annotations

import pytest

MODELS = """
import keras
from keras import layers


def build_classifier(units=16):
    return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(units, activation="relu"),
                             layers.Dense(3, activation="softmax")])


def build_keras1():
    return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(output_dim=3)])
"""

# 8 -> 16 -> 3: (8 + 1) * 16 + (16 + 1) * 3 = 195 parameters
CLASSIFIER = """
[[model]]
builder = "mypkg.models:build_classifier"
id = "classifier"
input_shape = [8]
output_shape = [3]
total_params = {total}
output = "probabilities"
checks = ["output_shape", "param_count", "gradient_flow"]
"""


def make_project(pytester: pytest.Pytester, spec: str) -> None:
    """A user project: the package `mypkg` with its builders, and `spec` as modelcheck.toml."""
    package = pytester.mkpydir("mypkg")
    (package / "models.py").write_text(MODELS)
    pytester.makefile(".toml", modelcheck=spec)


def test_a_correct_model_passes_every_check(pytester: pytest.Pytester) -> None:
    make_project(pytester, CLASSIFIER.format(total=195))
    # the spec's checks; its architecture item (no snapshot kept here) is tests/test_plugin_snapshot.py's
    result = pytester.runpytest_subprocess("--modelcheck", "-v", "-k", "not architecture", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, deselected=1)
    result.stdout.fnmatch_lines([
        "modelcheck.toml::classifier::output_shape PASSED*",
        "modelcheck.toml::classifier::param_count PASSED*",
        "modelcheck.toml::classifier::gradient_flow PASSED*",
    ])


@pytest.mark.parametrize("xdist", [[], pytest.param(["-n", "2"], marks=pytest.mark.extended)], ids=["serial", "xdist"])
def test_a_wrong_parameter_count_fails_with_the_checks_message(pytester: pytest.Pytester, xdist: list[str]) -> None:
    make_project(pytester, CLASSIFIER.format(total=200))
    # the spec's checks only (-k would do, but xdist does not count deselected items)
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-checks=output_shape,param_count,gradient_flow",
                                           "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*_ [[]modelcheck[]] classifier::param_count _*",
        "total parameters: expected 200, received 195 (-5), at the whole model*",
        "FAILED modelcheck.toml::classifier::param_count - total parameters: expected *",
    ])
    assert "Traceback" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*modelcheck summary*", "param_count    1 failed"])


def test_pyproject_tool_table_is_a_spec_file(pytester: pytest.Pytester) -> None:
    package = pytester.mkpydir("mypkg")
    (package / "models.py").write_text(MODELS)
    pytester.makepyprojecttoml(CLASSIFIER.format(total=195).replace("[[model]]", "[[tool.modelcheck.model]]"))
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-checks=param_count", "-v",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["pyproject.toml::classifier::param_count PASSED*"])


def test_a_builder_that_raises_shows_the_users_error_and_hint_not_a_traceback(pytester: pytest.Pytester) -> None:
    make_project(pytester, '[[model]]\nbuilder = "mypkg.models:build_keras1"\nchecks = ["output_shape"]\n')
    result = pytester.runpytest_subprocess("--modelcheck", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)  # output_shape and the architecture item: neither has a model
    result.stdout.fnmatch_lines([
        "build_keras1() raised TypeError: `Dense(output_dim=...)` is the Keras 1 spelling*",
        "  at *models.py:*: return keras.Sequential(*output_dim=3*",
        "Hint: write `layers.Dense(units=64)`*",
    ])
    result.stdout.fnmatch_lines_random([
        "FAILED modelcheck.toml::build_keras1::output_shape - build_keras1() raised*",
        "FAILED modelcheck.toml::build_keras1::architecture - build_keras1() raised*",
    ])
    output = result.stdout.str()
    assert "Traceback" not in output and "keras/src" not in output


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ('[[model]]\nbuilder = "mypkg.models:build_classifier"\nouput_shape = [3]\n',
         "usage error: modelcheck.toml [[][[]model[]][]] #1: unknown key 'ouput_shape' (value *); did you mean 'output_shape'? allowed keys are *"),
        ('[[model]]\nbuilder = "mypkg.models:build_classifier"\ntotal_params = "195"\n',
         "usage error: modelcheck.toml [[][[]model[]][]] #1: `total_params` must be a int, received '195' (str)"),
        ('[[model]]\nbuilder = "mypkg.nothere:build"\n',
         "usage error: modelcheck.toml [[][[]model[]][]] #1: cannot import module 'mypkg.nothere' for builder "
         "'mypkg.nothere:build' (looked in *); check the module path, relative to that folder"),
        ('[[model]]\nbuilder = "mypkg.models:build_nothing"\n',
         "usage error: modelcheck.toml [[][[]model[]][]] #1: module 'mypkg.models' has no attribute 'build_nothing'*"),
        ('[model]\nbuilder = "mypkg.models:build_classifier"\n',
         "usage error: modelcheck.toml: `model` is a single table; write `[[][[]model[]][]]` (two brackets) for each model"),
        ('[[model]]\nbuilder = mypkg.models:build_classifier\n',
         "usage error: modelcheck.toml: not valid TOML (*line 2*); fix the syntax at that line"),
        ('[[model]]\nbuilder = "mypkg.models:build_classifier"\nchecks = ["param_cont"]\n',
         "usage error: modelcheck.toml [[][[]model[]][]] #1: unknown check 'param_cont' in `checks`; "
         "did you mean 'param_count'? known checks are *"),
    ],
    ids=["unknown-key", "wrong-type", "missing-module", "missing-function", "single-table", "bad-toml",
         "unknown-check"],
)
def test_a_broken_spec_file_is_a_usage_error_naming_file_key_and_value(
        pytester: pytest.Pytester, spec: str, message: str) -> None:
    make_project(pytester, spec)
    result = pytester.runpytest_subprocess("--modelcheck", "--collect-only", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting modelcheck.toml*", message])
    assert "Traceback" not in result.stdout.str()


DICT_MODELS = """
import keras
from keras import layers


def build_functional():
    numeric = keras.Input(shape=(5,), name="numeric")
    category = keras.Input(shape=(1,), dtype="int32", name="category")
    embedded = layers.Flatten()(layers.Embedding(10, 4)(category))
    hidden = layers.Dense(8, activation="relu")(layers.Concatenate()([numeric, embedded]))
    return keras.Model({"numeric": numeric, "category": category}, layers.Dense(3, activation="softmax")(hidden))


class TwoTowers(keras.Model):
    def __init__(self):
        super().__init__()
        self.left = layers.Dense(4, activation="relu")
        self.right = layers.Dense(4, activation="relu")
        self.head = layers.Dense(1)

    def call(self, inputs):
        return self.head(keras.ops.concatenate([self.left(inputs["a"]), self.right(inputs["b"])], axis=-1))


def build_subclassed():
    return TwoTowers()
"""

DICT_SPEC = """
[[model]]
builder = "mypkg.models:build_functional"
input_shape = {{ numeric = [{numeric}], category = [1] }}
output_shape = [3]
checks = ["output_shape"]

[[model]]
builder = "mypkg.models:build_subclassed"
input_shape = {{ a = [3], b = [2] }}
output_shape = [1]
total_params = 37
checks = ["output_shape", "param_count"]
"""


def test_input_shape_may_name_each_input_of_a_dict_model(pytester: pytest.Pytester) -> None:
    """A spec file's `input_shape` takes a table by input name, as `output_shape` and
    `@modelcheck.expect` do: it is checked per input, and builds a subclassed model on dict inputs."""
    package = pytester.mkpydir("mypkg")
    (package / "models.py").write_text(DICT_MODELS)
    pytester.makefile(".toml", modelcheck=DICT_SPEC.format(numeric=5))
    result = pytester.runpytest_subprocess("--modelcheck", "-k", "not architecture", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, deselected=2)
    pytester.makefile(".toml", modelcheck=DICT_SPEC.format(numeric=6))
    result = pytester.runpytest_subprocess("--modelcheck", "-k", "not architecture", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, deselected=2)
    result.stdout.fnmatch_lines(["*input shape: expected (None, 6), received (None, 5), at input 'numeric'*"])


def test_a_builder_error_is_shown_whole_once_per_model_not_once_per_check(pytester: pytest.Pytester) -> None:
    """A builder that raises failed every check item with the same several lines (Keras' call
    arguments, the user's line, the hint): a wall of 10 copies. The first item shows it all; the
    others its first line and where the rest is."""
    make_project(pytester, '[[model]]\nbuilder = "mypkg.models:build_keras1"\n'
                 'checks = ["output_shape", "param_count", "gradient_flow"]\n')
    result = pytester.runpytest_subprocess("--modelcheck", "-k", "not architecture", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=3, deselected=1)
    # count in the failure reports only: on CI (CI=true) pytest repeats full messages in its short summary
    text = result.stdout.str().split("short test summary info")[0]
    assert text.count("Hint: ") == 1, text
    result.stdout.fnmatch_lines([
        "*build_keras1::param_count*",
        "build_keras1() raised TypeError: `Dense(output_dim=...)` is the Keras 1 spelling*",
        "(the model could not be built; the whole error is shown under "
        "modelcheck.toml::build_keras1::output_shape)",
    ])
