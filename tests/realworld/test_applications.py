"""keras.applications models (weights=None): no false alarm from the static and forward checks,
and parameter counts as Keras documents them (include_top, 1000 classes: global pooling makes
the count independent of the input size, so small inputs keep the run cheap).

Two fast models run by default and six more as slow tests beside the sweep; every builder
keras.applications exports (about 40, up to 350 million parameters) runs in the sweep, marker ``applications``,
deselected by default: ``python -m pytest -n 2 -m applications tests/realworld``."""

from __future__ import annotations

import json

import keras
import pytest

import modelcheck as mc

from .applications import (DOCUMENTED_FILE, RUN_CHECKS, Figure, builder_names, documented, param_count_result,
                           run_results, smallest_input)

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


def _check(name, kwargs, documented_count, size):
    model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3), **kwargs)
    count = mc.check_param_count(model, total=documented_count)
    assert count.passed, count.message
    results = mc.run_checks(model, RUN_CHECKS, output_shape=(1000,))
    problems = [f"{r.check}: {r.message}" for r in results if not r.passed]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", list(FAST))
def test_fast_applications_pass(name):
    _check(name, *FAST[name])


@pytest.mark.slow
@pytest.mark.applications  # with the sweep (CI's own step), which builds these models too: out of the default run
@pytest.mark.parametrize("name", list(SLOW))
def test_slow_applications_pass(name):
    _check(name, *SLOW[name])


def test_budget_is_judged_before_allocation():
    result = mc.check_param_count(lambda: keras.applications.ResNet50(weights=None), max_params=1_000_000)
    assert not result.passed
    assert "25,636,712" in result.message and "before allocating any weight" in result.message


# --- the documented figures (no Keras model built) ---------------------------------------------

def test_documented_figures_are_consistent():
    """Every entry names a listed source; an exact count printed earlier rounds to the figure the
    current table prints; a recorded discrepancy says why and really falls outside the figure."""
    data = json.loads(DOCUMENTED_FILE.read_text())
    for name, entry in data["models"].items():
        assert entry["source"] in data["sources"], name
        figure = Figure(entry["documented"])
        if "exact" in entry:
            assert figure.agrees(entry["exact"]), f"{name}: {entry['exact']:,} does not print as {figure.text}"
        if "differs" in entry:
            assert entry["differs"]["why"] and not figure.agrees(entry["differs"]["keras"]), name


def test_figure_agrees_within_its_last_digit():
    assert Figure("22.9M").agrees(22_910_480) and Figure("28M").agrees(28_589_128)
    assert not Figure("5.4M").agrees(5_507_432) and not Figure("22.9M").agrees(23_000_000)
    assert Figure("22,910,480").agrees(22_910_480) and not Figure("22,910,480").agrees(22_910_481)


# --- the sweep: every builder keras.applications exports ----------------------------------------

@pytest.mark.applications
@pytest.mark.parametrize("name", builder_names())
def test_documented_param_count(name):
    """param_count at the default input size, counted from the layers before any weight exists."""
    entries = documented()
    assert name in entries, (f"keras.applications.{name} has no documented parameter count in "
                             f"{DOCUMENTED_FILE.name}: add the figure Keras documents, with its source")
    result, against = param_count_result(name, entries[name])
    assert result.passed, f"against {against}: {result.message}"
    figure = Figure(entries[name]["documented"])
    if "exact" not in entries[name] and "differs" not in entries[name]:
        total = result.received["total"]
        assert figure.agrees(total), f"{total:,} parameters; documented {figure.text}"


@pytest.mark.applications
@pytest.mark.parametrize("name", builder_names())
def test_no_false_alarm(name):
    """output_shape, gradient_flow, finite, batch_independence and input_dependence pass, on the
    smallest input the builder accepts with its documented parameter count."""
    results = run_results(name, smallest_input(name))
    problems = [f"{r.check}: {r.status}: {r.message}" for r in results if not r.passed]
    assert not problems, "\n".join(problems)


# --- a false alarm the sweep found --------------------------------------------------------------

def test_gradient_flow_batch_is_large_enough_for_batchnorm():
    """MobileNetV2 on 32 x 32 images ends in 1 x 1 maps: a batch of 2 gives each of its last
    BatchNormalizations (training mode) 2 values per channel, which it maps to about -1 and +1
    whatever they are, and earlier variables got an all-zero gradient. The check raises the batch
    until every BatchNormalization sees 4 values per channel; a cut gradient still fails."""
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3))
    result = mc.check_gradient_flow(model, batch_size=2)
    assert result.passed, result.message
    assert result.details["batch_size"] == 4 and "BatchNormalization" in result.details["batch_size_note"]
    layers = keras.layers
    inputs = keras.Input((4, 4, 3))
    x = layers.BatchNormalization()(layers.Conv2D(8, 4, strides=4)(inputs))
    x = layers.Lambda(lambda t: keras.ops.stop_gradient(t), output_shape=lambda s: s)(x)
    cut = keras.Model(inputs, layers.Dense(3, activation="softmax")(layers.Flatten()(x)))
    result = mc.check_gradient_flow(cut, batch_size=2)
    assert not result.passed and "conv2d" in result.message and "Lambda" in result.message


# --- transfer learning: a keras.applications backbone under a task head --------------------------

def _task_model(frozen: bool = False, frozen_head: bool = False) -> keras.Model:
    keras.utils.set_random_seed(0)
    backbone = keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), include_top=False, weights=None,
                                                   pooling="avg", include_preprocessing=False)
    backbone.trainable = not frozen
    inputs = keras.Input((32, 32, 3))
    hidden = keras.layers.Dense(16, activation="relu", name="hidden")(backbone(inputs))
    head = keras.layers.Dense(10, activation="softmax", name="head", trainable=not frozen_head)
    model = keras.Model(inputs, head(hidden))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_a_backbone_under_a_task_head_passes_every_default_check():
    """The layer probes of finite and batch_independence took the nested backbone's own output (its
    inner graph's), and raised 'not connected to inputs', reported as the user's error."""
    from modelcheck.core.registry import CHECKS

    results = mc.run_checks(_task_model(), [name for name, info in CHECKS.items() if info.default])
    problems = [f"{r.check}: {r.status}: {r.message}" for r in results if r.status in ("failed", "error")]
    assert not problems, "\n".join(problems)
    finite = next(r for r in results if r.check == "finite")
    assert finite.details["layer_by_layer"] is True


def test_a_frozen_backbone_is_transfer_learning_and_a_frozen_head_is_named():
    result = mc.check_gradient_flow(_task_model(frozen=True))
    assert result.passed, result.message
    assert "backbone 'MobileNetV3Small' not checked: frozen on purpose" in result.message
    model = _task_model(frozen=True, frozen_head=True)
    result = mc.check_gradient_flow(model)
    assert not result.passed and "frozen (trainable=False), at layer 'head' (170 weights)" in result.message
    assert "MobileNetV3Small" not in result.message
    assert mc.check_gradient_flow(model, allow_frozen=True).passed
