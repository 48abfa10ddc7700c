"""Results reach the pytest_modelcheck_results hook (the report's entry), with and without xdist,
from collected items and from the `modelcheck` fixture; each model is built once for its checks."""

from __future__ import annotations

import json

import pytest

MODELS = """
import pathlib

import keras
from keras import layers


def build_classifier():
    with open(pathlib.Path(__file__).with_name("builds.log"), "a") as log:
        log.write("build\\n")  # one line per build, to count them
    return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                             layers.Dense(3, activation="softmax")])
"""

SPEC = """
[[model]]
builder = "models:build_classifier"
id = "first"
output_shape = [3]
total_params = 195
checks = ["output_shape", "param_count", "gradient_flow"]

[[model]]
builder = "models:build_classifier"
id = "second"
output_shape = [3]
total_params = 195
checks = ["output_shape", "param_count", "gradient_flow"]
"""

TESTS = """
from models import build_classifier


def test_fixture_passes(modelcheck):
    result = modelcheck.check(build_classifier(), "output_shape", expected=(None, 3))
    assert result.passed


def test_fixture_fails(modelcheck):
    modelcheck.check(build_classifier(), "param_count", total=200)
"""

CONFTEST = """
import json


def pytest_modelcheck_results(config, results):
    with open("results.json", "w") as out:
        json.dump(results.records, out)
"""


@pytest.mark.parametrize("xdist", [[], pytest.param(["-n", "2"], marks=pytest.mark.extended)], ids=["serial", "xdist"])
def test_every_result_reaches_the_results_hook(pytester: pytest.Pytester, xdist: list[str]) -> None:
    pytester.makepyfile(models=MODELS, test_fixture=TESTS, conftest=CONFTEST)
    pytester.makefile(".toml", modelcheck=SPEC)
    result = pytester.runpytest_subprocess("--modelcheck", "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(passed=7, failed=3)  # + each model's architecture item: no snapshot yet
    result.stdout.fnmatch_lines([
        "*def test_fixture_fails(modelcheck):",
        ">       modelcheck.check(build_classifier(), \"param_count\", total=200)",
        "E       modelcheck.core.result.CheckFailed: total parameters: expected 200, received 195 (-5), at the whole model*",
    ])
    records = json.loads((pytester.path / "results.json").read_text())
    seen = sorted((r["nodeid"], r["result"]["check"], r["result"]["status"]) for r in records)
    assert seen == sorted([
        *((f"modelcheck.toml::{model}::{check}", check, "passed")
          for model in ("first", "second") for check in ("output_shape", "param_count", "gradient_flow")),
        *((f"modelcheck.toml::{model}::architecture", "architecture", "failed") for model in ("first", "second")),
        ("test_fixture.py::test_fixture_passes", "output_shape", "passed"),
        ("test_fixture.py::test_fixture_fails", "param_count", "failed"),
    ])
    assert {r["model"] for r in records if r["nodeid"].startswith("modelcheck.toml")} == {"first", "second"}
    result.stdout.fnmatch_lines(["*modelcheck summary*"])
    # a line per check, in the order results arrived (with -n 2, whichever worker finished first)
    result.stdout.fnmatch_lines_random(["output_shape   3 passed", "param_count    2 passed, 1 failed",
                                        "gradient_flow  2 passed", "architecture   2 failed"])


def test_each_model_is_built_once_for_all_its_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(models=MODELS)
    pytester.makefile(".toml", modelcheck=SPEC)
    result = pytester.runpytest_subprocess("--modelcheck", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, failed=2)  # the architecture items (no snapshot yet) share the build too
    assert (pytester.path / "builds.log").read_text().splitlines() == ["build", "build"]
