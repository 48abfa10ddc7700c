"""Options and their ini equivalents: seed, check subset, step budgets and timeouts."""

from __future__ import annotations

import pytest

from modelcheck.core.environment import keras_backend

MODELS = """
import keras
from keras import layers


def build_classifier():
    return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                             layers.Dense(3, activation="softmax")])
"""

SPEC = """
[[model]]
builder = "models:build_classifier"
id = "classifier"
output_shape = [3]
total_params = 195
output = "probabilities"
checks = ["output_shape", "param_count", "overfit_batch"]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(models=MODELS)
    pytester.makefile(".toml", modelcheck=SPEC)
    return pytester


def test_header_shows_versions_and_the_seed(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--modelcheck", "--modelcheck-seed=7", "--collect-only",
                                          "-p", "no:cacheprovider")
    framework = {"tensorflow": "tensorflow 2.*", "jax": "jax 0.*", "torch": "torch 2.*"}[keras_backend()]
    result.stdout.fnmatch_lines([f"modelcheck 0.*, keras 3.* on {framework}, seed 7"])


def test_checks_option_collects_only_the_subset(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--modelcheck", "--modelcheck-checks=param_count, output_shape",
                                          "--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["modelcheck.toml::classifier::output_shape",
                                 "modelcheck.toml::classifier::param_count", "2 tests collected*"])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--modelcheck-checks=param_count,shape",
         "ERROR: --modelcheck-checks: unknown check 'shape'; known checks are output_shape, param_count, *"),
        ("--modelcheck-checks=gradient_flows",
         "ERROR: --modelcheck-checks: unknown check 'gradient_flows'; did you mean 'gradient_flow'? known checks are *"),
        ("--modelcheck-steps=param_count=5",
         "ERROR: --modelcheck-steps: 'param_count' is not a training check; budgets apply to overfit_batch, *"),
        ("--modelcheck-steps=many", "ERROR: --modelcheck-steps: expected a positive int, received 'many'; *"),
        ("--modelcheck-timeout=-1", "ERROR: --modelcheck-timeout: expected a positive float, received '-1'; *"),
        ("--modelcheck-seed=x", "ERROR: --modelcheck-seed: expected a whole number, received 'x'; *"),
    ],
    ids=["unknown-check", "misspelt-check", "steps-not-training", "steps-not-a-number", "negative-timeout", "bad-seed"],
)
def test_a_bad_option_value_is_a_usage_error(project: pytest.Pytester, option: str, message: str) -> None:
    result = project.runpytest_subprocess("--modelcheck", option, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_ini_options_work_without_command_line_flags(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nmodelcheck = true\nmodelcheck_checks = param_count\nmodelcheck_seed = 3\n")
    result = project.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*, seed 3", "modelcheck.toml::classifier::param_count PASSED*"])


def test_step_budget_reaches_the_training_check(project: pytest.Pytester) -> None:
    # -k deselects the other checks: output_shape, param_count and the architecture item
    passing = project.runpytest_subprocess("--modelcheck", "-k", "overfit_batch", "-p", "no:cacheprovider")
    passing.assert_outcomes(passed=1, deselected=3)
    starved = project.runpytest_subprocess("--modelcheck", "-k", "overfit_batch", "--modelcheck-steps=1",
                                           "-p", "no:cacheprovider")
    starved.assert_outcomes(failed=1, deselected=3)
    starved.stdout.fnmatch_lines(["memorising one batch of 8 samples: expected *at the end of training (within the budget of 1 steps)*"])


def test_timeout_reaches_the_training_check(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--modelcheck", "-k", "overfit_batch",
                                          "--modelcheck-timeout=overfit_batch=0.000001", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["memorising one batch of *stopped by the 1e-06 s timeout after * steps*"])


SEQUENCE_MODELS = """
import keras
from keras import layers


def build_conv():
    return keras.Sequential([keras.Input(shape=(None, 2)), layers.Conv1D(4, 5), layers.GlobalAveragePooling1D(),
                             layers.Dense(1)])
