"""The instructor's side of a check job: custom objects, the reference solution and the samples.

Runs only in the clean check job (never in the student's build job), on files the grader wrote
into the job's own folder (`Assignment.write_instructor_files`). Everything here is trusted
instructor code; nothing of the student's is imported. Imports Keras.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ..core.errors import SpecError
from ..core.spec import ModelSpec
from ..model.build import build_model
from ..model.counting import param_counts
from ..model.inputs import input_infos, set_instructor_data, synthetic_inputs
from ..model.outputs import output_names
from ..snapshot.serialize import architecture
from .assignment import Assignment

__all__ = ["custom_objects", "prepared_spec", "figures_from_reference", "load_samples", "samples_fit", "LOAD_FIX"]

LOAD_FIX = ("the grader loads models in Keras' safe mode, with built-in layers only{course}. A Lambda layer: "
            "replace it with built-in layers (Rescaling, Activation, Reshape, ...). A custom layer or model class: "
            "decorate it with @keras.saving.register_keras_serializable() and define get_config() so Keras can "
            "save it; a subclassed keras.Model whose call() uses built-in layers is then graded through its "
            "layers, and a custom layer is loaded only when the course provides it")


def _import_file(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"cannot import {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def custom_objects(assignment: Assignment, folder: Path) -> dict[str, Any]:
    """The classes ``[assignment] custom_objects`` lists, imported from the instructor's files
    (and nothing else), by class name."""
    found: dict[str, Any] = {}
    for entry in assignment.custom_objects:
        module_name, _, attr = entry.partition(":")
        module = sys.modules.get(module_name) or _import_file(folder / (module_name + ".py"), module_name)
        cls = getattr(module, attr)
        found[attr] = found[keras.saving.get_registered_name(cls)] = cls
    return found


def _reference_model(assignment: Assignment, folder: Path) -> keras.Model:
    assert assignment.reference is not None
    module = _import_file(folder / Path(assignment.reference).name, "modelcheck_reference_solution")
    builder = getattr(module, assignment.builder, None)
    if builder is None:
        raise SpecError(f"the reference solution {assignment.reference} defines no `{assignment.builder}()`")
    keras.utils.set_random_seed(assignment.seed)
    return build_model(builder, kwargs=assignment.builder_kwargs, input_shape=assignment.spec.input_shape,
                       name=f"the reference solution's {assignment.builder}()")


def _outputs(model: keras.Model) -> list[Any]:
    """The model's outputs: its symbolic ones, or (a subclassed model) those of one call on a
    synthetic batch of 2."""
    try:
        return list(keras.tree.flatten(model.outputs))
    except AttributeError:
        return list(keras.tree.flatten(model(synthetic_inputs(model, 2, 0), training=False)))


def figures_from_reference(spec: ModelSpec, model: keras.Model) -> dict[str, Any]:
    """The figures `[expect]` omits that the reference defines: input and output shapes and the
    parameter counts."""
    filled: dict[str, Any] = {}
    if spec.input_shape is None:
        shapes = [tuple(info.shape[1:]) for info in input_infos(model)]
        filled["input_shape"] = shapes[0] if len(shapes) == 1 else shapes
    if spec.output_shape is None:
        shapes = [tuple(o.shape[1:]) for o in _outputs(model)]
        filled["output_shape"] = shapes[0] if len(shapes) == 1 else shapes
    counts = param_counts(model)
    for key, field in (("total", "total_params"), ("trainable", "trainable_params"),
                       ("non_trainable", "non_trainable_params")):
        if getattr(spec, field) is None:
            filled[field] = int(counts[key])
    return filled


def _arrays(data: Any, key: str, names: list[str], what: str) -> list[np.ndarray] | None:
    if key in data.files:
        return [data[key]]
    if all(name in data.files for name in names):
        return [data[name] for name in names]
    return None


def load_samples(path: Path, model: keras.Model | None,
                 inputs: list[str] | None = None) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """The sample file's inputs (``x`` or one array per input name of `model`, or of `inputs`
    when there is no model) and labels (``y`` or one array per output name; None when it holds none)."""
    inputs = [info.name for info in input_infos(model)] if model is not None else list(inputs or [])
    with np.load(path, allow_pickle=False) as data:
        x = _arrays(data, "x", inputs, "input")
        if x is None:
            raise SpecError(f"the sample file {path.name} holds neither `x` nor one array per input "
                            f"({', '.join(inputs)}); it holds {', '.join(data.files)}")
        y = _arrays(data, "y", output_names(model) if model is not None else [], "output")
    if len({len(a) for a in x + (y or [])}) != 1:
        raise SpecError(f"the sample file {path.name}: its arrays hold different numbers of samples")
    return x, y


def samples_fit(x: list[np.ndarray], model: keras.Model) -> bool:
    """True when the sample inputs `x` match the model's inputs in number, rank and known sizes."""
    infos = input_infos(model)
    return len(x) == len(infos) and all(
        a.ndim == len(info.shape) and all(d is None or d == n for d, n in zip(info.shape[1:], a.shape[1:]))
        for a, info in zip(x, infos))


def _samples_for(path: Path, model: keras.Model, assignment: Assignment,
                 reference: keras.Model | None) -> tuple[list[np.ndarray], list[np.ndarray] | None, bool]:
    """The samples for `model`: inputs and labels as `load_samples` reads them, and True; or, when
    the file holds one array per input of the assignment (the reference's inputs, or ``[expect]
    input_shape``'s names) and `model` names its inputs otherwise, those arrays, None and False:
    the student's model does not take the assignment's inputs (output_shape says so), which is
    no fault of the file's. A file that fits neither raises `SpecError`, the instructor's to fix."""
    try:
        return (*load_samples(path, model), True)
    except SpecError:
        names = list(assignment.spec.input_shape) if isinstance(assignment.spec.input_shape, dict) else None
        if reference is None and not names:
            raise
        x, _ = load_samples(path, reference, names)  # raises when the file does not fit the assignment either
        return x, None, False


def prepared_spec(model: keras.Model, assignment: Assignment, folder: Path | None) -> tuple[ModelSpec, dict[str, Any]]:
    """The spec to check `model` against, and the per-check overrides: the reference fills
    in `[expect]`'s missing figures and is what `matches_reference` compares with; the samples
    (or `input_range`) are attached to the model for every check that runs it."""
    spec = assignment.spec.replace(builder=model, builder_kwargs={})
    overrides: dict[str, dict[str, Any]] = {}
    reference = None
    if folder is not None and assignment.reference:
        reference = _reference_model(assignment, folder)
        spec = spec.replace(**figures_from_reference(spec, reference))
        overrides["matches_reference"] = {"reference": architecture(reference)}
    if folder is not None and assignment.sample:
        x, y, by_name = _samples_for(folder / Path(assignment.sample).name, model, assignment, reference)
        if by_name and samples_fit(x, model):
            set_instructor_data(model, x=x, y=y)
        elif by_name:  # output_shape reports the wrong inputs; the other checks judge on values like the samples'
            set_instructor_data(model, input_range=[[float(a.min()), float(a.max())] for a in x])
        else:  # inputs named otherwise than the samples: values in the range of them all
            set_instructor_data(model, input_range=[min(float(a.min()) for a in x), max(float(a.max()) for a in x)])
    elif assignment.input_range is not None:
        set_instructor_data(model, input_range=assignment.input_range)
    return spec, overrides
