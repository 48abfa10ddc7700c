"""Whether the model file the build job exports is the model the student built (in the build job).

The clean check job judges the exported ``.keras`` file, loaded in safe mode with Keras' own
code only. Three things the student's model holds do not make that trip whole:

- **Plain functions are saved by their name only.** A student's own ``def relu(x): return x``
  given as an activation is saved as ``"relu"`` and loaded as Keras' relu; a loss function named
  like Keras' loads as Keras' loss. The clean job would grade another model.
- **A subclassed model is exported as the graph its ``call`` makes in inference mode**: a branch
  taken only when ``training`` is true is not in it, nor is the model's own ``train_step`` or
  ``compute_loss``.
- **Compile settings the clean job cannot load** (a custom loss, optimizer or schedule) are
  dropped there, and the model is trained with an objective inferred from its outputs.

`forward_difference` finds the first (the file computes other outputs: the export is refused, as
for a model safe mode cannot load); `not_reproduced` the others (how the model trains: the
checks that depend on it are not judged). Nothing here runs unless the build job asks.
"""

from __future__ import annotations

import functools
import os
import types
from typing import Any, NamedTuple

import keras
import numpy as np

from ..core.errors import UserCodeError, call_user_code
from ..core.messages import layer_ref
from ..model.graph import functional_twin, has_symbolic_inputs, takes_training
from ..model.compiled import compiled_loss, compiled_optimizer
from ..model.inputs import all_layers, synthetic_inputs
from ..model.origin import held_functions, source_file
from ..model.randomness import random_in_inference, rewinder, rewound_forward, same_draws, training_only_layer
from .lost_reasons import CALL_PATH, literal, reported

__all__ = ["forward_difference", "not_reproduced", "own_functions", "Lost", "set_job_folder"]

# Outputs of the same weights through the same operations agree to float rounding; a function
# of another meaning differs by far more.
_ATOL, _RTOL = 1e-4, 1e-3
# A model's own training code, which the exported file does not hold, and what it changes
_TRAINING_METHODS = (("train_step", "step"), ("compute_loss", "loss"), ("test_step", "step"))


_JOB_FOLDER: list[str | None] = [None]  # where the job started, before the submission's code could chdir


def set_job_folder(folder: str) -> None:
    """Record the job's folder (where the submission is), as the job starts: the submission's own
    code is what was written there, wherever that code moves the working directory later."""
    _JOB_FOLDER[0] = os.path.abspath(folder)


def _own_code(obj: Any, course: tuple[str, ...]) -> bool:
    """Whether `obj` (a function or class) is the submission's own code: written in the job's
    folder (where the submission is; not Keras' or any installed library's files, whatever its
    module is called) or in no file at all, and not in one of the course's modules there."""
    path = source_file(obj)
    if not path or not os.path.isabs(path):
        return True  # "<string>", "<magic>": code made at run time
    folder = (_JOB_FOLDER[0] or os.getcwd()).rstrip(os.sep) + os.sep
    if not os.path.abspath(path).startswith(folder):
        return False
    return os.path.splitext(os.path.basename(path))[0] not in course


def own_functions(model: keras.Model, course: tuple[str, ...], *, besides_lambdas: bool = False) -> list[str]:
    """A sentence for each plain function of the submission's own that a layer holds (an
    activation...): saved by its name only, it loads as Keras' function of that name, or not.
    `besides_lambdas`: leave out Lambda layers' functions (safe mode refuses those, saying why)."""
    users: dict[tuple[str, str], list[str]] = {}
    for layer, attribute, value in held_functions([model, *all_layers(model)]):
        if besides_lambdas and isinstance(layer, keras.layers.Lambda):
            continue
        if _own_code(value, course):
            users.setdefault((value.__name__, attribute), []).append(layer_ref(layer.name, type(layer).__name__))
    found = []
    for (name, attribute), layers in users.items():
        loads_as = (f"Keras' own {name}" if getattr(keras.activations, name, None) is not None
                    or getattr(keras.losses, name, None) is not None else "nothing it can load")
        found.append(f"{', '.join(layers[:3])}{' and others' if len(layers) > 3 else ''} "
                     f"use{'s' if len(layers) == 1 else ''} your own function {name}() as "
                     f"{'its' if len(layers) == 1 else 'their'} {attribute}: a model file keeps a function's name "
                     f"only, so the grader, which runs only Keras' code, would run {loads_as} in its place")
    return found


