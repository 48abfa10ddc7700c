"""The extension point for per-model items (architecture snapshots plug in here)."""

from __future__ import annotations

import pytest

CONFTEST = """
import pytest


class ParamsItem(pytest.Item):
    def runtest(self):
        model = self.parent.model()  # the model the check items share, not a new build
        assert model.count_params() == 195, f"{model.count_params()} parameters"


def pytest_modelcheck_model_items(node):
    return [ParamsItem.from_parent(node, name="params_seen")]
"""

MODELS = """
import pathlib

import keras
from keras import layers


def build_classifier():
    with open(pathlib.Path(__file__).with_name("builds.log"), "a") as log:
        log.write("build\\n")
    return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                             layers.Dense(3, activation="softmax")])
"""


def test_extra_items_join_the_model_and_share_its_build(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(conftest=CONFTEST, models=MODELS)
    pytester.makefile(".toml", modelcheck='[[model]]\nbuilder = "models:build_classifier"\nid = "clf"\n'
                                          'total_params = 195\nchecks = ["param_count"]\n')
    result = pytester.runpytest_subprocess("--modelcheck", "-v", "-p", "no:cacheprovider")
    # the plugin's own architecture item joins too (failing: no snapshot yet) and shares the build
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines_random(["modelcheck.toml::clf::param_count PASSED*",
                                        "modelcheck.toml::clf::params_seen PASSED*",
                                        "modelcheck.toml::clf::architecture FAILED*"])
    assert (pytester.path / "builds.log").read_text().splitlines() == ["build"]
