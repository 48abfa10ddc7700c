"""What the training checks of one model share: one traced step loop, a time budget, and the
static failures that decide them before any training.

A `TrainingContext` lives as long as a model (a `modelcheck.session.runner.ModelSession`
holds one and makes it current while a check runs). Its `LoopCache` traces the step loop once
per (objective, optimizer configuration): a later check resets the optimizer by assigning its
variables (iterations, moments, learning rate) their values from before the first step, and
the model's weights are restored by `modelcheck.model.engine.preserved_weights`, so the next
check starts from the same state as a fresh run. A check run outside a session gets a context
of its own (one trace per check, no budget).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import keras

from ..core.messages import CONFIGURER
from .objective import Objective

__all__ = ["TracedLoop", "LoopCache", "TrainingContext", "current", "session_context", "using", "objective_key",
           "trace_estimate", "record_trace"]


@dataclass
class TracedLoop:
    """One compiled step loop ``function(x, y, steps) -> losses`` and the optimizer it updates.

    Attributes:
        function: the backend adapter's loop (`modelcheck.model.backend.StepLoop`); traced on its first call.
        optimizer: the optimizer the trace captured (reused by every later check).
        initial: the optimizer's variables and their values before the first step.
        step_s: seconds per step, measured on the first run (None before).
        trace_s: seconds the first call spent tracing (None before).
    """

    function: Any
    optimizer: keras.optimizers.Optimizer
    initial: list[tuple[Any, Any]]
    step_s: float | None = None
    trace_s: float | None = None

    @property
    def traced(self) -> bool:
        return self.trace_s is not None

    def reset(self, learning_rate: Any) -> None:
        """The optimizer's state as before its first step, with `learning_rate` (a float) set."""
        for variable, value in self.initial:
            variable.assign(value)
        if learning_rate is not None:
            self.optimizer.learning_rate = learning_rate


def _optimizer_key(optimizer: keras.optimizers.Optimizer) -> tuple[Any, Any]:
    """The optimizer's class and configuration, without a plain learning rate (a variable that
    a reused loop assigns), and the learning rate to assign (None when it is a schedule)."""
    config = dict(optimizer.get_config())
    rate = config.get("learning_rate")
    if isinstance(rate, (int, float)):
        config.pop("learning_rate")
    else:
        rate = None
    config.pop("name", None)
    if "inner_optimizer" in config:  # LossScaleOptimizer: the inner rate is the one trained with
        inner = dict(config["inner_optimizer"].get("config", {})) if isinstance(config["inner_optimizer"], dict) else {}
        rate = inner.pop("learning_rate", None) if isinstance(inner.get("learning_rate"), (int, float)) else None
        inner.pop("name", None)
        config["inner_optimizer"] = inner
    return (type(optimizer).__qualname__, repr(sorted(config.items()))), rate


def objective_key(objective: Objective) -> tuple[Any, ...]:
    """Equal for objectives that compute the same loss on one model (a new `objective_for` wraps a
    named loss in a new function each time, so the function's identity cannot be the key)."""
    return tuple((loss.name, repr(loss.function.get_config()) if isinstance(loss.function, keras.losses.Loss) else None,
                  loss.weight, loss.targets, loss.kind, loss.output, loss.trained)
                 for loss in objective.losses)


class LoopCache:
    """The traced step loops of one model, one per (objective, optimizer config, XLA, and on
    JAX the batch shapes).

    ``traces`` counts how often any of them was traced (a test of "one trace per model").
    """

    def __init__(self) -> None:
        self._loops: dict[tuple[Any, ...], TracedLoop] = {}
        self.traces = 0

    def get(self, model: keras.Model, objective: Objective, optimizer: keras.optimizers.Optimizer,
            make: Callable[[keras.optimizers.Optimizer, Callable[[], None]], Any], *,
            jit_compile: bool = False, shapes: Any = ()) -> TracedLoop:
        """The loop for this model, objective and optimizer configuration, its optimizer reset;
        `make(optimizer, on_trace)` builds a new one (calling `on_trace` from the traced body).
        `shapes` tells batches apart that need a loop of their own (JAX compiles one per batch
        shape; the loop's trace time and step time are then measured per shape)."""
        optimizer_key, rate = _optimizer_key(optimizer)
        key = (id(model), objective_key(objective), optimizer_key, bool(jit_compile), shapes)
        loop = self._loops.get(key)
        if loop is None:
            optimizer.build(model.trainable_variables)
            initial = [(v, keras.ops.copy(v.value if hasattr(v, "value") else v)) for v in optimizer.variables]
            loop = TracedLoop(make(optimizer, self._count), optimizer, initial)
            self._loops[key] = loop
            return loop
        loop.reset(rate)
        return loop

    def _count(self) -> None:
        self.traces += 1

    def clear(self) -> None:
        """Drop every loop (and the model and optimizers they hold)."""
        self._loops.clear()


@dataclass
class TrainingContext:
    """The training state one model's checks share.

    Attributes:
        cache: the traced loops.
        jit_compile: compile the step loop with XLA.
        deadline: ``time.perf_counter()`` value by which the model's checks must end (None: no budget).
        budget_s: the model's time budget in seconds, for messages (None: no budget).
        audience: who reads the checks' hints (`modelcheck.core.messages.for_audience` picks the
            wording): the spec's ``audience``; grading's build job sets ``"student"`` itself.
        failed: static checks that already failed the model, check name -> first line of its message.
        memo: results the model's checks share (see `modelcheck.model.memo`).
    """

    cache: LoopCache = field(default_factory=LoopCache)
    jit_compile: bool = False
    deadline: float | None = None
    budget_s: float | None = None
    audience: str = CONFIGURER
    failed: dict[str, str] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.perf_counter()


_CURRENT: contextvars.ContextVar[TrainingContext | None] = contextvars.ContextVar("modelcheck_training", default=None)


def current() -> TrainingContext:
    """The context of the running session, or a new one (a check run on its own)."""
    context = session_context()
    return context if context is not None else TrainingContext()


# Tracing a step loop costs about the same per layer whatever the family (measured on 2 cores:
# 0.047-0.054 s per layer for MobileNetV2, ResNet50, EfficientNetB0 and DenseNet121); the
# figure is replaced by what this process measures once it has traced a loop.
_TRACE_S_PER_LAYER = [0.05]


def _layer_count(model: keras.Model) -> int:
    try:
        return max(1, sum(1 for _ in model._flatten_layers(include_self=False, recursive=True)))
    except (AttributeError, TypeError):
        return max(1, len(getattr(model, "layers", [])))


def trace_estimate(model: keras.Model) -> tuple[float, int]:
    """The seconds tracing a step loop of `model` would take, and its number of layers (nested
    layers included) the estimate is made from."""
    layers = _layer_count(model)
    return _TRACE_S_PER_LAYER[0] * layers, layers


def record_trace(model: keras.Model, seconds: float) -> None:
    """Calibrate `trace_estimate` with a measured trace of `model`."""
    if seconds > 0:
        _TRACE_S_PER_LAYER[0] = seconds / _layer_count(model)


def session_context() -> TrainingContext | None:
    """The context of the running session, None outside one."""
    return _CURRENT.get()


@contextlib.contextmanager
def using(context: TrainingContext) -> Iterator[TrainingContext]:
    """Make `context` current while the block runs."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)