def forward_difference(model: keras.Model, restored: keras.Model, course: tuple[str, ...] = ()) -> str | None:
    """Why `restored` (the exported file, loaded) computes other inference outputs than `model`
    on a synthetic batch; None when they agree, or when it cannot be told (the model draws
    random values in inference mode, or does not run on the batch: the check job says so)."""
    try:
        x = synthetic_inputs(model, 4, 0)
        before = rewound_forward(model)(x)
    except (UserCodeError, ValueError, TypeError):
        return None
    aligned = same_draws(model, restored)
    try:
        after = rewound_forward(restored, rewinder(restored))(x)
    except UserCodeError as exc:
        return f"the saved model does not run on a batch your model runs on ({exc.message})"
    if len(before) == len(after) and all(b.shape == a.shape and np.allclose(b, a, atol=_ATOL, rtol=_RTOL,
                                                                             equal_nan=True)
                                         for b, a in zip(before, after)):
        return None
    if random_in_inference(model, x, rewound=True) is not None or (
            not aligned and random_in_inference(model, x) is not None):
        return None
    why = own_functions(model, course)
    if why:
        return "the saved model computes other outputs than yours: " + "; ".join(why)
    if not has_symbolic_inputs(model):
        return ("the graph traced from your model's call() on symbolic inputs (what the grader saves) computes other "
                "outputs than your model does: call() must compute the same whatever its inputs are")
    return "the saved model computes other outputs than yours: a layer's get_config() leaves out what it does"


def _graph_steps(twin: keras.Model) -> list[Any]:
    """The operations of a traced graph in order: a layer by identity (the same objects in every
    trace), any other operation by kind; layers that act in training mode only left out."""
    return [id(op) if isinstance(op, keras.layers.Layer) and not isinstance(op, keras.layers.InputLayer)
            else type(op).__name__ for op in twin.operations if not training_only_layer(type(op).__name__)]


def _inert_in_inference(layer: keras.layers.Layer) -> bool:
    """Whether `layer` passes its input through unchanged in inference mode (augmentation such as
    RandomFlip or RandAugment, alone or in a Sequential of them): called only when training, it
    leaves the saved inference graph training as the model does."""
    try:
        shape = tuple(8 if size is None else int(size) for size in layer.input.shape[1:])
        probe = np.random.default_rng(0).uniform(0, 1, (2, *shape)).astype("float32")
        out = np.asarray(keras.ops.convert_to_numpy(layer(probe, training=False)))
    except Exception:  # several inputs, a call that needs more: not inert as far as can be told
        return False
    return out.shape == probe.shape and bool(np.allclose(out, probe))


def _training_path_differs(model: keras.Model, inference: keras.Model | None = None) -> bool:
    """Whether a subclassed model's `call` makes another graph with ``training=True`` than the
    inference graph the build job exports (`inference`, when it traced it already), beyond
    layers that are inert in inference."""
    if has_symbolic_inputs(model) or not takes_training(model):
        return False
    try:
        if inference is None:
            inference = call_user_code("tracing call()", functional_twin, model)
        training = call_user_code("tracing call(training=True)", functional_twin, model, True)
    except UserCodeError:
        return False  # the export says what it could not trace
    if inference is None or training is None:
        return False
    plain, trained = _graph_steps(inference), _graph_steps(training)
    if plain == trained:
        return False
    extra = [op for op in training.operations if isinstance(op, keras.layers.Layer) and id(op) not in plain
             and not isinstance(op, keras.layers.InputLayer)]
    inert = {id(op) for op in extra if _inert_in_inference(op)}
    return [step for step in plain if step not in inert] != [step for step in trained if step not in inert]


def _objects(value: Any) -> list[Any]:
    """The losses (or any compile setting) in `value`: one, a list, or a dict of them."""
    if isinstance(value, dict):
        return [v for v in value.values() if v is not None]
    if isinstance(value, (list, tuple)):
        return [v for v in value if v is not None]
    return [] if value is None else [value]


