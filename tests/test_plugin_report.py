"""`--modelcheck-report DIR` through pytest: written once (also with -n 2), path printed, verdict
cells, the layer table with highlighted mismatches, and the `modelcheck` fixture's results."""

from __future__ import annotations

import json
import re

import pytest

MODELS = """
import keras
from keras import layers


def build_classifier():
    return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="relu", name="hidden"),
                             layers.Dense(3, activation="softmax", name="probs")])


def build_broken():
    raise RuntimeError("the builder is broken on purpose")
"""

# "wrong" expects 20 hidden units' parameters (180) where the model has 16 (144)
SPEC = """
[[model]]
builder = "models:build_classifier"
id = "good"
output_shape = [3]
total_params = 195
checks = ["output_shape", "param_count"]

[[model]]
builder = "models:build_classifier"
id = "wrong"
total_params = 231
layer_params = [180, 51]
checks = ["param_count"]

[[model]]
builder = "models:build_broken"
id = "broken"
checks = ["output_shape"]
"""

TESTS = """
from models import build_classifier


def test_with_the_fixture(modelcheck):
    modelcheck.check(build_classifier(), "output_shape", expected=(None, 3))
"""


def verdicts(index: str) -> dict[tuple[str, str], str]:
    """(model, check) -> verdict, from the index's table (a row per model, a column per check)."""
    head, body = index.split("</thead>", 1)
    checks = re.findall(r'<th title="[^"]*">([^<]+)</th>', head)
    cells = {}
    for model, row in re.findall(r'<tr data-model="([^"]*)">(.*?)</tr>', body, re.S):
        for check, cell in zip(checks, re.findall(r'<td class="verdict">(.*?)</td>', row, re.S)):
            verdict = re.search(r'data-verdict="(\w+)"', cell)
            if verdict:
                cells[(model, check)] = verdict.group(1)
    return cells


@pytest.mark.parametrize("xdist", [[], pytest.param(["-n", "2"], marks=pytest.mark.extended)], ids=["serial", "xdist"])
def test_the_report_is_written_once_with_every_verdict_and_its_path_printed(
        pytester: pytest.Pytester, xdist: list[str]) -> None:
    pytester.makepyfile(models=MODELS, test_fixture=TESTS)
    pytester.makefile(".toml", modelcheck=SPEC)
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-report", "reports/latest",
                                           "-p", "xdist", "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(passed=3, failed=5)  # + every model's architecture item: no snapshots kept
    result.stdout.fnmatch_lines(["modelcheck report: reports/latest/index.html"])
    assert result.stdout.str().count("modelcheck report:") == 1

    out = pytester.path / "reports" / "latest"
    index = (out / "index.html").read_text()
    assert verdicts(index) == {
        ("broken", "architecture"): "error",
        ("broken", "output_shape"): "error",
        ("good", "architecture"): "failed",
        ("good", "output_shape"): "passed",
        ("good", "param_count"): "passed",
        ("test_fixture.py::test_with_the_fixture", "output_shape"): "passed",
        ("wrong", "architecture"): "failed",
        ("wrong", "param_count"): "failed",
    }
    run = json.loads((out / "report.json").read_text())
    assert run["seed"] == 0 and run["command"].startswith("pytest ") and "--modelcheck-report reports/latest" in run["command"]

    # the layer table of the model page, with the hidden layer's count highlighted
    wrong = (out / "models" / "wrong.html").read_text()
    mismatch = re.findall(r'<td class="num mismatch" data-mismatch="true">([^<]*)<span class="expected">([^<]*)</span>',
                          wrong)
    assert ("144 ", "expected 180") in mismatch
    assert "hidden" in wrong and "probs" in wrong
    broken = (out / "models" / "broken.html").read_text()
    assert "the builder is broken on purpose" in broken


def test_no_report_without_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(models=MODELS)
    pytester.makefile(".toml", modelcheck=SPEC)
    result = pytester.runpytest_subprocess("--modelcheck", "-p", "no:cacheprovider", "-k", "good")
    result.assert_outcomes(passed=2, failed=1, deselected=4)  # good::architecture fails: no snapshot
    assert "modelcheck report:" not in result.stdout.str()
    assert not list(pytester.path.rglob("index.html"))
