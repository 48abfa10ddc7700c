"""What every check does the same way: resolve the model, seed, time, and turn errors in
the user's code into an ``error`` result with a hint instead of a crash."""

from __future__ import annotations

import functools
import inspect
import math
import time
from typing import Any, Callable, NamedTuple, TypeVar

import keras
import numpy as np

from ..core.quiet import library_deprecations_quieted
from ..core.errors import INTERNAL_HINT, InternalError, ModelcheckError, UserCodeError, call_user_code
from ..model import backend
from ..model.build import build_model
from ..model.compiled import compiled_without_loss
from ..model.outputs import first_nonfinite_weight, flatten_outputs, output_names
from ..model.inputs import batch_words, fixed_batch_size, input_infos, sample_targets, synthetic_inputs
from ..model.memo import remembered
from ..model.objective import Objective, objective_for
from ..model.state import reset_states
from ..core.messages import mismatch, output_ref
from ..model.teacher import teacher_outputs
from ..core.result import CheckResult

__all__ = ["check", "seed_all", "internal_error", "pair_per_layer", "forward", "nonfinite_failure", "prepare_batch",
           "Batch", "fmt", "HUGE_SAMPLE", "sample_values", "default_batch"]

F = TypeVar("F", bound=Callable[..., CheckResult])


def check(name: str) -> Callable[[F], F]:
    """Decorate a check function ``fn(model, ..., seed=0, **kwargs) -> CheckResult``.

    The wrapper accepts a ``keras.Model`` or a builder callable (plus ``input_shape=`` for
    subclassed models), seeds Keras and NumPy, times the check, quiets the libraries' deprecation
    notices (which ``-W error`` would otherwise raise as modelcheck's errors), and converts a
    `UserCodeError` into a result with status ``error``. Any other exception is modelcheck's
    own: an ``error`` result marked ``details["internal"]`` (see `internal_error`).
    """

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(model: Any, *args: Any, seed: int = 0, input_shape: Any = None, **kwargs: Any) -> CheckResult:
            signature.bind(None, *args, seed=seed, **kwargs)  # a wrong argument is the caller's TypeError
            start = time.perf_counter()
            try:
                with library_deprecations_quieted(), backend.compute_threads():
                    seed_all(seed)  # a builder's initial weights come from the seed, not whatever ran before
                    built = build_model(model, input_shape=input_shape)
                    seed_all(seed)
                    result = fn(built, *args, seed=seed, **kwargs)
            except UserCodeError as exc:
                result = exc.to_result(name)
            except ModelcheckError:
                raise  # SpecError: an invalid argument of the check, raised to the caller
            except InternalError as exc:
                result = internal_error(name, exc.original, exc.doing)
            except Exception as exc:  # a bug of ours: reported with its traceback, never blamed on the user
                result = internal_error(name, exc, f"running {name}")
            result.duration_s = time.perf_counter() - start
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


def seed_all(seed: int) -> None:
    """``keras.utils.set_random_seed(seed)``, except that TensorFlow's global seed is set only when
    it changes: setting it clears TensorFlow's caches, so the next call of every traced function
    (the step loop a model's checks share: 10-20 s for ResNet50) would be optimised anew. Python's,
    NumPy's and Keras' generators are reseeded every time; only a stateful ``tf.random`` op in the
    user's own code continues its sequence from one check to the next of a session. The other
    backends keep no such cache: there every generator is simply reseeded."""
    if keras.backend.backend() != "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    from tensorflow.python.eager import context

    if context.global_seed() != seed:
        keras.utils.set_random_seed(seed)
        return
    import random

    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)


def internal_error(name: str, exc: BaseException, doing: str) -> CheckResult:
    """The ``error`` result of check `name` for an exception raised in modelcheck's own code:
    the message starts "internal error in modelcheck", ``details["internal"]`` is True and
    ``details["traceback"]`` holds the traceback (graders must not count it against a student)."""
    error = exc if isinstance(exc, InternalError) else InternalError(doing, exc)
    return CheckResult.error(name, str(error), hint=INTERNAL_HINT,
                             details={"internal": True, "traceback": error.traceback})


def pair_per_layer(name: str, expectations: dict[str, Any] | list[Any], layers: list[Any], where: str,
                   details: dict[str, Any]) -> list[tuple[Any, Any]] | CheckResult:
    """Pair per-layer `expectations` (a list in layer order, or a dict by layer name) with `layers`,
    in layer order; the failure of check `name` when a name is unknown or the list has another length."""
    if isinstance(expectations, dict):
        by_name = {layer.name: layer for layer in layers}
        missing = [key for key in expectations if key not in by_name]
        if missing:
            return CheckResult.fail(name, mismatch("layer name", f"one of {', '.join(map(repr, by_name))}",
                                                   repr(missing[0]), at=where),
                                    expected=list(by_name), received=missing[0], details=details)
        order = {layer.name: i for i, layer in enumerate(layers)}
        return sorted(((by_name[key], want) for key, want in expectations.items()), key=lambda p: order[p[0].name])
    if len(expectations) != len(layers):
        return CheckResult.fail(
            name, mismatch("number of layers", len(expectations),
                           f"{len(layers)} ({', '.join(layer.name for layer in layers)})", at="the model's layers"),
            expected=len(expectations), received=len(layers), details=details)
    return list(zip(layers, expectations))