def _own_losses(model: keras.Model, course: tuple[str, ...]) -> list[str]:
    """A reason for each compiled loss that runs code of the submission's own: a function, a
    class, or either wrapped in functools.partial (whose own class is the standard library's)."""
    found = []
    for loss in _objects(compiled_loss(model)):
        if isinstance(loss, str):
            continue
        while isinstance(loss, functools.partial):
            loss = loss.func
        own = loss if isinstance(loss, (types.FunctionType, types.MethodType)) else type(loss)
        if _own_code(getattr(own, "__func__", own), course):
            kind = "class" if isinstance(own, type) else "function"
            found.append(f"a loss {kind} of your own, {own.__name__}")
    return found


def _dropped_settings(model: keras.Model, restored: keras.Model) -> list[str]:
    """The settings of Keras losses that their saved form leaves out (Keras' get_config drops a
    cross-entropy's ``axis``), compared loss by loss with the file's."""
    found = []
    for mine, saved in zip(_objects(compiled_loss(model)), _objects(compiled_loss(restored))):
        kept = getattr(saved, "_fn_kwargs", None)
        if isinstance(mine, str) or not isinstance(kept, dict):
            continue
        name = getattr(mine, "name", None)
        name = name if isinstance(name, str) and name.isidentifier() else type(mine).__name__
        for key, value in (getattr(mine, "_fn_kwargs", None) or {}).items():
            if key in kept and kept[key] != value and isinstance(key, str) and key.isidentifier():
                found.append(f"the loss {name} with {key}={literal(value)}, which its saved form loses "
                             f"({key}={literal(kept[key])} there)")
    return found


class Lost(NamedTuple):
    """Something of how the model trains that its file does not keep: why (`reason`), which checks
    it affects (`affects`: ``"loss"``, ``"step"`` or ``"optimizer"``) and how a student keeps it
    (`fix`: ``"code"``, by giving Keras' own objects by name, or ``"training"``, by keeping
    training code out of the model)."""

    reason: str
    affects: str
    fix: str = "code"


def not_reproduced(model: keras.Model, restored: keras.Model | None, course: tuple[str, ...] = (),
                   compile_problem: str | None = None, optimizer_problem: str | None = None,
                   inference_graph: keras.Model | None = None) -> list[Lost]:
    """What the exported file, loaded with its compile settings as `restored` (None when that
    failed, with `compile_problem`; loaded with Keras' default optimizer, with `optimizer_problem`),
    does not keep of how `model` trains: ``"loss"`` (its own compute_loss or loss, a loss setting
    the file drops, compile settings that do not load: every check of the objective), ``"step"``
    (its own train_step, a ``training=True`` path of its ``call``: the checks that train or take
    gradients) or ``"optimizer"`` (an optimizer or schedule of its own: the checks that train).
    `inference_graph` is a subclassed model's traced call() when the export made it. Empty when the
    file trains as the model does."""
    found: list[Lost] = []
    for name, scope in _TRAINING_METHODS:
        method = getattr(type(model), name, None)
        if name in vars(model) or (method is not None and method is not getattr(keras.Model, name, None)
                                   and _own_code(method, course)):
            found.append(Lost(f"its own {name}()", scope, "training"))
    if _training_path_differs(model, inference_graph):
        found.append(Lost(CALL_PATH, "step", "training"))
    if getattr(model, "compiled", False):
        found += [Lost(reason, "loss") for reason in _own_losses(model, course)]
        optimizer = compiled_optimizer(model)
        if optimizer is not None and _own_code(type(optimizer), course):
            found.append(Lost(f"an optimizer class of your own, {type(optimizer).__name__}", "optimizer"))
        schedule = getattr(optimizer, "_learning_rate", None)
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule) and _own_code(type(schedule), course):
            found.append(Lost(f"a learning-rate schedule of your own, {type(schedule).__name__}", "optimizer"))
        # (the error's text is the student's process's: `reported` quotes it as such, as the grader's
        # test of the build report, `lost_reasons.accepted`, wants it)
        if restored is None and compile_problem and not found:
            found.append(Lost(f"compile settings the grader cannot load ({reported(compile_problem)})", "loss"))
        elif optimizer_problem and not any(lost.affects == "optimizer" for lost in found):
            found.append(Lost(f"an optimizer the grader cannot load ({reported(optimizer_problem)})", "optimizer"))
        elif restored is not None:
            found += [Lost(reason, "loss") for reason in _dropped_settings(model, restored)]
    return found
