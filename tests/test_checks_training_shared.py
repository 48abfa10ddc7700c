"""One traced step loop per model, early stops, static short-circuits, the time budget and XLA."""

from __future__ import annotations

import keras
import pytest

import modelcheck as mc
from modelcheck.core.errors import SpecError
from modelcheck.core.messages import STUDENT, time_budget_fix
from modelcheck.core.spec import ModelSpec
from modelcheck.model import loops
from modelcheck.session.robustness import over_seeds
from modelcheck.session.runner import ModelSession
from tests import models
from tests.backends import BACKEND


def _session(builder, **spec) -> ModelSession:
    return ModelSession(ModelSpec(id="model", builder=builder, **spec), seed=0)


def test_the_training_checks_of_one_model_trace_one_loop():
    with _session(models.small_classifier) as session:
        results = [session.run(name) for name in ("overfit_batch", "loss_decrease", "trainable_changes",
                                                  "overfit_batch")]
        assert all(result.passed for result in results), [r.message for r in results]
        # XLA on JAX compiles one loop per batch shape: overfit_batch and trainable_changes train on
        # 8 samples, loss_decrease on 32 (TensorFlow's trace takes any batch size; PyTorch's loop is eager)
        assert session._training.cache.traces == (2 if BACKEND == "jax" else 1)
    traced = [result.details["tracing_s"] for result in results]
    if BACKEND == "jax":  # loss_decrease's batch of 32 has its own loop
        assert traced[0] > 0 and traced[1] > 0 and traced[2:] == [0.0, 0.0]
    else:  # PyTorch's eager loop has nothing to trace: its first step may take as long as the next
        assert (traced[0] > 0 or BACKEND == "torch") and traced[1:] == [0.0, 0.0, 0.0]


def test_a_check_outside_a_session_traces_its_own_loop():
    model = models.small_classifier()
    context = loops.TrainingContext()
    with loops.using(context):
        mc.check_loss_decrease(model)
        mc.check_loss_decrease(model, learning_rate=0.01)  # another rate: the same loop, its rate assigned
    assert context.cache.traces == 1
    assert loops.current() is not context


@pytest.mark.parametrize("builder", [models.small_classifier, models.fashion_mlp], ids=["slow", "fast"])
def test_a_shared_loop_starts_each_check_from_a_fresh_state(builder):
    """A check after others in one session gives the numbers it gives alone on the same model
    (the fast learner memorises within the first steps, where a traced and a reused loop must
    ask the stop rule at the same steps)."""
    with _session(builder) as session:
        session.run("overfit_batch")
        session.run("trainable_changes")
        shared = session.run("loss_decrease")
        again = session.run("overfit_batch")
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    alone = mc.check_loss_decrease(builder())
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    first = mc.check_overfit_batch(builder())
    assert shared.details["loss_history"] == alone.details["loss_history"]
    assert again.details["loss_history"] == first.details["loss_history"]
    assert again.message == first.message


def test_loss_decrease_stops_once_the_decrease_is_seen():
    result = mc.check_loss_decrease(models.fashion_mlp(), steps=200)
    assert result.passed, result.message
    assert 6 <= result.details["steps"] < 200
    assert f"in {result.details['steps']} of at most 200 steps" in result.message


def test_overfit_batch_stops_once_memorised_and_says_after_how_many_steps():
    result = mc.check_overfit_batch(models.fashion_mlp(), max_steps=500)
    assert result.passed, result.message
    assert result.details["steps"] < 500
    assert f"memorised a batch of 8 in {result.details['steps']} steps" in result.message


def test_a_model_that_failed_gradient_flow_fails_training_without_training():
    with _session(models.stop_gradient_lambda) as session:
        flow = session.run("gradient_flow")
        assert flow.status == "failed"
        overfit = session.run("overfit_batch")
        decrease = session.run("loss_decrease")
        assert session._training.cache.traces == 0
    first_clause = flow.message.split("; ")[0]
    assert first_clause.endswith("at variables hidden/kernel, hidden/bias")
    assert overfit.status == "failed" and overfit.details["steps"] == 0
    # what gradient_flow found and where, once: its explanation is in its own result
    assert overfit.message == ("memorising one batch of 8 samples: expected a model that trains, received not "
                               f"attempted; gradient_flow already failed ({first_clause}; see its result)")
    assert decrease.message.startswith("loss: expected a model that trains, received not attempted; gradient_flow")
    # alone, with no session to know it, the check trains on its own evidence: the output layer still
    # learns, so the loss keeps falling past the budget (extended 4x) and the check cannot judge it
    alone = mc.check_overfit_batch(models.stop_gradient_lambda(), max_steps=30)
    assert alone.status == "skipped" and alone.details["steps"] == 120
    assert "the loss was still falling after 120 steps" in alone.message


