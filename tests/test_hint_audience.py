"""Hints know their audience: whoever configures the checks (a spec file, keyword arguments, an
assignment) is told which setting to change; a graded student, who cannot change any, is told what
to change in their model or what the assignment expects, and never about a setting."""

from __future__ import annotations

import html
import re
import textwrap
from pathlib import Path

import keras
import pytest
from keras import layers

import modelcheck as mc
from modelcheck.core.errors import SpecError, UserCodeError
from modelcheck.core.messages import CONFIGURER, STUDENT, for_audience
from modelcheck.core.spec import ModelSpec
from modelcheck.grading import Grader, discover_submissions, load_assignment, write_outputs
from modelcheck.grading.grade import StudentGrade
from modelcheck.model import loops
from modelcheck.session.runner import ModelSession
from tests.backends import BACKEND
from tests.test_checks_own_models import OtherBackendsStep

# What only whoever configures the checks can act on.
CONFIGURER_WORDS = re.compile(r"allow_frozen|declare the output|target_range|builder_kwargs|\bspec\b|@modelcheck|"
                              r"check_loss_at_init|check_loss_matches_output|expected=|steps=|`reference=`|"
                              r"model_timeout|--modelcheck|Raise the step budget")


def frozen_model() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu", trainable=False), layers.Dense(3)])


def softmax_model() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])


def sigmoid_mse_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="sigmoid")])
    model.compile(loss="mse", optimizer="adam")
    return model


def needs_units(units):
    return frozen_model()


def unbuilt_model() -> keras.Model:
    return keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3)])


def test_the_helper_picks_the_students_wording_only_for_a_student():
    assert for_audience(STUDENT, configurer="pass x=1", student="change the model") == "change the model"
    assert for_audience(CONFIGURER, configurer="pass x=1", student="change the model") == "pass x=1"


def test_a_spec_is_for_whoever_configures_it_unless_told_otherwise():
    assert ModelSpec(id="m").audience == CONFIGURER
    with pytest.raises(SpecError, match="`audience` must be one of configurer, student; received 'teacher'"):
        ModelSpec(id="m", audience="teacher")
    with pytest.raises(SpecError, match="unknown key 'audience'"):
        mc.spec_from_mapping({"builder": "m:f", "audience": "student"}, where="modelcheck.toml")


# check, model, output, the configurer's wording (kept as it was), the student's
CASES = [
    ("gradient_flow", frozen_model, None,
     "frozen weights never learn: set trainable=True, or pass allow_frozen=True if freezing is intended "
     "(transfer learning)",
     "frozen weights never learn: make every layer trainable (remove trainable=False), or ask your instructor if "
     "freezing is intended (transfer learning)"),
    ("trainable_changes", frozen_model, None, "or pass allow_frozen=True if freezing is intended",
     "make every layer trainable (remove trainable=False), or ask your instructor if freezing is intended"),
    ("output_shape", softmax_model, "logits", "; remove the softmax, or declare the output as probabilities",
     "; remove the softmax (the output layer takes no activation): the assignment expects raw scores (logits), "
     "which its loss turns into probabilities itself"),
    ("output_shape", softmax_model, "regression", "; remove the softmax, or declare the output as probabilities",
     "the assignment expects values of any size (a regression), not values squeezed into a range"),
    ("loss_matches_output", sigmoid_mse_model, None,
     "; if the targets can be outside that range use activation=None, or pass target_range=(low, high) when the "
     "targets fit",
     "; the grader is not told that the targets stay within that range: use activation=None (a linear output), or "
     "ask your instructor if they do"),
]


def _for_each_audience(check: str, build, output: str | None = None) -> dict[str, mc.CheckResult]:
    results = {}
    for audience in (CONFIGURER, STUDENT):
        spec = ModelSpec(id="m", builder=build, output=output, audience=audience)
        with ModelSession(spec, seed=0) as session:
            results[audience] = session.run(check)
    return results


