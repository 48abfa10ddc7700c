"""Each (model, check) is an ordinary item: ids, -m modelcheck, -k, -x, --lf and --junitxml work."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

MODELS = """
import keras
from keras import layers


def build_classifier():
    return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                             layers.Dense(3, activation="softmax")])
"""

# "bad" expects 200 parameters where the model has 195; its param_count comes first for -x.
# No snapshots are kept: each model's architecture item (after its checks) fails until one is written.
SPEC = """
[[model]]
builder = "models:build_classifier"
id = "good"
output_shape = [3]
total_params = 195
checks = ["output_shape", "param_count"]

[[model]]
builder = "models:build_classifier"
id = "bad"
output_shape = [3]
total_params = 200
checks = ["param_count", "output_shape"]
"""

IDS = [
    "modelcheck.toml::good::output_shape",
    "modelcheck.toml::good::param_count",
    "modelcheck.toml::good::architecture",
    "modelcheck.toml::bad::param_count",
    "modelcheck.toml::bad::output_shape",
    "modelcheck.toml::bad::architecture",
]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(models=MODELS)
    pytester.makefile(".toml", modelcheck=SPEC)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    return pytester


def test_ids_are_file_model_check_and_the_marker_selects_them(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--modelcheck", "--collect-only", "-q", "-m", "modelcheck",
                                          "--strict-markers", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([*IDS, "6/7 tests collected (1 deselected)*"])


def test_k_selects_one_check_of_every_model(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--modelcheck", "-k", "param_count", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, deselected=5)


def test_x_stops_at_the_first_failing_check(project: pytest.Pytester) -> None:
    # without the architecture items (good's would fail first), bad::param_count is the first failure
    result = project.runpytest_subprocess("--modelcheck", "-x", "-m", "modelcheck", "-k", "not architecture",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, deselected=3)
    result.stdout.fnmatch_lines(["FAILED modelcheck.toml::bad::param_count - *"])
    assert "bad::output_shape" not in result.stdout.str()


def test_lf_reruns_only_the_failed_check(project: pytest.Pytester) -> None:
    first = project.runpytest_subprocess("--modelcheck", "-m", "modelcheck")
    first.assert_outcomes(passed=3, failed=3, deselected=1)
    again = project.runpytest_subprocess("--modelcheck", "--lf", "-v")
    again.assert_outcomes(failed=3, deselected=4)
    again.stdout.fnmatch_lines(["run-last-failure: rerun previous 3 failures*",
                                "modelcheck.toml::good::architecture FAILED*",
                                "modelcheck.toml::bad::param_count FAILED*",
                                "modelcheck.toml::bad::architecture FAILED*"])


def test_junitxml_lists_every_item_with_its_failure_message(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--modelcheck", "-m", "modelcheck", "--junitxml=out.xml",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=3, deselected=1)
    cases = ET.parse(project.path / "out.xml").getroot().iter("testcase")
    names = {f"{case.get('classname')}::{case.get('name')}": case for case in cases}
    assert sorted(names) == sorted(["modelcheck.toml.good::output_shape", "modelcheck.toml.good::param_count",
                                    "modelcheck.toml.good::architecture", "modelcheck.toml.bad::param_count",
                                    "modelcheck.toml.bad::output_shape", "modelcheck.toml.bad::architecture"])
    failure = names["modelcheck.toml.bad::param_count"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("total parameters: expected 200, received 195")
    missing = names["modelcheck.toml.good::architecture"].find("failure")
    assert missing is not None
    assert missing.get("message", "").startswith("architecture snapshot: expected a stored snapshot good.json, received no snapshot file, at model 'good'")
    assert names["modelcheck.toml.good::param_count"].find("failure") is None
