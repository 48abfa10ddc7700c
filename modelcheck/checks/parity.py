"""Backend parity: the model saved in the ``.keras`` format gives the same outputs on every
installed Keras backend (TensorFlow, JAX, PyTorch), each loaded in a process of its own.

Keras 3 promises that a model written with ``keras.ops`` runs on every backend; a custom layer
that calls ``tf.*`` (or ``jax.numpy``, ``torch``) directly breaks that promise. The check names
the layer where the backends first disagree, or the one that fails to load or run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np

from ..core.errors import SpecError, UserCodeError, call_user_code
from ..core.messages import for_audience, layer_ref, mismatch
from ..core.result import CheckResult
from ..model import backend, loops
from ..model.randomness import random_in_inference
from ..model.backend import child
from ..model.inputs import batch_size_for, input_infos, synthetic_inputs
from ..model.probe import x_list
from .common import check, fmt

__all__ = ["check_backend_parity"]

NAME = "backend_parity"
PORTABLE = ("a layer that calls tf.* (or jax.numpy, torch) directly runs on one backend only: write it with "
            "keras.ops, which every Keras 3 backend runs")
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding modelcheck/
_NOT_USER = ("keras", "keras_", "tf_keras", "tensorflow", "builtins", "numpy", "jax", "torch")


@dataclass
class _Run:
    """What one backend gave: the child's result and its outputs per layer (or why it gave none)."""

    backend: str
    result: dict[str, Any]
    outputs: list[list[np.ndarray]] | None = None


def _user_module(obj: Any) -> str | None:
    module = getattr(obj, "__module__", None) or ""
    return None if not module or module.split(".")[0].startswith(_NOT_USER) else module


def _user_objects(model: keras.Model) -> list[Any]:
    """The model's classes and functions (layers, losses, metrics, schedules) that the user's code defines."""
    candidates: list[Any] = []
    for layer in model._flatten_layers(include_self=True):
        candidates += [type(layer)] + [v for v in vars(layer).values() if isinstance(v, types.FunctionType)]
    # the compile settings are saved with the model too: a loss, metric or schedule of the user's own
    compiled = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    for key in ("loss", "metrics", "weighted_metrics"):
        value = compiled.get(key)
        candidates += keras.tree.flatten(value) if isinstance(value, (dict, list, tuple)) else [value]
    candidates.append(getattr(getattr(model, "optimizer", None), "_learning_rate", None))
    candidates = [obj if isinstance(obj, (type, types.FunctionType)) else type(obj)
                  for obj in candidates if obj is not None and not isinstance(obj, (str, int, float))]
    return [obj for obj in candidates if _user_module(obj)]


def _modules(model: keras.Model) -> list[str]:
    """The modules that define the model's custom classes and functions, which a fresh process
    must import so that their ``register_keras_serializable`` runs before loading."""
    found: list[str] = []
    for obj in _user_objects(model):
        module = _user_module(obj)
        if module not in found:
            found.append(module)
    return found


def _defined_in_main(model: keras.Model) -> list[str]:
    """The custom classes (and registered functions) of the model that the script or notebook running
    defines: another process cannot import ``__main__``'s, so its load fails as if the layer were not
    portable. A Lambda's function is saved with its code and needs no import."""
    return sorted({obj.__qualname__ for obj in _user_objects(model) if _user_module(obj) == "__main__" and (
        isinstance(obj, type) or keras.saving.get_registered_name(obj) != obj.__name__)})


def _importable(custom_objects: dict[str, Any] | None) -> dict[str, str]:
    """``{name: "module:qualname"}`` for the custom objects, which a child process imports."""
    targets = {}
    for name, obj in (custom_objects or {}).items():
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if not module or not qualname or "<locals>" in qualname or module == "__main__":
            raise SpecError(f"check_backend_parity: custom_objects[{name!r}]={obj!r} cannot be imported by another "
                            "process (defined in __main__ or inside a function); define it at the top level of a module")
        targets[name] = f"{module}:{qualname}"
    return targets


def _job(folder: Path, model_path: Path, inputs: Path, safe_mode: bool, modules: list[str],
         custom_objects: dict[str, str]) -> Path:
    folder.mkdir()
    (folder / "job.json").write_text(json.dumps({
        "model": str(model_path), "inputs": str(inputs), "safe_mode": safe_mode, "modules": modules,
        "custom_objects": custom_objects, "sys_path": [p for p in sys.path if p],
    }))
    return folder


def _read(folder: Path, result: dict[str, Any], name: str) -> _Run:
    run = _Run(name, result)
    if result.get("ok"):
        with np.load(folder / "outputs.npz") as data:
            run.outputs = [[data[f"l{i}_{j}"] for j in range(count)] for i, count in enumerate(result["counts"])]
    return run