@pytest.mark.parametrize(("check", "build", "output", "configurer", "student"), CASES)
def test_a_checks_hint_is_worded_for_the_audience_of_its_spec(check, build, output, configurer, student):
    results = _for_each_audience(check, build, output)
    assert results[CONFIGURER].status == results[STUDENT].status == "failed"
    assert configurer in results[CONFIGURER].message
    assert student in results[STUDENT].message
    assert not CONFIGURER_WORDS.search(results[STUDENT].describe()), results[STUDENT].describe()


def test_a_loss_the_check_cannot_read_is_left_to_the_students_eyes_not_to_other_checks():
    def lambda_output() -> keras.Model:
        model = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Lambda(lambda x: x * 2.0)])
        model.compile(loss="mse", optimizer="adam")
        return model

    results = _for_each_audience("loss_matches_output", lambda_output)
    assert results[CONFIGURER].status == results[STUDENT].status == "skipped"
    assert results[CONFIGURER].message.endswith("; check the loss by hand, or run check_loss_at_init, "
                                                "check_overfit_batch and check_loss_decrease")
    assert "is a Lambda, whose function can apply any activation" in results[STUDENT].message
    assert results[STUDENT].message.endswith("; check by hand that the loss fits the output")


def test_the_library_keeps_the_configurers_wording():
    assert "or declare the output as probabilities" in mc.check_output_shape(softmax_model(), output="logits").message
    assert "or pass target_range=(low, high)" in mc.check_loss_matches_output(sigmoid_mse_model()).message
    assert "or pass allow_frozen=True" in mc.check_gradient_flow(frozen_model()).message


def test_seeds_of_a_student_spec_are_told_as_a_student():
    spec = ModelSpec(id="m", builder=frozen_model, audience=STUDENT, options={"gradient_flow": {"seeds": 2}})
    with ModelSession(spec, seed=0) as session:
        result = session.run("gradient_flow")
    messages = [row["message"] for row in result.details["per_seed"]]
    assert len(messages) == 2 and all("ask your instructor if freezing is intended" in m for m in messages), messages
    assert "allow_frozen" not in result.describe()


def hinge_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    model.compile(loss="hinge", optimizer="adam")
    return model


# check, model, options, the configurer's wording (kept as it was), the student's: skips ("not judged")
SKIPS = [
    ("loss_at_init", hinge_model, {},
     "no known expected initial value for the loss (dense_1: hinge); pass expected=... to judge it",
     "no known expected initial value for the loss (dense_1: hinge); the assignment gives none to judge it by (an "
     "expected value is your instructor's setting), so it is not judged"),
    ("matches_reference", softmax_model, {},
     "no reference solution was given (`reference=`), so there is nothing to compare the architecture with",
     "the assignment gives no reference solution (your instructor's setting), so there is nothing to compare the "
     "architecture with"),
]


@pytest.mark.parametrize(("check", "build", "options", "configurer", "student"), SKIPS)
def test_a_skip_says_what_the_student_can_do_and_whose_setting_it_is(check, build, options, configurer, student):
    results = {}
    for audience in (CONFIGURER, STUDENT):
        spec = ModelSpec(id="m", builder=build, audience=audience, options={check: options})
        with ModelSession(spec, seed=0) as session:
            results[audience] = session.run(check)
    assert results[CONFIGURER].status == results[STUDENT].status == "skipped"  # the verdict is the same
    assert results[CONFIGURER].message == configurer
    assert results[STUDENT].message == student


def _as(audience: str, function, *args, **kwargs):
    with loops.using(loops.TrainingContext(audience=audience, budget_s=30.0)):
        return function(*args, **kwargs)


def test_a_loss_far_below_its_expected_value_is_checked_by_eye_not_with_a_function():
    configured = _as(CONFIGURER, mc.check_loss_at_init, softmax_model(), expected=100.0)
    graded = _as(STUDENT, mc.check_loss_at_init, softmax_model(), expected=100.0)
    assert configured.status == graded.status == "failed"
    assert configured.hint.endswith("check that it fits the output layer (run check_loss_matches_output)")
    assert graded.hint.endswith("check that it fits the output layer")


