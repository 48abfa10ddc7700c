"""The clean check job grades the student's model, not another that its file happens to load as.

Keras saves a plain function by its name only (a student's own `relu` loads as Keras' relu), a
subclassed model is exported as the graph its call() makes in inference mode, and a model's own
train_step, loss or optimizer do not load where only Keras' code runs (red team 14: each of these
scored full marks for a broken model). Each submission here is graded once by one grader.
"""

from __future__ import annotations

import pytest

from modelcheck.grading import Grader, discover_submissions, load_assignment
from modelcheck.core.messages import OWN_CODE_FIX, OWN_TRAINING_FIX
from modelcheck.grading.grade import StudentGrade

TOY = """[assignment]
name = "toy_training"
builder = "build_model"

[expect]
input_shape = [4]
output_shape = [3]
total_params = 67
output = "probabilities"

[points]
output_shape = 1
param_count = 1
gradient_flow = 1
overfit_batch = 1
loss_matches_output = 1

[limits]
timeout_s = 60
memory_mb = 2000
"""
HEAD = "import keras\nfrom keras import layers\nimport tensorflow as tf\n\n"
SEQUENTIAL = """
def build_model():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation={hidden}),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer={optimizer}, loss={loss})
    return model
"""
SUBCLASSED = """
class Toy(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(8, activation="relu")
        self.drop = layers.Dropout(0.1)
        self.out = layers.Dense(3, activation="softmax")

    def call(self, x, training=None):
{body}
{extra}

def build_model():
    model = Toy()
    model.build((None, 4))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
"""
SOUND_CALL = "        return self.out(self.drop(self.hidden(x), training=training))"
NO_APPLY = """
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = self.compute_loss(x=x, y=y, y_pred=self(x, training=True))
        tape.gradient(loss, self.trainable_variables)  # never applied
        return {"loss": loss}
"""
SUBMISSIONS = {
    "good": HEAD + SEQUENTIAL.format(hidden='"relu"', optimizer='"adam"', loss='"sparse_categorical_crossentropy"'),
    # a correct relu of the student's own computes what Keras' does: nothing to refuse
    "own_relu_correct": HEAD + "def relu(x):\n    return keras.ops.maximum(x, 0.0)\n"
    + SEQUENTIAL.format(hidden="relu", optimizer='"adam"', loss='"sparse_categorical_crossentropy"'),
    "own_relu_identity": HEAD + "def relu(x):\n    return x\n"
    + SEQUENTIAL.format(hidden="relu", optimizer='"adam"', loss='"sparse_categorical_crossentropy"'),
    "loss_named_like_keras": HEAD + "def sparse_categorical_crossentropy(y_true, y_pred):\n"
    "    return keras.ops.mean(y_pred) * 0.0\n"
    + SEQUENTIAL.format(hidden='"relu"', optimizer='"adam"', loss="sparse_categorical_crossentropy"),
    "optimizer_named_like_keras": HEAD + "class SGD(keras.optimizers.SGD):\n"
    "    def update_step(self, gradient, variable, learning_rate):\n        pass\n"
    + SEQUENTIAL.format(hidden='"relu"', optimizer="SGD()", loss='"sparse_categorical_crossentropy"'),
    "loss_axis_dropped": HEAD + SEQUENTIAL.format(hidden='"relu"', optimizer='"adam"',
                                                  loss="keras.losses.SparseCategoricalCrossentropy(axis=0)"),
    "loss_object": HEAD + SEQUENTIAL.format(hidden='"relu"', optimizer='keras.optimizers.SGD(0.1, momentum=0.9)',
                                            loss="keras.losses.SparseCategoricalCrossentropy()"),
    # metrics of the student's own do not load in the clean job; the checks read none (red team 15)
    "own_metrics": HEAD + "def top2(y_true, y_pred):\n    return keras.ops.mean(y_pred)\n\n\n"
    "class Seen(keras.metrics.Mean):\n    pass\n"
    + SEQUENTIAL.format(hidden='"relu"', optimizer='"adam"',
                        loss='"sparse_categorical_crossentropy", metrics=["accuracy", top2, Seen()]'),
    # TensorFlow's softmax is saved as the function softmax_v2, which no Keras loads (tf.keras tutorials use it)
    "tf_nn_softmax": HEAD + SEQUENTIAL.format(hidden="tf.nn.relu", optimizer='"adam"',
                                              loss='"sparse_categorical_crossentropy"').replace(
        'activation="softmax"', "activation=tf.nn.softmax"),
    # ... and an own function of that name is still the student's own
    "own_softmax_v2": HEAD + "def softmax_v2(x):\n    return x\n" + SEQUENTIAL.format(
        hidden='"relu"', optimizer='"adam"', loss='"sparse_categorical_crossentropy"').replace(
        'activation="softmax"', "activation=softmax_v2"),
    "subclassed_good": HEAD + SUBCLASSED.format(body=SOUND_CALL, extra=""),
    # registered with Keras and called once (weights made): the build job's reload found the class the
    # student registered, which the clean check job does not have, and the model was refused there
    "subclassed_registered": HEAD + SUBCLASSED.format(body=SOUND_CALL, extra="").replace(
        "class Toy(", "@keras.saving.register_keras_serializable(package=\"student\")\nclass Toy(").replace(
        "model.build((None, 4))", "model(keras.ops.zeros((1, 4)))"),
    "subclassed_own_train_step": HEAD + SUBCLASSED.format(body=SOUND_CALL, extra=NO_APPLY),
    "subclassed_training_branch": HEAD + SUBCLASSED.format(
        body="        h = self.hidden(x)\n        if training:\n            h = h * 0.0\n        return self.out(h)",
        extra=""),
    # augmentation called only when training is inert in inference: the file trains as the model does
    "subclassed_augments_when_training": HEAD + SUBCLASSED.format(
        body="        if training:\n            x = self.augment(x)\n" + SOUND_CALL,
        extra="").replace("        self.drop = layers.Dropout(0.1)\n",
                          "        self.drop = layers.Dropout(0.1)\n        self.augment = keras.Sequential("
                          "[layers.GaussianNoise(0.1)])\n"),
    # a file named like a library is still the student's own code (red team 15)
    "keras_hw3": HEAD + SUBCLASSED.format(body=SOUND_CALL, extra=NO_APPLY),
    "subclassed_detects_tracing": HEAD + SUBCLASSED.format(
        body="        h = self.hidden(x)\n        if not isinstance(x, keras.KerasTensor):\n            h = h * 0.0\n"
             "        return self.out(h)", extra=""),
}
OBJECTIVE = ("gradient_flow", "overfit_batch", "loss_matches_output")


