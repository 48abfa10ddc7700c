"""Red team 16: what a submission's model can make of the clean check job.

A model the check job cannot take as the assignment describes it (outputs that do not fit the
labels, inputs named otherwise than the samples) is the student's error, told in plain words: never
a failure of modelcheck's own (`details["internal"]`) nor a check job that raises past its report,
both of which grading turns into a *grader error* (no score, "not your submission", regraded by
``--resume`` forever), which a wrong model could use to escape its grade.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

import modelcheck as mc
from modelcheck.core.errors import SpecError
from modelcheck.grading.assignment import load_assignment
from modelcheck.grading.instructor import prepared_spec
from modelcheck.model.inputs import set_instructor_data

RNG = np.random.default_rng(16)
IMAGES = RNG.uniform(0, 1, (16, 6, 6, 1)).astype("float32")
CLASSES = np.arange(16) % 4


def _image_model(*body: keras.layers.Layer, loss: str = "sparse_categorical_crossentropy") -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 1)), *body])
    model.compile(optimizer="adam", loss=loss)
    set_instructor_data(model, x=[IMAGES], y=[CLASSES])
    return model


@pytest.mark.parametrize("body, loss, said", [
    # the Flatten forgotten: one row of class scores per pixel
    ((layers.Dense(4, activation="softmax"),), "sparse_categorical_crossentropy", "do not fit output"),
    ((layers.Conv2D(4, 3, activation="softmax"),), "categorical_crossentropy", "do not fit output"),
    # one-hot targets for four classes on three units
    ((layers.Flatten(), layers.Dense(3, activation="softmax")), "categorical_crossentropy", "has 3 units"),
], ids=["no_flatten", "conv_head", "too_few_units"])
@pytest.mark.parametrize("check", ["gradient_flow", "overfit_batch", "loss_decrease"])
def test_labels_that_do_not_fit_the_output_are_the_models_error(body, loss, said, check):
    result = mc.run_checks(_image_model(*body, loss=loss), checks=[check])[0]
    assert result.status == "error", result.message
    assert not result.details.get("internal"), result.message  # was: internal error (ValueError / IndexError)
    assert said in result.message and "Keras' fit fails on them too" in result.message


def _wide_deep(first: str, second: str) -> keras.Model:
    a, b = keras.Input((2,), name=first), keras.Input((3,), name=second)
    model = keras.Model({first: a, second: b}, layers.Dense(1)(layers.Concatenate()([a, b])))
    model.compile(optimizer="adam", loss="mse")
    return model


def _assignment(tmp_path: Path, **arrays: np.ndarray):
    np.savez(tmp_path / "sample.npz", **arrays)
    (tmp_path / "a.toml").write_text(
        '[assignment]\nname = "wd"\nbuilder = "build_model"\n\n[expect]\ninput_shape = { wide = [2], deep = [3] }\n'
        'output_shape = [1]\noutput = "regression"\n\n[data]\nsample = "sample.npz"\n\n[points]\noutput_shape = 1\n',
        encoding="utf-8")
    return load_assignment(tmp_path / "a.toml")


def test_inputs_named_otherwise_than_the_samples_are_the_models_error(tmp_path):
    wide, deep = RNG.uniform(-3, 5, (8, 2)), RNG.uniform(0, 1, (8, 3))
    assignment = _assignment(tmp_path, wide=wide, deep=deep, y=RNG.normal(size=(8, 1)))
    model = _wide_deep("a", "b")
    prepared_spec(model, assignment, tmp_path)  # was: SpecError, the check job's exit: a grader error
    result = mc.run_checks(model, checks=["gradient_flow"])[0]
    assert result.passed, result.message  # judged on values in the samples' range
    fitting = _wide_deep("wide", "deep")
    prepared_spec(fitting, assignment, tmp_path)
    assert mc.run_checks(fitting, checks=["gradient_flow"])[0].passed


def test_a_sample_file_that_fits_no_input_of_the_assignment_stays_the_instructors_error(tmp_path):
    assignment = _assignment(tmp_path, left=RNG.normal(size=(8, 2)), right=RNG.normal(size=(8, 3)))
    with pytest.raises(SpecError, match="holds neither `x` nor one array per input"):
        prepared_spec(_wide_deep("a", "b"), assignment, tmp_path)
