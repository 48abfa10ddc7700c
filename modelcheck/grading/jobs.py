"""What runs inside the job processes (never in the grader).

Two kinds of job, each in its own confined process forked from the zygote:

- ``build`` (untrusted): imports the student's script, calls the builder, exports the model to
  a ``.keras`` file. It receives only what building needs (`Assignment.build_params`): no
  expectation, point, reference or sample. A subclassed model that Keras cannot reload in safe
  mode is exported as the functional graph of its layers (its ``call`` traced on symbolic
  inputs). Only with ``trust_submission_measurements``, a model that still cannot be reloaded
  safely (a Lambda layer, a custom layer) is measured right there: those verdicts come from the
  student's own process and are marked *unverified*; it saves the weights for a static count that
  must agree with them.
- ``check`` (clean): never imports the student's module. Reads the assignment and the
  instructor's files from its own folder, loads the ``.keras`` file with ``safe_mode=True``
  (importing only the assignment's ``custom_objects``) and runs the checks; a model it cannot
  load is an error that says how to fix it. With trusted measurements it only counts the
  parameters in the saved weights file.

Each job writes one JSON document to file descriptor 3. This module imports Keras (the zygote
preloads it; nothing the plugin imports at start-up imports it).
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import sys
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import keras
import numpy  # noqa: F401  (preloaded for the jobs)
from keras.src.saving import object_registration as _registry
from keras.src.saving.serialization_lib import SafeModeScope

from ..core.errors import UserCodeError, call_user_code, definition_line, raised_by_user, user_frame
from ..core.spec import normalise_shapes
from ..core.messages import OWN_CODE_FIX, STUDENT
from ..model.build import build_model
from ..model import loops
from ..model.graph import functional_twin, graph_copy, has_symbolic_inputs
from ..model.origin import is_library_code
from ..report import layer_rows
from ..session.runner import ModelSession
from .assignment import ASSIGNMENT_FILE, Assignment, parse_assignment
from .instructor import LOAD_FIX, custom_objects, prepared_spec
from .fidelity import Lost, forward_difference, not_reproduced, own_functions, set_job_folder
from .notebook_stand_ins import install_missing
from .notebooks import cell_table
from .submission_import import find_builder, import_submission

__all__ = ["job_process_main", "count_saved_params"]

# The part of a job's time limit its checks leave for what comes after them (the report, the
# grader noticing the end), so a slow model gets verdicts for what ran instead of a killed job.
_AFTER_CHECKS_SHARE = 0.1
_AFTER_CHECKS_S = 2.0


# The job's report goes out through a copy of file descriptor 3 taken before the submission's
# code runs, encoded by the json function this module bound at import: a builder that closes fd 3,
# opens another file on it or replaces json.dump still has its model graded (its own writes to
# fd 3 reach the same pipe, and are read as the untrusted data they are).
_REPORT = {"fd": 3}
_dumps = json.dumps


def _keep_report_channel() -> None:
    """Take the private copy of the report's file descriptor (see `_REPORT`)."""
    try:
        _REPORT["fd"] = fcntl.fcntl(3, fcntl.F_DUPFD_CLOEXEC, 100)
    except OSError:
        pass  # no fd 3 (a test calling a job directly): `_emit` fails as it always did


def _emit(data: dict[str, Any]) -> None:
    view = memoryview(_dumps(data).encode("utf-8"))
    fd = _REPORT["fd"]
    try:
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _set_threads(threads: int) -> None:
    if threads <= 0:
        return
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    elif keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(threads)
    # JAX: XLA's CPU client has no thread setting; the zygote's OMP_NUM_THREADS=1 covers its BLAS


# What Keras' registry holds before any student code runs (this module is loaded by the grader's
# warm process, which forks the jobs): what the clean check job knows
_GRADER_REGISTRY = dict(_registry.GLOBAL_CUSTOM_OBJECTS)