def _start(name: str, folder: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, KERAS_BACKEND=name, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    return subprocess.Popen([sys.executable, "-m", "modelcheck.model.backend.child", str(folder)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(name: str, folder: Path, process: subprocess.Popen[bytes], timeout: float) -> _Run:
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return _Run(name, {"ok": False, "unjudged": f"the {name} process took more than {timeout:g} s"})
    result_file = folder / "result.json"
    if not result_file.exists():
        tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
        return _Run(name, {"ok": False, "unjudged": f"the {name} process ended with code {process.returncode} "
                           f"before reporting ({' '.join(tail)[-300:]})"})
    return _read(folder, json.loads(result_file.read_text()), name)


def _difference(reference: np.ndarray, other: np.ndarray, atol: float, rtol: float) -> tuple[bool, float]:
    """(same within tolerance, largest absolute difference)."""
    if reference.shape != other.shape:
        return False, float("inf")
    if not reference.size:
        return True, 0.0
    if np.issubdtype(reference.dtype, np.floating) or np.issubdtype(other.dtype, np.floating):
        a, b = reference.astype("float64"), other.astype("float64")
        gap = np.abs(a - b)
        both_nan = np.isnan(a) & np.isnan(b)
        largest = float(np.max(np.where(both_nan, 0.0, np.nan_to_num(gap, nan=np.inf))))
        return bool(np.all(both_nan | (gap <= atol + rtol * np.abs(a)))), largest
    same = bool(np.array_equal(reference, other))
    return same, 0.0 if same else float(np.max(np.abs(reference.astype("float64") - other.astype("float64"))))


def _first_disagreement(reference: _Run, other: _Run, atol: float,
                        rtol: float) -> tuple[tuple[str, str] | None, float, str]:
    """(layer where `other` first differs or None, largest difference, what differs)."""
    largest = 0.0
    for layer, ref_group, group in zip(reference.result["layers"], reference.outputs or [], other.outputs or []):
        for a, b in zip(ref_group, group):
            same, gap = _difference(a, b, atol, rtol)
            largest = max(largest, gap)
            if not same:
                what = (f"output shape {b.shape} instead of {a.shape}" if a.shape != b.shape
                        else f"a largest difference of {fmt(gap)}")
                return tuple(layer), gap, what  # type: ignore[return-value]
    return None, largest, ""


def _culprit(result: dict[str, Any], model: keras.Model) -> str:
    """Where a backend failed: the layer from the child's traceback, else the layers of the class
    Keras named in its error, else the file."""
    if result.get("layer"):
        return layer_ref(*result["layer"])
    kind = result.get("layer_class")
    named = [layer.name for layer in model._flatten_layers(include_self=False) if type(layer).__name__ == kind]
    if named:
        return ", ".join(layer_ref(name, kind) for name in named)
    return f"the custom class {kind}" if kind else "the .keras file"


def _failed_run(run: _Run, reference: str, model: keras.Model) -> str:
    result = run.result
    at = _culprit(result, model)
    doing = {"loading the .keras file": "loading", "running the model": "running"}.get(result["stage"], "importing")
    return mismatch(f"{doing} the model on {run.backend}", f"the model loads and runs as on {reference}",
                    result["error"], at=at, note=PORTABLE)


def _skip(message: str, details: dict[str, Any]) -> CheckResult:
    return CheckResult.skip(NAME, message, details=details)


@check(NAME)
def check_backend_parity(
    model: keras.Model,
    *,
    backends: Sequence[str] | None = None,
    custom_objects: dict[str, Any] | None = None,
    modules: str | Sequence[str] = (),
    batch_size: int = 4,
    atol: float = 1e-4,
    rtol: float = 1e-3,
    timeout: float = 300.0,
    seed: int = 0,
) -> CheckResult:
    """Save the model as ``.keras``, load it on each Keras backend in its own process (with
    ``KERAS_BACKEND`` set), run it layer by layer on the same synthetic batch (inference mode),
    and compare every layer's output with the backend this process runs on.

    Outputs agree when ``|a - b| <= atol + rtol * |a|`` elementwise. A failure names the first
    layer whose outputs differ, or the backend and the layer where loading or running fails (a
    custom layer calling ``tf.*`` directly). Skipped when fewer than two backends are installed.

    Args:
        backends: the backends to compare (default: every installed one among tensorflow, jax,
            torch); the one this process runs on is always the reference.
        custom_objects: passed to ``load_model``; each must be importable by another process
            (defined at the top level of a module).
        modules: modules each process imports before loading (where custom classes are
            registered); the modules defining the model's custom classes are imported anyway.
        timeout: seconds each backend's process may take.

    Example::

        result = check_backend_parity(model)
        assert result.passed, result.message
    """
    reference = backend.name()
    known = backend.BACKENDS
    asked = list(backends) if backends is not None else backend.installed()
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise SpecError(f"check_backend_parity: backends must be among {', '.join(known)}; received {unknown}")
    missing = [name for name in asked if name not in backend.installed()]
    others = [name for name in asked if name != reference and name not in missing]
    batch_size = batch_size_for(model, batch_size)
    details: dict[str, Any] = {"reference": reference, "backends": [reference, *others], "atol": atol, "rtol": rtol,
                               "batch_size": batch_size, "not_installed": missing}
    if not others:
        return _skip(f"only one Keras backend to compare ({reference}): " + for_audience(
            loops.current().audience, configurer="install another (pip install 'modelcheck[jax]' or "
            "'modelcheck[torch]') to check that the model runs the same on it",
            student="the grader has no other installed (your instructor's setting), so whether the model runs the "
            "same on another is not judged"), details)
    if any(info.kind in ("string", "text") for info in input_infos(model)):
        return _skip("the model takes strings, which only TensorFlow runs inside a model (Keras' text layers "
                     "run in tf.data on the other backends)", details)
    in_main = _defined_in_main(model)
    if in_main:
        return _skip(f"{', '.join(in_main)} {'is' if len(in_main) == 1 else 'are'} defined in __main__ (the script "
                     "or notebook running), which the other backends' processes cannot import to load the model; "
                     "define it at the top level of a module and import it from there to have the model compared",
                     details)
    modules = [modules] if isinstance(modules, str) else list(modules)
    modules += [m for m in _modules(model) if m not in modules]
    targets = _importable(custom_objects)
    safe_mode = not any(isinstance(layer, keras.layers.Lambda) for layer in model._flatten_layers(include_self=True))
    details.update(safe_mode=safe_mode, modules=modules)
    x = synthetic_inputs(model, batch_size, seed)
    drawing = random_in_inference(model, x)
    if drawing is not None:
        return _skip(f"{drawing} draws new random values at every call, in inference mode too, and each backend has "
                     "random generators of its own, so their outputs cannot be compared", details)
    with tempfile.TemporaryDirectory(prefix="modelcheck-parity-") as tmp:
        folder = Path(tmp)
        model_path = folder / "model.keras"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                call_user_code("saving the model (model.save)", model.save, model_path)
            except UserCodeError as exc:
                return _skip(f"the model cannot be saved in the .keras format ({exc.message}); save_load says "
                             "what to fix", details)
        inputs = folder / "inputs.npz"
        np.savez(inputs, **{f"x{i}": a for i, a in enumerate(x_list(x))})
        jobs = {name: _job(folder / name, model_path, inputs, safe_mode, modules, targets) for name in others}
        processes = {name: _start(name, jobs[name]) for name in others}
        try:
            ref_folder = _job(folder / reference, model_path, inputs, safe_mode, modules, targets)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = _read(ref_folder, child.run(ref_folder), reference)
        finally:
            runs = [_finish(name, jobs[name], processes[name], timeout) for name in others]
    if not ref.result.get("ok"):
        details["error"] = ref.result.get("error")
        return _skip(f"the saved model does not load and run on {reference}, this process' backend "
                     f"({ref.result.get('error')}); save_load says what to fix", details)
    details["layers_compared"] = len(ref.result["layers"])
    details["layer_by_layer"] = ref.result["layer_by_layer"]
    unjudged = {run.backend: run.result["unjudged"] for run in runs if "unjudged" in run.result}
    details["unjudged"] = unjudged
    largest: dict[str, float] = {}
    tolerance = f"within atol {atol:g} + rtol {rtol:g} x |value|"
    for run in runs:
        if run.backend in unjudged:
            continue
        if not run.result.get("ok"):
            details["error"] = {"backend": run.backend, "stage": run.result["stage"],
                                "traceback": run.result.get("traceback")}
            return CheckResult.fail(NAME, _failed_run(run, reference, model), expected=f"the same outputs as on {reference}",
                                    received=f"{run.result['error']} on {run.backend}", details=details,
                                    hint=PORTABLE)
        layer, gap, what = _first_disagreement(ref, run, atol, rtol)
        largest[run.backend] = gap
        if layer is not None:
            details["max_difference"] = largest
            details["culprit_layer"] = layer[0]
            note = (f"the first layer where {run.backend} and {reference} disagree; " if ref.result["layer_by_layer"]
                    else "a subclassed model is compared on its outputs only; ") + PORTABLE
            return CheckResult.fail(NAME, mismatch(f"outputs on {run.backend}", f"the outputs of {reference} ({tolerance})",
                                                   what, at=layer_ref(*layer), note=note),
                                    expected=f"the same outputs as on {reference}", received=what, details=details,
                                    hint=PORTABLE)
    details["max_difference"] = largest
    judged = [name for name in others if name not in unjudged]
    if not judged:
        return _skip("no other backend could be judged: " + "; ".join(unjudged.values()), details)
    how = "layer by layer" if ref.result["layer_by_layer"] else "on its outputs (subclassed model)"
    message = (f"the .keras file gives the same outputs on {', '.join(judged)} as on {reference}, {how} "
               f"({details['layers_compared']} layer(s); largest difference {fmt(max(largest.values()))}, {tolerance})")
    if unjudged:
        message += "; not judged: " + "; ".join(unjudged.values())
    return CheckResult.ok(NAME, message, expected=f"the same outputs as on {reference}", received=largest,
                          details=details)