def test_a_loss_still_falling_at_the_end_is_told_how_to_learn_faster_not_to_raise_the_budget():
    from modelcheck.checks.training_report import still_learning
    from modelcheck.model.engine import TrainingRun

    run = TrainingRun(losses=[2.0 * 0.999 ** i for i in range(500)], steps=500, seconds=5.0, step_s=0.01, budget=500)
    run.stopped = "budget"
    configured, graded = (_as(audience, still_learning, "overfit_batch", "memorising one batch", run, 500, 60.0, {})
                          for audience in (CONFIGURER, STUDENT))
    assert configured.status == graded.status == "skipped"
    assert configured.message.endswith("the budget of 500 steps ended it. Raise the step budget or the learning rate "
                                       "to judge it")
    assert graded.message.endswith("the budget of 500 steps ended it. A model that learns faster would be judged: "
                                   "compile it with a larger learning rate (how long the check trains is set by your "
                                   "instructor, in the assignment)")


def test_a_loss_stuck_near_guessing_is_told_how_to_learn_faster_not_to_give_more_steps():
    from modelcheck.checks.loss_decrease import _at_guessing_level

    losses = [2.0] + [1.1 + 0.001 * (9 - i) for i in range(10)]  # falls to about ln 3 and still falls at each step
    configured, graded = (_as(audience, _at_guessing_level, losses, 1.0986, 0.45) for audience in (CONFIGURER, STUDENT))
    assert "If overfit_batch passes (it trains longer), give loss_decrease more steps (steps=...) or a larger learning " \
        "rate; if the loss stays there" in configured
    assert "If overfit_batch passes (it trains longer), compile the model with a larger learning rate (how many steps " \
        "loss_decrease trains is set by your instructor, in the assignment); if the loss stays there" in graded


def test_a_spent_time_budget_says_what_makes_the_model_fit_and_whose_limit_it_is():
    results = {}
    for audience in (CONFIGURER, STUDENT):
        spec = ModelSpec(id="m", builder=softmax_model, audience=audience)
        with ModelSession(spec, seed=0, model_timeout=1e-6) as session:
            results[audience] = [session.run(check) for check in ("overfit_batch", "loss_decrease")]
    for configured, graded in zip(results[CONFIGURER], results[STUDENT]):
        assert configured.status == graded.status == "skipped", (configured.message, graded.message)
    over, spent = results[CONFIGURER]
    assert over.message.endswith("; raise it with the spec key model_timeout or --modelcheck-model-timeout to run it")
    assert spent.message.endswith("; raise it with the spec key model_timeout or --modelcheck-model-timeout")
    for graded in results[STUDENT]:
        assert graded.message.endswith("; a model that trains faster (fewer or smaller layers) would finish within "
                                       "it; that budget is the checks' share of the assignment's time limit, which "
                                       "your instructor sets ([limits] timeout_s)")
        assert not CONFIGURER_WORDS.search(graded.describe()), graded.describe()


def poisson_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    model.compile(loss="poisson", optimizer="adam")  # the log of a linear output's negative values: NaN
    return model


def all_frozen_model() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, trainable=False), layers.Dense(3, trainable=False)])