class _BudgetAfterMeasuring(loops.TrainingContext):
    """A budget that runs out once the step time is measured (deterministic, unlike a clock)."""

    def seconds_left(self):
        # asked before tracing (not on PyTorch, whose loop is eager), before the first step (which
        # traces) and before the second (which measures the step time); out after those
        self.asked = getattr(self, "asked", 0) + 1
        return 1000.0 if self.asked <= (2 if BACKEND == "torch" else 3) else 0.0


class _TooLittleToTrace(loops.TrainingContext):
    def seconds_left(self):
        return 0.001


def test_a_check_whose_tracing_would_overrun_the_budget_is_skipped_before_tracing():
    context = _TooLittleToTrace(budget_s=5.0)
    with loops.using(context):
        result = mc.check_overfit_batch(models.small_classifier())
    assert result.status == "skipped"
    if BACKEND == "torch":  # eager steps: no tracing to estimate; the step that measures the time stops it
        assert result.details["steps"] <= 2 and "tracing its step loop would take" not in result.message
        return
    assert result.details["steps"] == 0 and context.cache.traces == 0
    assert "after 0 steps (" in result.message
    assert "tracing its step loop would take about " in result.message and " layers)" in result.message


def test_a_check_that_would_overrun_the_budget_is_skipped_with_its_estimate():
    with loops.using(_BudgetAfterMeasuring(budget_s=5.0)):
        result = mc.check_overfit_batch(models.small_classifier(), max_steps=300)
    assert result.status == "skipped"
    assert result.details["steps"] == 2 and result.details["estimate_s"] > 0
    assert result.message.startswith("memorising one batch of 8 samples: not finished within the model's time "
                                     "budget of 5 s: after 2 steps (")
    assert "its remaining steps would take about " in result.message


def test_a_spent_budget_skips_the_remaining_checks():
    with _session(models.small_classifier, model_timeout=1e-6) as session:
        first = session.run("output_shape")
        rest = [session.run(name) for name in ("overfit_batch", "param_count")]
    assert first.passed
    assert [r.status for r in rest] == ["skipped", "skipped"]
    assert rest[0].message.startswith("not run: the model's time budget of 1e-06 s is spent (")


def test_model_timeout_and_jit_compile_are_validated():
    with pytest.raises(SpecError, match="`model_timeout` must be a number of seconds > 0, received 0"):
        ModelSpec(id="m", model_timeout=0)
    with pytest.raises(SpecError, match="`jit_compile` must be true or false, received 'yes'"):
        ModelSpec(id="m", jit_compile="yes")


def test_xla_compiled_loop_gives_the_same_verdicts():
    with _session(models.fashion_mlp, jit_compile=True) as session:
        results = [session.run(name) for name in ("overfit_batch", "loss_decrease")]
        built = list(session._training.cache._loops.values())
    assert all(result.passed for result in results), [r.message for r in results]
    assert session.spec.jit_compile
    if BACKEND == "tensorflow":  # a TensorFlow fact: JAX compiles every loop with XLA, PyTorch's loop is eager
        (loop,) = built
        assert loop.function.compiled._jit_compile


def test_seed_robustness_traces_once_and_matches_a_session_per_seed(monkeypatch):
    traces = []
    original = loops.LoopCache._count
    monkeypatch.setattr(loops.LoopCache, "_count", lambda self: (traces.append(1), original(self)))
    spec = ModelSpec(id="small", builder=models.small_classifier)
    result = over_seeds("loss_decrease", spec, seeds=[0, 1, 2])
    assert len(traces) == 1
    separate = []
    for seed in (0, 1, 2):
        with ModelSession(spec, seed=seed) as session:
            separate.append((50 - session.run("loss_decrease").details["steps"]) / 50)
    assert [row["margin"] for row in result.details["per_seed"]] == separate