@pytest.fixture(scope="module")
def grades(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StudentGrade]:
    folder = tmp_path_factory.mktemp("fidelity")
    (folder / "toy.toml").write_text(TOY)
    (folder / "subs").mkdir()
    for student, source in SUBMISSIONS.items():
        (folder / "subs" / f"{student}.py").write_text(source)
    with Grader(load_assignment(folder / "toy.toml"), workers=2) as grader:
        return {grade.student: grade for grade in grader.grade_all(discover_submissions(folder / "subs"))}


@pytest.mark.parametrize("student", ["good", "own_relu_correct", "subclassed_good", "loss_object", "own_metrics",
                                     "subclassed_augments_when_training", "tf_nn_softmax", "subclassed_registered"])
def test_sound_models_keep_full_marks(grades, student):
    grade = grades[student]
    assert grade.score == grade.max_score == 5, [r.describe() for r in grade.results]


def test_an_own_function_with_a_keras_name_is_not_graded_as_keras_function(grades):
    grade = grades["own_relu_identity"]
    assert grade.score == 0 and grade.grader_error is None
    assert ("the model cannot be graded as you built it: the saved model computes other outputs than yours: layer "
            "'dense' (Dense) uses your own function relu() as its activation: a model file keeps a function's name "
            "only, so the grader, which runs only Keras' code, would run Keras' own relu in its place") in grade.problem

    renamed = grades["own_softmax_v2"]
    assert renamed.score == 0 and "uses your own function softmax_v2()" in renamed.problem, renamed.problem