def forward(model: keras.Model, x: Any) -> list[np.ndarray]:
    """Run the model in inference mode, from the state of a fresh model (`modelcheck.model.state`);
    outputs as a flat list of NumPy arrays (computed once per batch within a session:
    `modelcheck.model.memo`)."""
    def run() -> list[np.ndarray]:
        reset_states(model)
        outputs = call_user_code(f"running the model on {batch_words(model)}", backend.call_model, model, x)
        return [keras.ops.convert_to_numpy(o) for o in flatten_outputs(outputs)]

    return remembered("forward", model, x, run)


def nonfinite_failure(name: str, model: keras.Model, outputs: list[np.ndarray] | None = None) -> CheckResult | None:
    """A failed result when weights or outputs hold NaN/Inf, saying where; else None."""
    bad_weight = first_nonfinite_weight(model)
    if bad_weight is not None:
        return CheckResult.fail(
            name,
            mismatch("weights", "finite values", "NaN or Inf values", at=f"weight {bad_weight}",
                     note="every output computed from it is garbage"),
            expected="finite weights",
            received="NaN or Inf values",
            hint="look for a division by zero or an overflow where the weights are set, "
            "or a learning rate so large that training diverged.",
        )
    if outputs is not None:
        names = output_names(model)
        for i, out in enumerate(outputs):
            if np.issubdtype(out.dtype, np.floating) and not np.all(np.isfinite(out)):
                where = names[i] if i < len(names) else f"output {i}"
                count = int((~np.isfinite(out)).sum())
                return CheckResult.fail(
                    name,
                    mismatch("output values", "finite values", f"{count} NaN/Inf values among {out.size}",
                             at=output_ref(where), note="on a finite synthetic batch"),
                    expected="finite outputs",
                    received=f"{count} NaN/Inf values among {out.size}",
                    hint="a layer overflows or divides by zero (e.g. a log of 0 or exp of a large value).",
                )
    return None


class Batch(NamedTuple):
    """One batch to differentiate or train on, with the objective that fits the model."""

    x: Any
    targets: list[np.ndarray]
    objective: Objective
    predictions: list[np.ndarray]


# A sample that holds more values than an ImageNet-size image (224 x 224 x 3 = 150,528 values)
# makes every step cost seconds: checks that run the model take half their usual batch there.
HUGE_SAMPLE = 100_000


def sample_values(model: keras.Model) -> int | None:
    """The number of values one sample holds over all inputs (unknown sizes counted as 1), or
    None when the inputs cannot be read."""
    try:
        return sum(math.prod(d or 1 for d in info.shape[1:]) for info in input_infos(model))
    except (ValueError, TypeError, KeyError):
        return None


def default_batch(model: keras.Model, usual: int = 8) -> int:
    """`usual`, or half of it (at least 4) when one sample holds more than `HUGE_SAMPLE` values."""
    values = sample_values(model)
    return max(4, usual // 2) if values is not None and values > HUGE_SAMPLE else usual


def prepare_batch(name: str, model: keras.Model, *, output: Any = None, batch_size: int = 8, seed: int = 0,
                  x: Any = None, y: Any = None, fittable: bool = False) -> Batch | CheckResult:
    """A synthetic (or given) batch, the model's objective and targets that fit it; or a
    failed result named `name` when the weights or outputs hold NaN/Inf. With `fittable`
    (training checks), targets come from a teacher of the same architecture (see
    `modelcheck.model.teacher`), so a sound model can always fit them. A model given an
    instructor's samples (`modelcheck.model.inputs.set_instructor_data`) gets those rows and
    their labels instead."""
    if x is None:
        if y is None:
            y = sample_targets(model, batch_size, seed)
        x = synthetic_inputs(model, batch_size, seed)
    predictions = forward(model, x)
    failure = nonfinite_failure(name, model, predictions)
    if failure is not None:
        return failure
    if compiled_without_loss(model):  # model.losses holds the add_loss terms of the last call, which may be gone
        call_user_code(f"running the model on {batch_words(model)}", model, x, training=False)
    objective = objective_for(model, predictions, output=output)
    if y is None:
        teacher = teacher_outputs(model, x, seed) if fittable else None
        targets = objective.targets(predictions, seed, teacher=teacher)
    else:
        targets = objective.from_labels([np.asarray(t) for t in (y if isinstance(y, (list, tuple)) else [y])],
                                        predictions)
    return Batch(x, targets, objective, predictions)


# Why a variable can get no gradient on one batch and some on another, for messages.
SIGNS_CANCEL = ("under a loss whose gradient is a sign, as MAE's and hinge's are, the signs cancel when as many "
                "samples lie above their targets as below")


def second_batch(name: str, model: keras.Model, *, output: Any, batch_size: int, seed: int) -> Batch | CheckResult:
    """Another draw than `prepare_batch(..., batch_size, seed)`, of an odd size, to confirm a zero
    gradient or an unchanged variable before a check fails on it: under a loss whose gradient is
    a sign (MAE, hinge) a bias gets exactly zero whenever as many samples lie above their targets
    as below (one model in four on a batch of 8); on an odd number of samples they cannot cancel.
    A model that takes one batch size only (`fixed_batch_size`) gets that many samples of another
    draw, on which they are unlikely to cancel again."""
    size = fixed_batch_size(model) or batch_size + 1 + batch_size % 2
    return prepare_batch(name, model, output=output, batch_size=size, seed=seed + 1)


def fmt(value: float) -> str:
    """A short human number: 3.8e-05, 0.123, 13.4."""
    if value != value:  # NaN
        return "NaN"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.2g}"
