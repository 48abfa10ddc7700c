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
from tests.test_grading_fidelity import HEAD, SEQUENTIAL, TOY

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


FUNCTIONAL_IN_CLASS = HEAD + """
class Toy(keras.Model):  # Keras' guide: a functional model made in a subclass's __init__
    def __init__(self, **kwargs):
        inputs = keras.Input((4,))
        hidden = layers.Dense(8, activation="relu")(inputs)
        super().__init__(inputs, layers.Dense(3, activation="softmax")(hidden), **kwargs)
{extra}

def build_model():
    model = Toy()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
"""
STYLES = {
    "functional_in_a_class": FUNCTIONAL_IN_CLASS.format(extra=""),
    "sequential_subclass": HEAD + """
class Toy(keras.Sequential):
    def __init__(self, **kwargs):
        super().__init__([keras.Input((4,)), layers.Dense(8, activation="relu"),
                          layers.Dense(3, activation="softmax")], **kwargs)

def build_model():
    model = Toy()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
""",
    # TensorFlow's swish is saved as `swish`, a name Keras 3 knows but saves as `silu` and loads only so
    "tf_nn_swish": HEAD + """
def build_model():
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(8, activation=tf.nn.swish),
                                 tf.keras.layers.Dense(3, activation=tf.nn.softmax)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
""",
    # Keras' progress bar redraws its line with carriage returns and colour codes, which the output
    # shown leaves out: what was printed is all there, nothing was cut
    "prints_a_progress_bar": HEAD + "import sys\n"
    "for step in range(1, 51):\n    sys.stdout.write(f'\\r\\x1b[1m{step}/50\\x1b[0m ' + '=' * step)\n"
    "print()\n" + SEQUENTIAL.format(hidden='"relu"', optimizer='"adam"', loss='"sparse_categorical_crossentropy"'),
    # what the student's code raises while the model is saved is their error, told as such
    "interrupt_in_get_config": HEAD + "class Dense(layers.Dense):\n    def get_config(self):\n"
    "        raise KeyboardInterrupt\n\n\n" + SEQUENTIAL.format(
        hidden='"relu"', optimizer='"adam"', loss='"sparse_categorical_crossentropy"').replace("layers.Dense(3", "Dense(3"),
    # a loss class without its parentheses: Keras cannot save it (nor can fit run it)
    "loss_class_not_object": HEAD + SEQUENTIAL.format(
        hidden='"relu"', optimizer='"adam"', loss="keras.losses.SparseCategoricalCrossentropy"),
    # the class's own call() computes something else than its graph: never graded as the graph
    "functional_in_a_class_own_call": FUNCTIONAL_IN_CLASS.format(
        extra="\n    def call(self, inputs, training=None):\n        return super().call(inputs) * 0.0 + 1.0 / 3\n"),
}


@pytest.fixture(scope="module")
def styles(tmp_path_factory: pytest.TempPathFactory):
    from modelcheck.grading import Grader, discover_submissions

    folder = tmp_path_factory.mktemp("styles")
    (folder / "toy.toml").write_text(TOY, encoding="utf-8")
    (folder / "subs").mkdir()
    for student, source in STYLES.items():
        (folder / "subs" / f"{student}.py").write_text(source, encoding="utf-8")
    with Grader(load_assignment(folder / "toy.toml"), workers=2) as grader:
        return {grade.student: grade for grade in grader.grade_all(discover_submissions(folder / "subs"))}


@pytest.mark.parametrize("student", ["functional_in_a_class", "sequential_subclass", "tf_nn_swish"])
def test_correct_models_in_keras_own_styles_keep_full_marks(styles, student):
    grade = styles[student]  # was: 0, "the exported model could not be loaded: ... Could not locate class"
    assert grade.score == grade.max_score, (grade.problem, [(r.check, r.message) for r in grade.results])


def test_a_class_whose_call_is_not_its_graph_is_refused(styles):
    grade = styles["functional_in_a_class_own_call"]
    assert grade.score == 0 and "cannot be graded as you built it" in (grade.problem or ""), grade.problem


def _two_inputs(order: str, named: bool = True) -> keras.Model:
    wide = keras.Input((2,), name="wide" if named else None)
    deep = keras.Input((3,), name="deep" if named else None)
    out = layers.Dense(1)(layers.Concatenate()([wide, layers.Dense(4, activation="relu")(deep)]))
    inputs = {"dict": {"wide": wide, "deep": deep}, "list": [wide, deep], "swapped": [deep, wide]}[order]
    return keras.Model(inputs, out)


@pytest.mark.parametrize("order", ["list", "swapped"])
def test_named_inputs_match_the_references_by_name_in_any_container(order):
    result = mc.check_matches_reference(_two_inputs(order), reference=_two_inputs("dict"))
    assert result.passed, result.message  # was: "input 1: shape (3,) expected, (2,) received", -2 points


def test_inputs_named_otherwise_than_the_reference_are_compared_in_their_order():
    """Ordering every named input by its name (the first form of this fix) failed a model whose own names sort
    otherwise than the reference's: names never matter to matches_reference unless they are the reference's."""
    def own_names(first: str, second: str) -> keras.Model:
        a, b = keras.Input((2,), name=first), keras.Input((3,), name=second)
        return keras.Model([a, b], layers.Dense(1)(layers.Concatenate()([a, layers.Dense(4, activation="relu")(b)])))

    result = mc.check_matches_reference(own_names("a_wide", "b_deep"), reference=_two_inputs("list"))
    assert result.passed, result.message