@pytest.mark.parametrize("student, reason, judged", [
    # a loss the file does not keep: every check of the objective
    ("loss_named_like_keras", "a loss function of your own, sparse_categorical_crossentropy", ()),
    # Keras' get_config leaves a cross-entropy's axis out: fit would fail, the file trains fine
    ("loss_axis_dropped", "the loss sparse_categorical_crossentropy with axis=0, which its saved form loses", ()),
    # an optimizer: the checks that train; gradients and the loss's fit are still judged
    ("optimizer_named_like_keras", "an optimizer class of your own, SGD", ("gradient_flow", "loss_matches_output")),
    # a training step or path: the checks that train or take gradients
    ("subclassed_own_train_step", "its own train_step()", ("loss_matches_output",)),
    ("keras_hw3", "its own train_step()", ("loss_matches_output",)),
    ("subclassed_training_branch", "a call() that takes another path when training (training=True)",
     ("loss_matches_output",)),
])
def test_how_a_model_trains_that_its_file_does_not_keep_is_not_judged(grades, student, reason, judged):
    grade = grades[student]
    assert grade.problem is None and grade.grader_error is None
    assert grade.result("output_shape").passed and grade.result("param_count").passed
    for check in OBJECTIVE:
        result = grade.result(check)
        if check in judged:
            assert result.passed, result.describe()
            continue
        assert result.status == "skipped", result.describe()
        assert result.message.startswith(f"not judged: your model trains with {reason}"), result.message
        # training code kept out of the model, or Keras' own objects given by name
        assert result.hint == (OWN_TRAINING_FIX if "train_step" in reason or "call()" in reason else OWN_CODE_FIX)
    assert grade.score == 2 + len(judged)


def test_a_call_that_behaves_otherwise_when_traced_is_refused(grades):
    grade = grades["subclassed_detects_tracing"]
    assert grade.score == 0
    assert "the graph traced from your model's call() on symbolic inputs (what the grader saves) computes other " \
        "outputs than your model does" in grade.problem


def test_with_trusted_measurements_the_model_is_measured_as_it_trains(tmp_path):
    """An assignment that trusts the submission's own measurements has them taken on the model
    itself: its own train_step never applies its gradients, and overfit_batch sees that."""
    trusted = TOY.replace('builder = "build_model"', 'builder = "build_model"\ntrust_submission_measurements = true')
    (tmp_path / "toy.toml").write_text(trusted.replace("overfit_batch = 1", "loss_decrease = 1"))
    (tmp_path / "no_apply.py").write_text(SUBMISSIONS["subclassed_own_train_step"])
    with Grader(load_assignment(tmp_path / "toy.toml"), workers=1) as grader:
        grade = grader.grade(tmp_path / "no_apply.py")
    assert grade.result("output_shape").passed
    assert grade.result("loss_decrease").status == "failed", grade.result("loss_decrease").describe()
    assert any("measured inside your submission's own process" in note and "its own train_step()" in note
               for note in grade.notes), grade.notes