def test_seed_robustness_keeps_to_the_models_time_budget():
    """The CLI's budget (ModelSession's model_timeout) bounds every seed's run too."""
    spec = ModelSpec(id="small", builder=models.small_classifier, options={"loss_decrease": {"seeds": 3}})
    with ModelSession(spec, seed=0, model_timeout=1e-6) as session:
        result = session.run("loss_decrease")
    assert result.status == "skipped", result.message
    assert "time budget" in result.message and "raise it with the spec key model_timeout" in result.message
    # a graded student's session says what makes the model fit and whose the limit is, for every seed too
    with ModelSession(spec.replace(audience=STUDENT), seed=0, model_timeout=1e-6) as session:
        graded = session.run("loss_decrease")
    assert time_budget_fix(STUDENT) in graded.message and "model_timeout" not in graded.message


def test_seeds_that_did_not_run_leave_the_verdict_open():
    def check(model, *, seed):
        status = {0: "passed", 1: "failed"}.get(seed, "skipped")
        return mc.CheckResult(check="fake", status=status, message=f"seed {seed}: {status} (budget)")

    result = over_seeds(check, models.small_classifier(), seeds=[0, 1, 2, 3], min_passes=3)
    assert result.status == "skipped"
    assert "2 seed(s) did not run, so the verdict is open: seed 2: seed 2: skipped (budget)" in result.message
    decided = over_seeds(check, models.small_classifier(), seeds=[0, 1, 2], min_passes=3)
    assert decided.status == "failed"


def test_the_note_of_a_check_not_attempted_keeps_the_first_clause_of_a_long_message():
    from modelcheck.checks.training_report import _gist

    long = "gradient: expected a finite gradient, received NaN, at variables " + ", ".join(
        f"block_{i}/kernel" for i in range(40)) + "; the loss overflowed"
    gist = _gist(long)
    assert gist.startswith("gradient: expected a finite gradient, received NaN, at variables block_0/kernel")
    assert gist.endswith(" ...") and len(gist) <= 204 and "overflowed" not in gist
    assert _gist("shape: expected (None, 10), received (None, 3)") == "shape: expected (None, 10), received (None, 3)"


def _head_without_loss() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    a = keras.layers.Dense(3, activation="softmax", name="a")(hidden)
    b = keras.layers.Dense(2, activation="softmax", name="b")(keras.layers.Dense(4, name="b_hidden")(inputs))
    model = keras.Model(inputs, [a, b])
    model.compile("adam", loss=["sparse_categorical_crossentropy", None])
    return model


def test_a_head_compiled_with_no_loss_fails_gradient_flow_and_leaves_the_trained_head_to_train():
    """Trial 22: a second head compiled with None fails gradient_flow (its layers never train), and then
    overfit_batch and loss_decrease were 'not attempted', though the head with a loss trains and can be judged."""
    with _session(_head_without_loss) as session:
        flow = session.run("gradient_flow")
        overfit = session.run("overfit_batch")
    assert flow.status == "failed" and "which is compiled with no loss" in flow.message
    assert flow.details["only_outputs_without_loss"] == ["b_hidden/kernel", "b_hidden/bias", "b/kernel", "b/bias"]
    assert overfit.passed, overfit.message
    with _session(models.stop_gradient_lambda) as session:  # any other cause still decides training
        session.run("gradient_flow")
        assert session.run("overfit_batch").details["not_attempted"] == "gradient_flow"


def test_a_run_that_did_all_its_steps_is_not_stopped_by_the_timeout_its_last_chunk_passed():
    """ResNet50's trainable_changes on JAX read 'stopped by the 30 s timeout after 5 steps' of 5: the
    step loop counted the timeout after the last chunk, though no step was missing (trial 27). A run
    still short of its steps stops at the timeout as before."""
    import time

    from modelcheck.model import loops
    from modelcheck.model.engine import TrainingRun, _run_chunks

    def chunk(n: int) -> list[float]:
        time.sleep(0.05 * n)  # every chunk takes longer than the whole timeout below
        return [1.0] * n

    for max_steps, stopped, steps in ((2, "budget", 2), (6, "timeout", 2)):
        run = TrainingRun()
        _run_chunks(run, chunk, loop=loops.TracedLoop(None, None, []), max_steps=max_steps, stop=None,
                    timeout_s=0.01, start=time.perf_counter(), context=loops.TrainingContext())
        assert (run.stopped, run.steps) == (stopped, steps)