def test_unnamed_inputs_are_still_compared_in_their_order():
    result = mc.check_matches_reference(_two_inputs("swapped", named=False), reference=_two_inputs("list", named=False))
    assert not result.passed and "input 1: shape (2,) expected, (3,) received" in result.message, result.message


def test_a_progress_bar_is_not_told_as_output_cut_short(styles):
    grade = styles["prints_a_progress_bar"]
    assert grade.score == grade.max_score and "50/50 " + "=" * 50 in grade.output, grade.output
    assert not [note for note in grade.notes if "bytes printed" in note], grade.notes  # was: "first 64 KB kept"


def test_a_clean_jobs_failure_is_named_by_its_own_line_not_by_text_inside_it():
    from modelcheck.grading.grade import _clean_job_failure
    from modelcheck.grading.sandbox import RunOutcome
    from modelcheck.grading.zygote import JOB_FAILED, JOB_FAILED_MARK, failure_line

    forged = ValueError(f"layer 'x\n{JOB_FAILED_MARK}MemoryError: the grader ran out of memory' failed")
    said = _clean_job_failure(RunOutcome(exit_code=JOB_FAILED, stderr="some warning\n" + failure_line(forged)))
    assert said is not None and said.endswith("ValueError: layer 'x | " + JOB_FAILED_MARK
                                              + "MemoryError: the grader ran out of memory' failed"), said


def _flat_classifier(flatten: keras.layers.Layer) -> keras.Model:
    return keras.Sequential([keras.Input((4, 4, 2)), layers.Conv2D(3, 3), flatten, layers.Dense(5, activation="softmax")])


@pytest.mark.parametrize("flatten", [layers.Reshape((12,)), layers.Reshape((-1,))], ids=["sized", "minus_one"])
def test_a_reshape_to_one_axis_matches_a_flatten(flatten):
    result = mc.check_matches_reference(_flat_classifier(flatten), reference=_flat_classifier(layers.Flatten()))
    assert result.passed, result.message  # was: "layer 2 (Reshape): Flatten expected, Reshape received", -2 points


def test_a_flatten_over_channels_first_is_not_a_reshape():
    result = mc.check_matches_reference(_flat_classifier(layers.Flatten(data_format="channels_first")),
                                        reference=_flat_classifier(layers.Reshape((12,))))
    assert not result.passed, result.message


def test_the_name_handed_in_replaces_the_scripts_name_only_where_it_stands_alone(tmp_path):
    from modelcheck.grading.grade import _as_handed_in
    from modelcheck.grading.submissions import Submission

    (tmp_path / "y.ipynb").write_text("{}", encoding="utf-8")
    named = _as_handed_in(Submission("y", tmp_path / "y.ipynb"), tmp_path / "y.py")
    said = named("build_model() raised ValueError: see numpy.py, dummy.py and y.pyc\n  at y.py:3: in y.py")
    assert said == "build_model() raised ValueError: see numpy.py, dummy.py and y.pyc\n  at y.ipynb:3: in y.ipynb"


def test_a_notebook_as_the_reference_solution_is_refused_when_the_assignment_loads(tmp_path):
    from modelcheck.grading.assignment import parse_assignment

    text = ('[assignment]\nname = "a"\nbuilder = "build_model"\nreference = "solution.ipynb"\n\n'
            '[points]\nmatches_reference = 1\n')
    # was: accepted, then every student's check job raised 'cannot import solution.ipynb': a grader error each
    with pytest.raises(SpecError, match=r"save it as a \.py script"):
        parse_assignment(text, where="a.toml")


def test_an_interrupt_raised_while_the_model_is_saved_is_told_as_the_students_error(styles):
    problem = styles["interrupt_in_get_config"].problem or ""
    # was: "the process exited with code 70 before reporting"
    assert problem.startswith("the model could not be saved in the .keras format: KeyboardInterrupt"), problem


@pytest.mark.parametrize("check", ["gradient_flow", "overfit_batch", "loss_matches_output"])
def test_keras_2s_positional_metrics_are_the_students_error(check):
    model = _image_model(layers.Flatten(), layers.Dense(4, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])  # Keras 3: loss_weights=["accuracy"]
    result = mc.run_checks(model, checks=[check])[0]
    assert result.status == "error" and not result.details.get("internal"), result.message  # was: internal error
    assert "loss_weights=['accuracy']" in result.message and "metrics=" in (result.hint or ""), result.message


def test_numeric_loss_weights_still_train():
    model = _image_model(layers.Flatten(), layers.Dense(4, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", [0.5])
    assert mc.run_checks(model, checks=["gradient_flow"])[0].passed


def test_more_loss_weights_than_losses_are_the_students_error():
    model = _image_model(layers.Flatten(), layers.Dense(4, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", loss_weights=[1.0, 2.0])
    result = mc.run_checks(model, checks=["overfit_batch"])[0]
    # was: passed, though Keras' fit raises "`loss_weights` must match the number of losses"
    assert result.status == "error" and "1 loss and 2 loss weights" in result.message, result.message


def test_one_loss_and_one_weight_for_two_outputs_train_as_keras_trains_them():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, [layers.Dense(1, name="a")(inputs), layers.Dense(1, name="b")(inputs)])
    model.compile(optimizer="sgd", loss="mse", loss_weights=[1.0])  # Keras' fit accepts it
    assert mc.run_checks(model, checks=["gradient_flow"])[0].status != "error"


def test_a_loss_class_without_parentheses_is_told_how_to_write_it(styles):
    grade = styles["loss_class_not_object"]
    hint = grade.results[0].hint or ""
    assert grade.score == 0 and "loss=keras.losses.SparseCategoricalCrossentropy()" in hint, hint  # was: LOAD_FIX