def _error_dict(exc: UserCodeError) -> dict[str, Any]:
    return {"message": exc.message, "hint": exc.hint, "location": list(exc.location) if exc.location else None}


def _in_cells(error: UserCodeError, path: str) -> UserCodeError:
    """`error` placed by the notebook's cell and its line there, when `path` is a converted notebook
    and the error is in one of its cells: the line numbers of the script it was converted to mean
    nothing to the student, who sees only the notebook."""
    if error.location is None or os.path.abspath(error.location[0]) != os.path.abspath(path):
        return error
    with open(path, encoding="utf-8", errors="replace") as handle:
        table = cell_table(handle.readline())
    _, lineno, line = error.location
    for number, first, last in table or ():
        if first < lineno <= last:
            return UserCodeError(f"{error.message}\n  at cell {number}, line {lineno - first} of the cell: {line}",
                                 hint=error.hint, original=error.original)
    return error


def _interrupted(exc: KeyboardInterrupt, doing: str) -> UserCodeError:
    """The student's code raised KeyboardInterrupt while `doing`: no one presses Ctrl-C in a job,
    so it is their raise (a notebook's cells catch it themselves, as Jupyter does)."""
    return UserCodeError(f"{doing} raised KeyboardInterrupt", location=user_frame(exc.__traceback__),
                         hint="a builder must return the model; remove the raise (or the code that "
                              "waits for Ctrl-C)", original=exc)


def _named(exc: BaseException) -> str:
    """`exc`'s class name, or a stand-in when even that raises (a metaclass of the student's)."""
    try:
        return str(type(exc).__name__)
    except Exception:
        return "an exception"


def _undescribed(exc: Exception) -> UserCodeError:
    """The student's error, when describing it raised `exc` (an exception whose ``__str__`` or
    ``__repr__`` raises, a ``sys.exit()`` with such an object): told with where that happened."""
    try:
        said = f"{_named(exc)}: {str(exc)[:300]}"
    except Exception:
        said = _named(exc)
    return UserCodeError(f"your code raised an error that cannot be described, since describing it raised {said}",
                         hint="raise ordinary exceptions whose message is text (and call sys.exit() with a number "
                              "or text, or not at all)", location=user_frame(exc.__traceback__))


def _own_count(model: Any) -> int | None:
    """`model.count_params()`, when the model's own count gives a whole number a report can hold;
    None otherwise (a class of the student's that overrides it to raise or to lie)."""
    try:
        total = int(model.count_params())
    except Exception:
        return None
    return total if 0 <= total < 2**63 else None


def count_saved_params(weights_path: str) -> int:
    """Count the parameters in a weights file (``model.save_weights``) without running any of
    the model's code. Optimizer state is left out; non-trainable variables (BatchNorm
    statistics) are counted, as `model.count_params()` does."""
    total = 0

    def visit(name: str, obj: Any) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset) and not name.startswith(("optimizer", "metrics")):
            total += int(obj.size)

    with h5py.File(weights_path, "r") as handle:
        handle.visititems(visit)
    return total


def checks_budget(timeout_s: float, started: float) -> float:
    """The seconds a job that began at `started` (``time.monotonic()``) may give its checks so
    that it reports before its time limit `timeout_s` ends it: a check that would overrun them
    is skipped with its estimate and the checks before it keep their verdicts."""
    usable = timeout_s * (1 - _AFTER_CHECKS_SHARE) - _AFTER_CHECKS_S
    return max(usable - (time.monotonic() - started), 1e-6)


def _run_checks(model: Any, assignment: Assignment, report: dict[str, Any], key: str,
                folder: str | None = None, started: float | None = None) -> None:
    """Run the assignment's checks on `model` (with the instructor's files in `folder`); put
    the results under `key` and the layer table. With `started` (when the job began), the checks
    share what is left of the assignment's time limit (see `checks_budget`)."""
    spec, overrides = prepared_spec(model, assignment, Path(folder) if folder else None)
    spec = spec.replace(audience=STUDENT)  # the checks' hints say what the student can change
    try:
        report["layers"] = layer_rows(model, spec)
    except Exception as exc:  # a table the page can do without; never a reason to lose verdicts
        report["layers_problem"] = f"{type(exc).__name__}: {exc}"
    budget = None if started is None else checks_budget(assignment.limits.timeout_s, started)
    with ModelSession(spec, seed=assignment.seed, overrides=overrides, model_timeout=budget) as session:
        report[key] = [session.run(check).to_dict() for check in assignment.checks]