"""

SEQUENCE_SPEC = """
[[model]]
builder = "models:build_conv"
id = "conv"
output_shape = [1]
checks = ["output_shape"]
"""


def test_sequence_length_reaches_the_synthetic_inputs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(models=SEQUENCE_MODELS)
    pytester.makefile(".toml", modelcheck=SEQUENCE_SPEC)
    enough = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-sequence-length=64", "-k", "output_shape",
                                           "-p", "no:cacheprovider")
    enough.assert_outcomes(passed=1, deselected=1)
    too_short = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-sequence-length=3", "-k", "output_shape",
                                              "-p", "no:cacheprovider")
    too_short.assert_outcomes(failed=1, deselected=1)  # a kernel of 5 cannot slide over 3 steps
    wrong = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-sequence-length=abc", "-p", "no:cacheprovider")
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    wrong.stderr.fnmatch_lines(["*--modelcheck-sequence-length: expected a positive whole number, received 'abc'*"])


def test_an_internal_error_shows_its_traceback_and_is_not_the_users(project: pytest.Pytester) -> None:
    project.makeconftest("""
        import modelcheck.checks.params as params

        def broken(model):
            raise ZeroDivisionError("a bug in modelcheck")

        params.param_counts = broken
        """)
    result = project.runpytest_subprocess("--modelcheck", "-k", "param_count", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["internal error in modelcheck*", "*Traceback*", "*ZeroDivisionError: a bug in modelcheck*"])


def test_model_timeout_skips_the_checks_past_the_budget(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--modelcheck", "--modelcheck-model-timeout=0.000001", "-rs",
                                          "-k", "not architecture", "-p", "no:cacheprovider")
    # output_shape runs (nothing spent yet); the checks after it would overrun the budget
    result.assert_outcomes(passed=1, skipped=2, deselected=1)
    result.stdout.fnmatch_lines(["SKIPPED * not run: the model's time budget of 1e-06 s is spent (*"])


def test_a_skip_is_told_at_its_model_and_check_not_inside_modelcheck(project: pytest.Pytester) -> None:
    # -rs printed ".../modelcheck/plugin/nodes.py:164: <reason>", once for both checks, naming neither
    result = project.runpytest_subprocess("--modelcheck", "--modelcheck-model-timeout=0.000001", "-rs",
                                          "-k", "not architecture", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines_random([
        "SKIPPED [[]1[]] modelcheck.toml: classifier::param_count: not run: the model's time budget *",
        "SKIPPED [[]1[]] modelcheck.toml: classifier::overfit_batch: not run: the model's time budget *"])
    result.stdout.no_fnmatch_line("*nodes.py*")


def test_model_timeout_from_the_spec_and_the_ini_file(project: pytest.Pytester) -> None:
    project.makefile(".toml", modelcheck=SPEC + "model_timeout = 0.000001\n")
    run = ("--modelcheck", "-k", "not architecture", "-p", "no:cacheprovider")
    project.runpytest_subprocess(*run).assert_outcomes(passed=1, skipped=2, deselected=1)
    project.makefile(".toml", modelcheck=SPEC)
    project.makeini("[pytest]\nmodelcheck_model_timeout = 0.000001\n")
    project.runpytest_subprocess(*run).assert_outcomes(passed=1, skipped=2, deselected=1)


def test_a_bad_model_timeout_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--modelcheck", "--modelcheck-model-timeout=0", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --modelcheck-model-timeout: expected a positive number of seconds, "
                                 "received '0'; try --modelcheck-model-timeout=30"])


def test_checks_option_adds_an_on_request_check_to_models_that_do_not_list_theirs(pytester: pytest.Pytester) -> None:
    """``--modelcheck-checks=save_load`` collected nothing at all (save_load is not a default check),
    silently; it now runs on every model whose spec leaves its checks to the defaults."""
    pytester.makepyfile(models=MODELS)
    pytester.makefile(".toml", modelcheck=SPEC.replace('id = "classifier"', 'id = "listed"') +
                      '\n[[model]]\nbuilder = "models:build_classifier"\nid = "classifier"\n')
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-checks=save_load,param_count",
                                           "--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["modelcheck.toml::listed::param_count", "modelcheck.toml::classifier::param_count",
                                 "modelcheck.toml::classifier::save_load", "3 tests collected*"])