def test_the_other_checks_name_no_setting_of_theirs_to_a_student():
    from modelcheck.model.engine import own_step_mismatch

    def worded(audience: str) -> list[str]:
        inputs = keras.Input((4,))
        other = OtherBackendsStep(inputs, layers.Dense(3)(inputs))
        return [_as(audience, mc.check_finite, poisson_model()).hint,
                _as(audience, mc.check_gradient_flow, all_frozen_model(), allow_frozen=True).message,
                _as(audience, mc.check_backend_parity, softmax_model(), backends=[BACKEND]).message,
                _as(audience, own_step_mismatch, other).hint]

    finite, frozen, parity, step = worded(CONFIGURER)
    assert finite.endswith("(e.g. a log of 0 or of a negative value): run check_loss_matches_output.")
    assert frozen == "every layer is frozen (allow_frozen=True): no trainable variable to check"
    assert parity == (f"only one Keras backend to compare ({BACKEND}): install another (pip install 'modelcheck[jax]' "
                      "or 'modelcheck[torch]') to check that the model runs the same on it")
    assert step.endswith("(KERAS_BACKEND=tensorflow)" if BACKEND == "jax" else
                         "write it for this backend, or run the model with KERAS_BACKEND=jax")
    finite, frozen, parity, step = worded(STUDENT)
    assert finite.endswith("(e.g. a log of 0 or of a negative value): compile the model with a loss that fits its "
                           "output layer.")
    assert frozen == "every layer is frozen (which the assignment allows): no trainable variable to check"
    assert parity == (f"only one Keras backend to compare ({BACKEND}): the grader has no other installed (your "
                      "instructor's setting), so whether the model runs the same on another is not judged")
    name = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}[BACKEND]
    assert step.endswith(f"the grader runs Keras on {name} (your instructor's setting)" + (
        ", so write it in that form" if BACKEND == "jax" else ""))
    assert "KERAS_BACKEND" not in step


@pytest.mark.skipif(BACKEND != "jax", reason="only a compiled JAX step cannot hold a TensorFlow-backed layer")
def test_a_layer_jax_cannot_train_is_the_instructors_backend_to_a_student():
    a, b = keras.Input((1,), dtype="int32", name="a"), keras.Input((1,), dtype="int32", name="b")
    crossed = layers.HashedCrossing(num_bins=16, output_mode="one_hot", name="crossing")((a, b))
    model = keras.Model([a, b], layers.Dense(1, activation="sigmoid")(crossed))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    configured = _as(CONFIGURER, mc.check_loss_decrease, model)
    graded = _as(STUDENT, mc.check_loss_decrease, model)
    assert configured.status == graded.status == "error"
    assert configured.hint.endswith("and give the model its output as input, or train on the TensorFlow backend")
    assert graded.hint == ("the grader trains the model on JAX (your instructor's setting), where a model that trains "
                           "cannot hold HashedCrossing: leave it out of the model if the assignment allows, or ask your "
                           "instructor")


@pytest.mark.parametrize(("builder", "kwargs", "configurer", "student"), [
    (needs_units, {}, "give the builder's parameters default values, or pass them as builder_kwargs (a spec file's "
     "`builder_kwargs = { units = 64 }`, @modelcheck.expect(builder_kwargs={...}))",
     "the grader calls needs_units() with no arguments: give every parameter a default value "
     "(def needs_units(input_shape=(...), ...):)"),
    (frozen_model, {"units": 64}, "or pass them as builder_kwargs",
     "the grader calls frozen_model(units=64): take exactly these arguments, and give every other parameter a "
     "default value"),
    (unbuilt_model, {}, "start the model with `keras.Input(shape=(...))` (Sequential: as the first item), or give "
     "`input_shape` in the spec so modelcheck can build it.",
     "start the model with `keras.Input(shape=(...))` (Sequential: as the first item), or call "
     "`model.build((None, ...))` before returning it: the assignment gives the grader no input shape to build it on"),
])
def test_a_builders_error_is_worded_for_the_audience_of_the_run(builder, kwargs, configurer, student):
    name = f"{builder.__name__}()"
    with pytest.raises(UserCodeError) as configured:
        mc.build_model(builder, kwargs=kwargs, name=name)
    with loops.using(loops.TrainingContext(audience=STUDENT)), pytest.raises(UserCodeError) as graded:
        mc.build_model(builder, kwargs=kwargs, name=name)
    assert configured.value.message == graded.value.message
    assert configured.value.hint == configurer or configurer in configured.value.hint
    assert graded.value.hint == student
    if not kwargs:  # a session builds the spec's builder for the spec's audience
        for audience, hint in ((CONFIGURER, configured.value.hint), (STUDENT, student)):
            spec = ModelSpec(id="m", builder=builder, audience=audience)
            with ModelSession(spec, seed=0) as session:
                assert session.run("output_shape").hint == hint


