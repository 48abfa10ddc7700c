"""A grading job's checks share its time limit (`[limits] timeout_s`): a model too slow to train
within it gets its verdicts for what ran, and the training checks that would overrun the limit
are skipped with their estimate, what would make the model fit and whose setting the limit is,
instead of the grader killing the job and the student losing every check's points with it."""

from __future__ import annotations

import pytest

from modelcheck.grading import Grader, load_assignment
from modelcheck.core.messages import STUDENT, time_budget_fix
from modelcheck.grading.jobs import checks_budget

ASSIGNMENT = """
[assignment]
name = "slow steps"
builder = "build_model"
[expect]
input_shape = [64, 64, 3]
output_shape = [10]
total_params = 76298
[points]
output_shape = 1
param_count = 1
gradient_flow = 1
overfit_batch = 2
loss_decrease = 2
[limits]
timeout_s = 12
"""

# three 64-channel convolutions over 64x64 pixels: about 0.3 s per training step on 2 cores, so the
# 500 steps of overfit_batch need minutes; a learning rate of 0 keeps the loss flat, so no check ends
# early because the model learned (the same on a faster machine)
SLOW = '''
import keras
from keras import layers


def build_model():
    model = keras.Sequential([keras.Input((64, 64, 3))]
                             + [layers.Conv2D(64, 3, padding="same", activation="relu") for _ in range(3)]
                             + [layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.0))
    return model
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    (folder / "assignment.toml").write_text(ASSIGNMENT)
    submissions = tmp_path_factory.mktemp("submissions")
    (submissions / "slow.py").write_text(SLOW)
    with Grader(load_assignment(folder / "assignment.toml"), workers=1) as grader:
        (grade,) = grader.grade_all([submissions / "slow.py"])
    return grade


def test_a_model_too_slow_for_the_time_limit_keeps_the_verdicts_that_ran(graded):
    by_check = {r.check: r for r in graded.results}
    assert graded.grader_error is None and graded.problem is None, graded.problem
    assert [by_check[c].status for c in ("output_shape", "param_count", "gradient_flow")] == ["passed"] * 3, \
        [r.describe() for r in graded.results]
    assert graded.score == 3
    overfit = by_check["overfit_batch"]
    assert overfit.status == "skipped", overfit.describe()
    assert overfit.message.startswith("memorising one batch of 8 samples: not finished within the model's time "
                                      "budget of ")
    assert overfit.message.endswith(f"s are left; {time_budget_fix(STUDENT)}")  # the student's wording
    assert by_check["loss_decrease"].status == "skipped"
    assert by_check["loss_decrease"].message.endswith(time_budget_fix(STUDENT))


def test_the_checks_leave_part_of_the_limit_for_the_report():
    import time

    now = time.monotonic()
    assert 100 < checks_budget(120, now) <= 106
    assert checks_budget(120, now - 50) <= 56
    assert checks_budget(5, now - 10) > 0  # never a budget of nothing or less: the checks then say it is spent