class _Restored(NamedTuple):
    """The exported file loaded as the check job loads it: with its compile settings when they
    load (`compiled`), else without them (why in `compile_problem`); `optimizer_problem` when
    only the optimizer did not load (it was compiled with Keras' default one in its place)."""

    model: Any
    compiled: bool
    compile_problem: str | None
    optimizer_problem: str | None = None


_MAX_CONFIG_BYTES = 64 * 2**20


def _compile_config(path: str) -> dict[str, Any] | None:
    """The compile settings saved in the ``.keras`` file at `path` (None when it has none, or
    its config is not what Keras writes; the file is the submission's, read within a bound)."""
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.getinfo("config.json").file_size > _MAX_CONFIG_BYTES:
                return None
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, RecursionError, zipfile.BadZipFile):
        return None
    compiled = config.get("compile_config") if isinstance(config, dict) else None
    return compiled if isinstance(compiled, dict) else None


def load_for_checking(path: str, known: dict[str, Any]) -> _Restored:
    """The model at `path`, loaded in Keras' safe mode with its compile settings. When they do not
    load, it is compiled without its metrics (a metric of the student's own: the checks read
    none), then also without its optimizer (Keras' default, RMSprop, in its place, said in
    `optimizer_problem`); when the loss does not load either, it comes uncompiled (why in
    `compile_problem`). Raises what safe mode raises for a model it refuses. Keras' warnings
    while loading (an optimizer's variables it skips) are silenced: in the build job they would
    reach the student's output as if their code had printed them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _load_for_checking(path, known)


def _load_for_checking(path: str, known: dict[str, Any]) -> _Restored:
    try:
        return _Restored(keras.models.load_model(path, safe_mode=True, compile=True, custom_objects=known), True, None)
    except Exception as exc:  # whatever safe mode refuses, or compile settings it cannot rebuild
        problem = _short_error(exc)
    model = keras.models.load_model(path, safe_mode=True, compile=False, custom_objects=known)
    config = _compile_config(path)
    if config is None:
        return _Restored(model, False, problem)
    for without, optimizer_problem in ((("metrics", "weighted_metrics"), None),
                                       (("metrics", "weighted_metrics", "optimizer"), problem)):
        untouched = getattr(model, "optimizer", None)
        try:
            with keras.saving.custom_object_scope(known), SafeModeScope(True):
                model.compile_from_config({key: value for key, value in config.items() if key not in without})
            return _Restored(model, True, None, optimizer_problem)
        except Exception:  # the optimizer, or the loss, does not load either
            if getattr(model, "optimizer", None) is not untouched or getattr(model, "compiled", False):
                # compile() stopped half way: a fresh copy (most failures stop before, in deserialising)
                model = keras.models.load_model(path, safe_mode=True, compile=False, custom_objects=known)
    return _Restored(model, False, problem)


def _short_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _reloaded(path: str, known: dict[str, Any]) -> _Restored | None:
    """The model at `path` loaded as the check job loads it (`load_for_checking`): without the
    classes the student's code registered with Keras (``register_keras_serializable``), which the
    check job does not run; None when safe mode refuses it."""
    saved = [(registry, dict(registry)) for registry in (_registry.GLOBAL_CUSTOM_OBJECTS, _registry.GLOBAL_CUSTOM_NAMES)]
    try:
        for registry, _ in saved:
            registry.clear()
        _registry.GLOBAL_CUSTOM_OBJECTS.update(_GRADER_REGISTRY)
        return load_for_checking(path, known)
    except Exception:  # whatever safe mode refuses
        return None
    finally:
        for registry, entries in saved:
            registry.clear()
            registry.update(entries)


def _keras_activation_names(export: str) -> None:
    """In the saved file `export`, name Keras' activation where Keras saved a plain function by a
    name it cannot load back: TensorFlow's ``tf.nn.softmax`` is saved as ``softmax_v2`` (and
    ``tf.nn.log_softmax`` likewise), ``tf.nn.swish`` and ``tf.nn.silu`` as ``swish``, which Keras
    knows as ``silu`` only when it saves it: no Keras loads those names, safe mode or not. The
    fidelity check that follows compares the reloaded file with the student's model, so a
    function that computes something else is still refused."""
    try:
        with zipfile.ZipFile(export) as archive:
            config = json.loads(archive.read("config.json"))
            if not _rename_activations(config):
                return
            entries = {info.filename: archive.read(info) for info in archive.infolist()}
    except (OSError, KeyError, ValueError, RecursionError, zipfile.BadZipFile):
        return  # not the file Keras writes (the student's code replaced it): the clean check job says so
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(export, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _rename_activations(value: Any) -> bool:
    """Replace, within `value`, each plain function saved by a name Keras does not load back but
    knows as one of its activations (see `_keras_activation_name`) by that activation's name;
    whether any was."""
    found = False
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        name = item.get("config") if isinstance(item, dict) and item.get("class_name") == "function" else None
        renamed = _keras_activation_name(name) if isinstance(name, str) else None
        if renamed is not None:
            value[key] = renamed
            found = True
        else:
            found = _rename_activations(item) or found
    return found


def _keras_activation_name(name: str) -> str | None:
    """The name Keras saves its activation under when `name` (or `name` without TensorFlow's
    ``_v2``) is one of Keras' activations saved otherwise (``softmax_v2``: ``softmax``;
    ``swish``: ``silu``); None when `name` is no Keras activation, or is already that name."""
    for candidate in (name, name[:-3]) if name.endswith("_v2") else (name,):
        try:
            saved = keras.activations.serialize(keras.activations.get(candidate))
        except (ValueError, TypeError):
            continue
        return saved if isinstance(saved, str) and saved != name else None
    return None


def _export(model: Any, export: str, report: dict[str, Any],
            known: dict[str, Any]) -> tuple[_Restored | None, Any]:
    """Save `model` where the grader collects it; the file as Keras' safe mode reloads it (for
    a subclassed model, through its functional twin), or None when it cannot; and the twin, when
    one was traced."""
    model.save(export)
    _keras_activation_names(export)
    restored = _reloaded(export, known)
    if restored is not None or has_symbolic_inputs(model) and is_library_code(type(model)):
        return restored, None
    try:  # a class of the student's own: its layers' graph, or its call() traced on symbolic inputs
        twin = (graph_copy(model) if has_symbolic_inputs(model) else
                call_user_code("tracing the subclassed model's call() on symbolic inputs", functional_twin, model))
    except UserCodeError as exc:
        report["twin_problem"] = exc.message
        return None, None
    if twin is None:
        return None, None
    twin.save(export)
    _keras_activation_names(export)
    return _reloaded(export, known), twin


def _export_hint(exc: BaseException) -> str:
    """How to fix a model the export could not save: a class given where Keras needs an object of
    it (``loss=keras.losses.SparseCategoricalCrossentropy`` without its parentheses, which Keras
    saves by calling ``get_config`` on the class), else what safe mode loads."""
    if isinstance(exc, TypeError) and "get_config() missing 1 required positional argument: 'self'" in str(exc):
        return ("a class is given where Keras needs an object of it, e.g. loss=keras.losses."
                "SparseCategoricalCrossentropy without its parentheses: write it with (), "
                "loss=keras.losses.SparseCategoricalCrossentropy()")
    return LOAD_FIX.format(course="")


def _course_objects(entries: list[str]) -> dict[str, Any]:
    """The course's `custom_objects` (``"module:Class"``), imported from its modules beside the
    submission (the grader's copies), by name; one that does not import is left out."""
    found: dict[str, Any] = {}
    for entry in entries:
        module_name, _, attr = entry.partition(":")
        try:
            value = getattr(importlib.import_module(module_name), attr)
        except Exception:  # the check job reports a course module that does not load
            continue
        found[attr] = found[keras.saving.get_registered_name(value)] = value
    return found


def _fidelity(model: Any, restored: _Restored | None, course: tuple[str, ...],
              twin: Any = None) -> tuple[str | None, list[Lost]]:
    """Whether the exported file (`restored`; exported through `twin`, a subclassed model's traced
    call(), when there is one) computes other outputs than `model`, and what it does not keep of
    how the model trains (`fidelity`). Never raises: an error here is modelcheck's, never the
    student's, and leaves the file judged as it is."""
    if restored is None:  # not loadable: a function of the student's own that a layer holds is why, if any
        try:
            return "; ".join(own_functions(model, course, besides_lambdas=True)) or None, []
        except Exception:  # (as below)
            return None, []
    try:
        difference = forward_difference(model, restored.model, course)
        if difference:
            return difference, []
        return None, not_reproduced(model, restored.model if restored.compiled else None, course,
                                    restored.compile_problem, restored.optimizer_problem, twin)
    except Exception:  # a bug of modelcheck's reading: the clean job still judges the file
        return None, []


def build_job(params: dict[str, Any], started: float | None = None) -> dict[str, Any]:
    """Import the submission, build its model, export it; measure it here when it cannot be
    loaded safely elsewhere (within the job's time limit, counted from `started`)."""
    report: dict[str, Any] = {}
    install_missing()  # IPython's display names and Colab's modules, for a notebook's imports
    try:
        try:
            module, cells = import_submission(params["script"], params.get("timeout_s"), started, params["builder"])
        except KeyboardInterrupt as exc:
            raise _interrupted(exc, f"importing {os.path.basename(params['script'])}") from None
        if cells is not None:
            report["cell_notes"] = cells.notes
            if not callable(getattr(module, params["builder"], None)):
                error = cells.builder_error(params["builder"])
                if error is not None:
                    raise error
        builder = find_builder(module, params["builder"], params["script"])
        keras.utils.set_random_seed(params.get("seed", 0))
        try:
            with loops.using(loops.TrainingContext(audience=STUDENT)):  # its hints: what the student can change
                model = build_model(builder, kwargs=params.get("builder_kwargs") or {}, name=f"{params['builder']}()",
                                    input_shape=normalise_shapes(params.get("input_shape"), "input_shape", "assignment"))
        except UserCodeError as exc:
            exc = UserCodeError(exc.message, hint=exc.hint, location=exc.location or definition_line(builder),
                                original=exc.original)
            raise exc from None
        except KeyboardInterrupt as exc:
            raise _interrupted(exc, f"{params['builder']}()") from None
    except UserCodeError as exc:
        report["error"] = _error_dict(_in_cells(exc, params["script"]))
        return report
    except Exception as exc:  # raised while describing the student's error: their __str__, __repr__...
        if not raised_by_user(exc):
            raise
        report["error"] = _error_dict(_in_cells(_undescribed(exc), params["script"]))
        return report
    total = _own_count(model)
    if total is not None:  # (read only where measurements are trusted; the clean job counts for itself)
        report["total_params"] = total
    export = params["export"]
    trusted = "assignment" in params  # only then did the grader send what measuring needs
    entries = params.get("custom_objects") or []
    course = tuple(entry.partition(":")[0] for entry in entries)
    try:
        restored, twin = _export(model, export, report, _course_objects(entries))
        difference, lost = _fidelity(model, restored, course, twin)
        if difference and not trusted:
            report["error"] = {"message": f"the model cannot be graded as you built it: {difference}",
                               "hint": OWN_CODE_FIX, "location": None}
            return report
        if (restored is not None and not difference and not (lost and trusted)) or not trusted:
            report["exported"] = True  # the clean check job judges whether it loads
            if lost:
                report["not_reproduced"] = [item._asdict() for item in lost[:10]]
            return report
        report["export_problem"] = difference or (f"it trains with {', '.join(item.reason for item in lost)}" if lost
                                                  else "Keras' safe mode cannot load it")
    # why safe export failed is the student's information, not ours (their get_config or call may raise
    # anything, KeyboardInterrupt and SystemExit too)
    except (Exception, KeyboardInterrupt, SystemExit) as exc:
        report["export_problem"] = f"{type(exc).__name__}: {str(exc)[:500]}"
        if not trusted:
            report["error"] = {"message": f"the model could not be saved in the .keras format: "
                                          f"{report['export_problem']}", "hint": _export_hint(exc),
                               "location": None}
            return report
    report["exported"] = False
    try:
        model.save_weights(params["weights"])
    except Exception as exc:
        report["weights_problem"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    _run_checks(model, parse_assignment(params["assignment"], where=params.get("where", "assignment")),
                report, "measured", started=started)
    return report


def check_job(params: dict[str, Any], started: float | None = None) -> dict[str, Any]:
    """Load the exported model safely and run the checks (or re-count saved weights), within the
    job's time limit counted from `started`."""
    report: dict[str, Any] = {"nonce": params["nonce"]}
    if params.get("weights"):
        report["static"] = {"total_params": count_saved_params(params["weights"])}
        return report
    folder = params["instructor"]
    text = Path(folder, ASSIGNMENT_FILE).read_text(encoding="utf-8")
    assignment = parse_assignment(text, where=params.get("where", "assignment"), base_dir=Path(folder))
    known = custom_objects(assignment, Path(folder))
    # a layer's seed generator takes its seed when it is made (a Dropout's, from Python's random,
    # which CPython reseeds in every forked job): seeded first, each grading trains alike
    keras.utils.set_random_seed(assignment.seed)
    try:
        model = load_for_checking(params["model"], known).model
    except Exception as exc:
        report["load_error"] = _load_problem(exc, params["model"], known)
        return report
    _run_checks(model, assignment, report, "results", folder, started=started)
    return report


# What Keras says when safe mode refuses a layer, or cannot find its class among those it knows.
_UNSAFE = ("safe_mode", "lambda", "could not locate", "unknown layer", "unknown object", "register_keras_serializable",
           "custom_objects", "deserializ", "from_config", "get_config")


def _load_problem(exc: BaseException, path: str, known: dict[str, Any]) -> str:
    """Why the exported model could not be loaded, for the student: with the fix for what safe mode
    refuses (a Lambda layer, a custom class); otherwise a file Keras cannot read (damaged, too
    large for the limits, or not what Keras wrote), without the grader's folder names."""
    text = f"{type(exc).__name__}: {str(exc)[:300]}".replace(str(Path(path).parent) + os.sep, "")
    if any(word in text.lower() for word in _UNSAFE):
        course = f" and the course's own ({', '.join(known)})" if known else ""
        return f"{text}\nTo fix: {LOAD_FIX.format(course=course)}"
    return (f"{text}\nThe exported file is not a model Keras can read within the limits: it was damaged, replaced "
            "or grown by the submission's own code, or the model is too large for the memory and disk limits. "
            "Return the model from the builder and let the grader save it")


def job_process_main(kind: str, params: dict[str, Any], confinement: list[str]) -> None:
    """Run one job and write its JSON report to fd 3 (called by the zygote in the job process)."""
    started = time.monotonic()
    _keep_report_channel()
    _set_threads(int(params.get("threads", 0)))
    set_job_folder(os.getcwd())
    sys.path.insert(0, os.getcwd())
    sys.dont_write_bytecode = True
    report = build_job(params, started) if kind == "build" else check_job(params, started)
    report["confinement"] = confinement
    _emit(report)