# One submission per hint, graded as a class is: the feedback a student reads.
ASSIGNMENT = """
[assignment]
name = "audience"
builder = "build_model"
builder_kwargs = { units = 8 }

[expect]
input_shape = [4]
output_shape = [3]
output = "logits"

[points]
output_shape = 1
gradient_flow = 1
loss_matches_output = 1

[limits]
timeout_s = 60
"""

HEAD = "import keras\nfrom keras import layers\n\n\n"
SUBMISSIONS = {
    "frozen": """
        def build_model(units=8):
            return keras.Sequential([keras.Input((4,)), layers.Dense(units, activation="relu", trainable=False),
                                     layers.Dense(3)])
        """,
    "softmax": """
        def build_model(units=8):
            return keras.Sequential([keras.Input((4,)), layers.Dense(units, activation="relu"),
                                     layers.Dense(3, activation="softmax")])
        """,
    "sigmoid_mse": """
        def build_model(units=8):
            model = keras.Sequential([keras.Input((4,)), layers.Dense(units, activation="relu"),
                                      layers.Dense(3, activation="sigmoid")])
            model.compile(loss="mse", optimizer="adam")
            return model
        """,
    "other_arguments": """
        def build_model(hidden=8):
            return keras.Sequential([keras.Input((4,)), layers.Dense(hidden), layers.Dense(3)])
        """,
    # Keras' guides' style, built by the grader on the assignment's input shape (this hint's case before)
    "unbuilt": """
        def build_model(units=8):
            return keras.Sequential([layers.Dense(units, activation="relu"), layers.Dense(3)])
        """,
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, StudentGrade], Path]:
    folder = tmp_path_factory.mktemp("audience")
    (folder / "assignment.toml").write_text(ASSIGNMENT)
    (folder / "class").mkdir()
    for student, code in SUBMISSIONS.items():
        (folder / "class" / f"{student}.py").write_text(HEAD + textwrap.dedent(code))
    assignment = load_assignment(folder / "assignment.toml")
    with Grader(assignment, workers=2) as grader:
        grades = grader.grade_all(discover_submissions(folder / "class"))
    write_outputs(grades, assignment, folder / "out")
    return {grade.student: grade for grade in grades}, folder / "out"


@pytest.mark.parametrize(("student", "check", "says"), [
    ("frozen", "gradient_flow", "frozen weights never learn: make every layer trainable (remove trainable=False), or "
                                "ask your instructor if freezing is intended"),
    ("softmax", "output_shape", "remove the softmax (the output layer takes no activation): the assignment expects "
                                "raw scores (logits)"),
    ("sigmoid_mse", "loss_matches_output", "the grader is not told that the targets stay within that range: use "
                                           "activation=None (a linear output), or ask your instructor if they do"),
    ("other_arguments", "output_shape", "the grader calls build_model(units=8): take exactly these arguments, and give "
                                        "every other parameter a default value"),
])
def test_a_graded_students_feedback_says_what_they_can_change_and_nothing_of_the_settings(graded, student, check,
                                                                                           says):
    grades, out = graded
    result = grades[student].result(check)
    assert result.status in ("failed", "error"), result.describe()
    assert says in result.describe()
    feedback = " ".join(html.unescape((out / student / "feedback.html").read_text(encoding="utf-8")).split())
    assert says in feedback
    for grade_result in grades[student].results:
        assert not CONFIGURER_WORDS.search(grade_result.describe()), grade_result.describe()


def test_a_sequential_without_an_input_is_built_on_the_assignments_input_shape(graded):
    grades, _ = graded
    assert grades["unbuilt"].result("output_shape").status == "passed", grades["unbuilt"].result("output_shape").describe()
