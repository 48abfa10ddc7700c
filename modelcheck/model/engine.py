"""The one training engine every training-based check shares.

The step loop runs inside one compiled function, traced once per model and reused by every
check of that model (see `modelcheck.model.loops`); the backend's adapter builds it
(`modelcheck.model.backend`: a ``tf.function`` over a ``tf.while_loop`` on TensorFlow, a
``jax.jit``-compiled ``lax.fori_loop`` on JAX, eager steps on PyTorch). It runs in chunks so that early stopping, step budgets, timeouts and the
model's time budget are checked between chunks without per-epoch ``model.fit`` overhead. A
stop rule is asked on a geometric schedule, so a check stops soon after its verdict is known
(a quarter more steps at most) at the same step on every machine. A run given `extend_to` that
reaches its step budget while its loss is still falling (`still_falling`) doubles the budget, up to
`extend_to`, when the steps fit in its timeout: a slow learner (a tiny model on Adam's default rate)
is not a broken one. The model's weights are restored afterwards (`preserved_weights`); the compiled
optimizer is never touched.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import keras
import numpy as np

from ..core.errors import UserCodeError, call_user_code, definition_line
from ..core.messages import for_audience
from . import backend, loops
from .compiled import compiled_optimizer
from .memo import changing_weights
from .origin import is_library_code
from .objective import Objective
from .state import reset_states

__all__ = ["TrainingRun", "preserved_weights", "fresh_optimizer", "train", "train_own_step", "own_training",
           "StopRule", "still_falling", "falling_tail", "falling_points", "FALLING"]

StopRule = Callable[["TrainingRun"], bool]

# Chunks grow so a long run pays little per-call overhead and still re-checks its budget and
# clock often enough; one trace serves every chunk size. With a stop rule the chunks end at a
# fixed geometric schedule (steps 2, 3, 4, 5, 7, 9, 12, 15, 19, ...: at most a quarter more steps
# than the verdict needed, about 25 verdicts in 500 steps), the same on every machine, so the
# same seed stops at the same step.
_FIRST_CHUNK = 10
_MAX_CHUNK = 100
_GROWTH = 1.25

# A loss is still falling when the least-squares line through its last three tenths of steps (at
# least 15) falls by at least this share of their mean per step (0.25% per 50 steps), four standard
# errors clear of flat, so the noise of a flat loss (Dropout) does not pass for a fall. Sound models
# that learn slowly fall 7-19% per 50 steps at step 500 (tiny models on Adam's default rate), 0.7%
# at step 2,000 on Adagrad's; a model that cannot learn (a linear output under cross-entropy, no
# gradient) falls 0%.
FALLING = 0.00005
_CLEAR_OF_FLAT = 4.0


def _tail_steps(steps: int) -> int:
    """How many of the last steps `still_falling` judges: three tenths of them, at least 15."""
    return 3 * max(5, steps // 10)


def falling_tail(losses: list[float]) -> list[float]:
    """The last losses `still_falling` judges (`_tail_steps`); none when there are fewer than 15."""
    return losses[-_tail_steps(len(losses)):] if len(losses) >= 15 else []


def still_falling(losses: list[float]) -> bool:
    """Whether the loss is still falling at the end of `losses` (see `FALLING`); False when there
    are fewer than 15 losses or the last ones are not finite."""
    tail = falling_tail(losses)
    count = len(tail)
    if not tail or not all(math.isfinite(v) for v in tail):
        return False
    mean = sum(tail) / count
    centre = (count - 1) / 2
    sxx = sum((i - centre) ** 2 for i in range(count))
    slope = sum((i - centre) * (v - mean) for i, v in enumerate(tail)) / sxx
    if mean == 0 or -slope / abs(mean) < FALLING:
        return False
    residual = sum((v - mean - slope * (i - centre)) ** 2 for i, v in enumerate(tail)) / (count - 2)
    error = math.sqrt(residual / sxx)
    return error == 0 or slope / error <= -_CLEAR_OF_FLAT


def falling_points(points: list[tuple[int, float]], steps: int) -> tuple[tuple[int, float], tuple[int, float]] | None:
    """The first and last of `points` ((step, loss) measured in inference mode by a stop rule) in
    the steps `still_falling` judges (the last three tenths of `steps`, at least 15) when the loss
    fell from each to the next, by at least `FALLING` of its mean per step in all; else None.

    Unlike a training loss, an inference-mode loss has no Dropout noise: a model that memorises
    its batch slowly behind Dropout falls steadily there while its training losses are too noisy
    to be four standard errors clear of flat. A few points suffice, and none may rise."""
    window = [(step, loss) for step, loss in points if step >= steps - _tail_steps(steps)]
    if len({step for step, _ in window}) < 2 or not all(math.isfinite(loss) for _, loss in window):
        return None
    if any(later > earlier for (_, earlier), (_, later) in zip(window, window[1:])):
        return None
    (first_step, first), (last_step, last) = window[0], window[-1]
    mean = (abs(first) + abs(last)) / 2
    if mean == 0 or (first - last) / mean / (last_step - first_step) < FALLING:
        return None
    return window[0], window[-1]


@dataclass
class TrainingRun:
    """What happened during training.

    Attributes:
        losses: the loss at every step (before that step's update).
        steps: the number of update steps run.
        stopped: why it ended: ``"converged"`` (the stop rule held), ``"budget"`` (max steps),
            ``"timeout"``, ``"non_finite"`` (the loss became NaN/Inf), or ``"over_budget"``
            (the next steps would overrun the model's time budget; see `loops.TrainingContext`).
        seconds: wall time, tracing included.
        tracing_s: the part of `seconds` spent tracing the step loop (0 when an earlier check
            of the same model traced it).
        step_s: the measured time of one step.
        estimate_s: with ``"over_budget"``, the time the remaining steps would have taken (or,
            before any step, tracing the loop would have taken).
        trace_layers: with ``"over_budget"`` before tracing, the layers the tracing estimate counts.
        optimizer: a description of the optimizer used.
        budget: the step budget in effect when the run ended (`max_steps`, or more when the run was
            extended because its loss was still falling).
        held_by: what kept a still-falling run from a longer budget: ``"timeout"`` (the check's)
            or ``"model_budget"`` (the model's time budget); None when nothing did.
        inference_losses: (step, loss) pairs the stop rule measured in inference mode
            (`note_inference_loss`); a run is still falling when they fall (see `falling_points`).
    """

    losses: list[float] = field(default_factory=list)
    steps: int = 0
    stopped: str = "budget"
    seconds: float = 0.0
    tracing_s: float = 0.0
    step_s: float | None = None
    estimate_s: float | None = None
    optimizer: str = ""
    trace_layers: int | None = None
    budget: int = 0
    held_by: str | None = None
    inference_losses: list[tuple[int, float]] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        return self.losses[-1] if self.losses else float("nan")

    @property
    def still_falling(self) -> bool:
        """Whether the loss was still falling when the run ended: its training losses (see
        `still_falling`), or those its stop rule measured in inference mode (`falling_points`).
        Never while the loss measured in inference mode has not moved at all (`inference_fixed`):
        what is judged does not follow what trains, and more steps cannot change it."""
        if self.inference_fixed:
            return False
        return still_falling(self.losses) or falling_points(self.inference_losses, self.steps) is not None

    @property
    def inference_fixed(self) -> bool:
        """Whether the loss measured in inference mode stayed the same over at least 5 measurements
        and 100 steps, while the model trained: a softmax on a single unit outputs 1 whatever its
        weights, though Keras' binary cross-entropy trains the logit beneath it and falls."""
        points = [loss for _, loss in self.inference_losses]
        if len(points) < 5 or self.inference_losses[-1][0] - self.inference_losses[0][0] < 100:
            return False
        if not all(math.isfinite(v) for v in points):
            return False
        return max(points) - min(points) <= 1e-6 * max(1.0, abs(points[-1]))

    def note_inference_loss(self, loss: float) -> None:
        """Record the loss a stop rule measured in inference mode at the current step."""
        self.inference_losses.append((self.steps, loss))


@contextlib.contextmanager
def preserved_weights(model: keras.Model, *, non_trainable_only: bool = False) -> Iterator[None]:
    """Restore every variable of `model` (weights, statistics, seed states) on exit, so a
    check never leaves the user's model changed; with `non_trainable_only` only those a
    training-mode forward pass changes (BatchNormalization's statistics, seed states)."""
    variables = model.non_trainable_variables if non_trainable_only else model.variables
    saved = [(variable, keras.ops.convert_to_numpy(variable)) for variable in variables]
    try:
        with changing_weights():
            yield
    finally:
        for variable, value in saved:
            variable.assign(value)


def _describe_optimizer(optimizer: keras.optimizers.Optimizer) -> str:
    """``SGD(learning_rate=0.01, momentum=0.9)``: the class, its rate and a momentum it uses."""
    extra = ""
    momentum = getattr(optimizer, "momentum", None)
    if isinstance(momentum, (int, float)) and momentum:
        extra = f", momentum={momentum:g}" + (", nesterov=True" if getattr(optimizer, "nesterov", False) else "")
    try:
        rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        schedule = getattr(optimizer, "_learning_rate", None)
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):  # not 'learning_rate=0' for a warm-up
            return f"{type(optimizer).__name__}(learning_rate={type(schedule).__name__} from {rate:g}{extra})"
        return f"{type(optimizer).__name__}(learning_rate={rate:g}{extra})"
    except (TypeError, ValueError):
        return type(optimizer).__name__ + (f"({extra[2:]})" if extra else "")


def fresh_optimizer(model: keras.Model, *, default: str = "adam", learning_rate: float | None = None,
                    use_compiled: bool = True) -> keras.optimizers.Optimizer:
    """A new optimizer like the model's compiled one (same class and settings, fresh state),
    or `default` when the model is not compiled; `learning_rate` overrides the rate.

    Gradient accumulation is left out: every step of a check trains on the same batch, so the
    mean of N accumulated gradients is the gradient of one step, and with N = 16 a check's 50
    steps made 3 updates (a sound model failed loss_decrease at 1%, trainable_changes as 'too
    small to move')."""
    compiled = compiled_optimizer(model) if use_compiled else None
    if isinstance(compiled, keras.optimizers.Optimizer):
        config = compiled.get_config()
        if learning_rate is not None:
            config["learning_rate"] = learning_rate
        for settings in (config, (config.get("inner_optimizer") or {}).get("config") or {}):
            if settings.get("gradient_accumulation_steps"):
                settings["gradient_accumulation_steps"] = None
        return type(compiled).from_config(config)
    optimizer = keras.optimizers.get(default)
    if learning_rate is not None:
        optimizer.learning_rate = learning_rate
    return optimizer


@contextlib.contextmanager
def _quiet_retracing() -> Iterator[None]:
    """Checks run outside a session trace a loop each, which TensorFlow's logger reports as
    "triggered tf.function retracing" after five of them."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)


def own_training(model: keras.Model) -> str | None:
    """``"train_step"`` or ``"compute_loss"`` when the model's class overrides it (GANs, VAEs,
    contrastive models train an objective of their own), else None."""
    for name in ("train_step", "compute_loss"):
        owner = next((klass for klass in type(model).__mro__ if name in vars(klass)), None)
        if owner is not None and not is_library_code(vars(owner)[name]):
            return name
    return None


def _own_optimizers(model: keras.Model) -> str:
    """The optimizers a model's own train_step uses, described: those it holds besides the compiled
    one (a GAN's d_optimizer and g_optimizer, by attribute), else the compiled one."""
    held = {name: value for name, value in vars(model).items()
            if isinstance(value, keras.optimizers.Optimizer) and value is not getattr(model, "optimizer", None)}
    if not held:
        return _describe_optimizer(model.optimizer)
    return ", ".join(f"{name}={_describe_optimizer(optimizer)}" for name, optimizer in held.items())


@contextlib.contextmanager
def _preserved_optimizer(model: keras.Model) -> Iterator[None]:
    """Restore the compiled optimizer's state, any other optimizer the model holds (a GAN's
    `d_optimizer` and `g_optimizer`, which its train_step uses instead) and the model's metrics
    after a run of the model's own train_step (which updates them)."""
    held = [value for value in vars(model).values() if isinstance(value, keras.optimizers.Optimizer)]
    optimizers = {id(o): o for o in [getattr(model, "optimizer", None), *held] if o is not None}.values()
    saved = [(v, keras.ops.convert_to_numpy(v)) for optimizer in optimizers for v in optimizer.variables]
    # (a variable made while a train_step was traced, in a run that then failed, holds no value yet)
    saved = [(v, value) for v, value in saved if value.shape == tuple(v.shape)]
    try:
        yield
    finally:
        for variable, value in saved:
            variable.assign(value)
        model.reset_metrics()


def _takes(function: Any, count: int) -> bool:
    """Whether `function` can be called with `count` positional arguments (True when that cannot
    be told: a callable without a signature)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # no signature to read
        return True
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def own_step_mismatch(model: keras.Model) -> UserCodeError | None:
    """The user's error when the model's own ``train_step`` is written for another backend's
    calling convention (``train_step(self, data)`` on TensorFlow and PyTorch, ``train_step(self,
    state, data)`` on JAX): Keras' fit fails on it just the same; None when it fits."""
    expected = backend.current().train_step_arguments
    if own_training(model) != "train_step" or _takes(model.train_step, len(expected)):
        return None
    name = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}.get(backend.name(), backend.name())
    audience = loops.current().audience
    graded = f"the grader runs Keras on {name} (your instructor's setting)"
    if name == "JAX":
        hint = ("on JAX a train_step is stateless: def train_step(self, state, data) returning (logs, state), as in "
                "keras.io's \"Customizing what happens in fit() with JAX\"; " + for_audience(
                    audience, configurer="or grade and run the model with the backend it was written for "
                    "(KERAS_BACKEND=tensorflow)", student=f"{graded}, so write it in that form"))
    else:
        hint = (f"on {name} Keras calls train_step(self, data); a train_step(self, state, data) is JAX's form: "
                + for_audience(audience, configurer="write it for this backend, or run the model with KERAS_BACKEND=jax",
                               student=f"write it for {name}: {graded}"))
    return UserCodeError(f"the model's own train_step does not take the arguments Keras passes it on the {name} "
                         f"backend ({', '.join(expected)}): model.fit fails on it in the same way", hint=hint,
                         location=definition_line(model.train_step))


def train_own_step(model: keras.Model, x: Any, y: Any, *, max_steps: int, stop: StopRule | None = None,
                   timeout_s: float | None = None, extend_to: int | None = None,
                   other_targets: Sequence[Any] = (), require_loss: bool = True) -> TrainingRun | str:
    """Train with the model's own ``train_step`` (its objective, its optimizer) on one batch, in
    one compiled loop; returns the run, or why it cannot (a sentence for a ``skipped`` result).
    Without `require_loss`, logs with no ``loss`` (a GAN's d_loss and g_loss) are trained on too,
    their losses recorded as 0: for a check that judges the steps, not the loss.

    The data is ``(x,)`` as ``fit(x)`` passes it (GANs, VAEs), or ``(x, y)`` when the model
    needs targets (its ``compute_loss``, or a ``train_step`` that unpacks ``x, y``). Its own loss
    says nothing of the targets it takes: when its first step raises on `y`, each of
    `other_targets` (other kinds of the same targets: class ids, one-hot rows) is tried in turn;
    when every one fails, the error on `y` is the user's.
    """
    if getattr(model, "optimizer", None) is None:
        return "the model overrides train_step but is not compiled, so it has no optimizer to train with"
    mismatch = own_step_mismatch(model)
    if mismatch is not None:
        raise mismatch
    x_t = keras.tree.map_structure(keras.ops.convert_to_tensor, x)
    y_t = keras.tree.map_structure(keras.ops.convert_to_tensor, y)
    adapter = backend.current()
    others = [(x_t, keras.tree.map_structure(keras.ops.convert_to_tensor, other)) for other in other_targets]
    attempts = ([(x_t, y_t)] if own_training(model) == "compute_loss" else [(x_t,), (x_t, y_t)]) + others
    run = TrainingRun(optimizer=_own_optimizers(model) + " (the model's own train_step)")
    start = time.perf_counter()
    reset_states(model)  # its own train_step carries the state from step to step, as fit does
    with _preserved_optimizer(model):
        loop, first, failed = None, None, []
        for data in attempts:
            missing: list[Any] = []  # what logs without a 'loss' hold (told while the step is traced)
            candidate = adapter.own_loop(model, data, missing.append)
            try:
                with _quiet_retracing():
                    first = call_user_code("training with the model's own train_step", candidate, 1)
                if missing and require_loss:
                    return (f"the model's own train_step returns no 'loss' (it returns {missing[0]}), "
                            "so there is no objective to judge")
                loop = candidate
                break
            except UserCodeError as exc:
                failed.append(exc)
                if data is attempts[-1]:
                    # the error on the targets shaped as the outputs (after `(x,)` alone, for a train_step)
                    raise failed[len(attempts) - len(others) - 1]
        run.losses.extend(float(v) for v in first)
        run.steps = 1
        run.tracing_s = time.perf_counter() - start
        traced = loops.TracedLoop(loop, model.optimizer, [], trace_s=run.tracing_s)
        _run_chunks(run, lambda n: call_user_code("training with the model's own train_step", loop, n),
                    loop=traced, max_steps=max_steps, stop=stop, timeout_s=timeout_s, start=start,
                    context=loops.current(), extend_to=extend_to)
    return run


def train(
    model: keras.Model,
    x: Any,
    y: list[np.ndarray],
    objective: Objective,
    optimizer: keras.optimizers.Optimizer,
    *,
    max_steps: int,
    stop: StopRule | None = None,
    timeout_s: float | None = None,
    extend_to: int | None = None,
) -> TrainingRun:
    """Train `model` on the batch (`x`, `y`) for at most `max_steps` full-batch steps.

    `optimizer` names the optimizer (class, settings, learning rate); within a session
    (`loops.using`) a loop already traced for the same model, objective and optimizer
    configuration is reused, its optimizer reset to its state before the first step. `stop` is
    asked between chunks whether to end early. With `extend_to`, a run whose loss is still falling
    at its budget goes on (the budget doubled, at most `extend_to`) while the steps fit in
    `timeout_s`. The caller restores the weights (see
    `preserved_weights`). Errors raised by the user's layers become `UserCodeError`.
    """
    context = loops.current()
    run = TrainingRun(optimizer=_describe_optimizer(optimizer))
    start = time.perf_counter()
    reset_states(model)  # the loops reset it before each step too: a JAX loop reads it when traced
    x_t = keras.tree.map_structure(keras.ops.convert_to_tensor, x)
    y_t = [keras.ops.convert_to_tensor(t) for t in y]
    adapter = backend.current()
    loop = context.cache.get(
        model, objective, optimizer,
        lambda built, on_trace: adapter.make_loop(model, objective, built, x_t, y_t, on_trace, context.jit_compile),
        jit_compile=context.jit_compile, shapes=adapter.loop_key(x_t, y_t))
    if not loop.traced and adapter.traces:
        seconds_left = context.seconds_left()
        estimate, layers = loops.trace_estimate(model)
        if seconds_left is not None and estimate > seconds_left:
            run.stopped, run.estimate_s, run.trace_layers = "over_budget", estimate, layers
            return run
    _run_chunks(run, lambda n: call_user_code("training the model", loop.function, x_t, y_t, n),
                loop=loop, max_steps=max_steps, stop=stop, timeout_s=timeout_s, start=start, context=context,
                extend_to=extend_to)
    if run.tracing_s and adapter.traces:
        loops.record_trace(model, run.tracing_s)
    return run


def _extended(run: TrainingRun, budget: int, extend_to: int | None, timeout_s: float | None,
              seconds_left: float | None = None) -> int:
    """The next step budget of a run that reached `budget`: doubled (at most `extend_to`) when its
    loss is still falling and the extra steps fit both in what is left of `timeout_s` and in the
    model's time budget (`seconds_left`); else `budget`. An extension never turns a run that
    ended within its budget into one stopped by the model's time budget."""
    if extend_to is None or budget >= extend_to or not run.still_falling:
        return budget
    bigger = min(extend_to, 2 * budget)
    if run.step_s is not None:
        extra = (bigger - run.steps) * run.step_s
        if timeout_s is not None and extra > timeout_s - (run.seconds - run.tracing_s):
            run.held_by = "timeout"
            return budget
        if seconds_left is not None and extra > seconds_left:
            run.held_by = "model_budget"
            return budget
    return bigger


def _run_chunks(run: TrainingRun, chunk_fn: Callable[[int], np.ndarray], *, loop: loops.TracedLoop, max_steps: int,
                stop: StopRule | None, timeout_s: float | None, start: float, context: loops.TrainingContext,
                extend_to: int | None = None) -> None:
    """Call `chunk_fn(n)` (n steps, returning their losses) in chunks until the step budget, the
    stop rule, the timeout, a non-finite loss or the model's time budget ends the run.

    The first call runs one step (tracing the loop if it is new), the second one step to measure
    its time (which the time budget needs; a loop traced by an earlier check measures it on its
    first call); the stop rule is asked from step 2 on, so a run stops at the same step whether
    its loop was traced for it or not.
    """
    cap = _FIRST_CHUNK
    run.budget = max_steps
    while True:
        if run.steps >= run.budget:
            bigger = _extended(run, run.budget, extend_to, timeout_s, context.seconds_left())
            if bigger <= run.budget:
                run.stopped = "budget"
                break
            run.budget = bigger
        left = run.budget - run.steps
        if run.step_s is None:
            n = 1
        elif stop is not None:
            n = min(left, _MAX_CHUNK, max(1, math.ceil(run.steps * _GROWTH) - run.steps))
        else:
            n = min(left, cap)
            cap = min(cap * 2, _MAX_CHUNK)
        seconds_left = context.seconds_left()
        if seconds_left is not None and (seconds_left <= 0 or (run.step_s is not None and n * run.step_s > seconds_left)):
            run.stopped = "over_budget"
            run.estimate_s = left * run.step_s if run.step_s is not None else None
            break
        measuring = run.step_s is None
        began = time.perf_counter()
        with _quiet_retracing():
            losses = chunk_fn(n)
        values = [float(v) for v in losses]
        took = time.perf_counter() - began
        if not loop.traced:
            loop.trace_s = took  # tracing and one step; the step's share is taken off below
            run.tracing_s = took
        elif run.steps == 1 and measuring:
            run.step_s = took
            if run.tracing_s:
                run.tracing_s = loop.trace_s = max(0.0, run.tracing_s - took)
        elif measuring:
            run.step_s = took  # a loop traced by an earlier check: its first step is the measure
        run.losses.extend(values)
        run.steps += n
        run.seconds = time.perf_counter() - start
        if not all(math.isfinite(v) for v in values):
            run.stopped = "non_finite"
            break
        if stop is not None and (run.steps >= 2 or run.steps >= run.budget) and stop(run):
            run.stopped = "converged"
            break
        # the timeout bounds training; tracing a large model on a busy machine can alone take
        # longer, and says nothing about the model (the time budget of the model covers it). A run
        # whose last chunk ended past it did all its steps: it ends on its budget (an extension is
        # weighed against the timeout there)
        if timeout_s is not None and run.seconds - run.tracing_s > timeout_s and run.steps < run.budget:
            run.stopped = "timeout"
            break
    run.seconds = time.perf_counter() - start