def test_checks_not_judged_say_so_to_the_student_and_are_listed_for_the_instructor(grades):
    """A check the grader could not judge scores nothing (Gradescope's tests pass or fail): the
    student reads why, and the class page and the run's summary list such checks for review."""
    from modelcheck.grading.outputs import NOT_JUDGED, class_statistics, gradescope_results
    from modelcheck.grading.progress import summary

    tests = {t["name"]: t for t in gradescope_results(grades["loss_named_like_keras"])["tests"]}
    assert tests["overfit_batch"]["status"] == "failed" and tests["overfit_batch"]["score"] == 0
    assert tests["overfit_batch"]["output"].startswith(f"{NOT_JUDGED}: not judged: your model trains with")
    assert not tests["output_shape"]["output"].startswith(NOT_JUDGED)
    everyone = list(grades.values())
    stats = class_statistics(everyone, list(OBJECTIVE), 5)
    listed = {(check, count) for check, _, count in stats["not_judged"]}
    assert ("overfit_batch", 1) in listed  # one row per reason: the loss's student among them
    assert stats["not_judged_total"] >= 2 * len(OBJECTIVE) + 4
    lines = summary(everyone)
    assert any(line.startswith("not judged: 6 submissions have checks with points the grader could not judge")
               for line in lines), lines


def test_a_bug_in_the_fidelity_reading_is_never_the_students(monkeypatch):
    """The build job's comparison of model and file is modelcheck's code: should it fail, the file
    is judged as it is, and the student never reads 'the model could not be saved' for it."""
    from modelcheck.grading import jobs

    def broken(*args, **kwargs):
        raise KeyError("a bug in modelcheck")

    monkeypatch.setattr(jobs, "forward_difference", broken)
    restored = jobs._Restored(model=object(), compiled=True, compile_problem=None)
    assert jobs._fidelity(object(), restored, ()) == (None, [])
    assert jobs._fidelity(object(), None, ()) == (None, [])


def _subclassed_with_own_compute_loss():
    import keras

    class OwnLoss(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x, training=False):
            return self.dense(x)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return keras.ops.mean(y_pred)

    model = OwnLoss()
    model(keras.ops.zeros((1, 4)))
    return model


def test_a_subclassed_models_own_training_is_told_with_the_fix_that_keeps_it(monkeypatch):
    """compute_loss changes the objective (its checks) but is kept, like train_step, by keeping
    training code out of the model; the export's traced inference graph is not traced again."""
    from modelcheck.grading import fidelity
    from modelcheck.model.graph import functional_twin

    model = _subclassed_with_own_compute_loss()
    twin = functional_twin(model)
    traced = []
    monkeypatch.setattr(fidelity, "functional_twin", lambda m, *a: traced.append(a) or functional_twin(m, *a))
    lost = fidelity.not_reproduced(model, None, inference_graph=twin)
    assert fidelity.Lost("its own compute_loss()", "loss", "training") in lost
    assert traced == [(True,)]  # only the training=True trace


def test_compile_settings_that_do_not_load_cost_one_load_of_the_file(tmp_path, monkeypatch):
    """An optimizer safe mode cannot rebuild stops in deserialising, before compile() touches the
    model: the file is loaded twice (with and without its settings), not once per attempt."""
    import json
    import zipfile

    import keras

    from modelcheck.grading import jobs

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    config["compile_config"]["optimizer"] = {"module": "students", "class_name": "MyAdam", "config": {},
                                             "registered_name": "MyAdam"}
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    loads = []
    real = keras.models.load_model
    monkeypatch.setattr(keras.models, "load_model", lambda *a, **k: loads.append(k["compile"]) or real(*a, **k))
    restored = jobs.load_for_checking(str(tmp_path / "m.keras"), {})
    assert restored.compiled and restored.optimizer_problem and "MyAdam" in restored.optimizer_problem
    assert loads == [True, False]
    assert restored.model.loss == "sparse_categorical_crossentropy"


def test_the_graders_reloading_of_the_export_is_not_in_the_students_output(grades):
    """Reloading an Adam-compiled export makes Keras warn that it skips the optimizer's variables;
    the build job does that reload, and its warning (with the grader's site-packages path) must not
    read as something the student's code printed."""
    for student in ("good", "subclassed_good", "loss_object"):
        assert "saving_lib" not in grades[student].output and "Skipping variable loading" not in grades[student].output
