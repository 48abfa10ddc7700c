"""keras.applications models (weights=None): no false alarm from the static and forward checks,
and parameter counts as Keras documents them (include_top, 1000 classes: global pooling makes
the count independent of the input size, so small inputs keep the run cheap)."""

from __future__ import annotations

import keras
import pytest

import modelcheck as mc

CHECKS = ["output_shape", "gradient_flow", "finite", "batch_independence", "input_dependence"]

# name -> (builder kwargs, documented parameter count, input size)
FAST = {
    "MobileNetV2": ({}, 3_538_984, 96),
    "EfficientNetB0": ({}, 5_330_571, 96),
}
SLOW = {
    "MobileNet": ({}, 4_253_864, 128),
    "ResNet50": ({}, 25_636_712, 64),
    "DenseNet121": ({}, 8_062_504, 64),
    "InceptionV3": ({}, 23_851_784, 96),
    "Xception": ({}, 22_910_480, 96),
    "NASNetMobile": ({}, 5_326_716, 224),
}


def _check(name, kwargs, documented, size):
    model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3), **kwargs)
    count = mc.check_param_count(model, total=documented)
    assert count.passed, count.message
    results = mc.run_checks(model, CHECKS, output_shape=(1000,))
    problems = [f"{r.check}: {r.message}" for r in results if not r.passed]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", list(FAST))
def test_fast_applications_pass(name):
    _check(name, *FAST[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW))
def test_slow_applications_pass(name):
    _check(name, *SLOW[name])


def test_budget_is_judged_before_allocation():
    result = mc.check_param_count(lambda: keras.applications.ResNet50(weights=None), max_params=1_000_000)
    assert not result.passed
    assert "25,636,712" in result.message and "before allocating any weight" in result.message
