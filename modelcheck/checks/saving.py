"""Save and load: the native ``.keras`` format, loaded back in safe mode, gives the same
outputs; custom classes that cannot make the round trip are named with what to add."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from ..core.errors import UserCodeError, call_user_code
from ..model.inputs import rows_of, synthetic_inputs
from ..model.origin import held_functions, is_library_code
from ..core.messages import layer_ref, mismatch
from ..core.result import CheckResult
from .common import check, fmt
from ..model.probe import layer_probe
from ..model.randomness import UNREWINDABLE, random_in_inference, rewinder, rewound_forward, same_draws

__all__ = ["check_save_load", "serialisation_problems"]

NAME = "save_load"
EXPECTED = "the model loaded from a .keras file gives the same outputs"
EXPECTED_SHORT = "the same outputs after a .keras round trip in safe mode"


def _registered(obj: Any, custom_objects: dict[str, Any] | None) -> bool:
    if custom_objects and any(value is obj for value in custom_objects.values()):
        return True
    return keras.saving.get_registered_object(keras.saving.get_registered_name(obj)) is obj


def _custom_functions(layer: keras.layers.Layer, custom_objects: dict[str, Any] | None,
                      seen: set[Any]) -> list[tuple[str, str]]:
    """(where, sentence) for the unregistered plain functions a layer holds (a custom activation...)."""
    found = []
    for _, attribute, value in held_functions([layer]):
        if value.__name__ == "<lambda>" or value in seen:
            continue
        if is_library_code(value) or _registered(value, custom_objects):
            continue
        seen.add(value)
        found.append((f"the custom function {value.__name__}", f"the custom function {value.__name__} ({attribute} of layer {layer.name!r}) is not "
                     "registered, so load_model cannot find it: put `@keras.saving.register_keras_serializable()` on "
                     f"the line above `def {value.__name__}`"))
    return found


def serialisation_problems(model: keras.Model, custom_objects: dict[str, Any] | None = None) -> list[str]:
    """Plain sentences, each with its fix, for every part of `model` that the ``.keras``
    round trip in safe mode cannot handle: custom classes without a working ``get_config``
    or not registered, unregistered custom functions (activations...), and Lambda layers
    holding a Python lambda."""
    return [sentence for _, sentence in _problems(model, custom_objects)]


def _problems(model: keras.Model, custom_objects: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(where, sentence) for each of `serialisation_problems`."""
    problems: list[tuple[str, str]] = []
    seen: set[Any] = set()
    for layer in model._flatten_layers(include_self=True):
        cls = type(layer)
        if isinstance(layer, keras.layers.Lambda) and getattr(layer.function, "__name__", "") == "<lambda>":
            problems.append((layer_ref(layer.name, "Lambda"), f"layer {layer.name!r} is a Lambda holding a Python lambda, which load_model refuses in "
                            "safe mode (it could run any code): replace it with a small custom layer class "
                            "(registered, with get_config)"))
            continue
        problems += _custom_functions(layer, custom_objects, seen)
        if is_library_code(cls) or cls in seen:
            continue
        seen.add(cls)
        try:
            layer.get_config()
        except Exception:  # Keras raises NotImplementedError; a broken override can raise anything
            problems.append((f"the custom class {cls.__name__}", f"the custom class {cls.__name__} (layer {layer.name!r}) has no working get_config: add "
                            "`def get_config(self): return {**super().get_config(), \"units\": self.units, ...}` "
                            "returning every constructor argument"))
        if not _registered(cls, custom_objects):
            problems.append((f"the custom class {cls.__name__}", f"the custom class {cls.__name__} is not registered, "
                             "so load_model cannot find it: put `@keras.saving.register_keras_serializable()` on the "
                             f"line above `class {cls.__name__}`"))
    return problems


def _first_different_layer(model: keras.Model, loaded: keras.Model, x: Any, atol: float, rtol: float,
                           rewinds: tuple[Callable[[], None], Callable[[], None]]) -> tuple[str, str] | None:
    """(where, why) for the first layer whose output differs between the two models
    (functional/Sequential), each run after its rewind; None when it cannot be told."""
    original, copy = layer_probe(model), layer_probe(loaded)
    if original is None or copy is None or len(original.layers) != len(copy.layers):
        return None
    rewinds[0]()
    before_all = original.run(x)
    rewinds[1]()
    for layer, before, after in zip(original.layers, before_all, copy.run(x)):
        if len(before) != len(after) or any(b.shape != a.shape or not np.allclose(b, a, atol=atol, rtol=rtol)
                                            for b, a in zip(before, after)):
            why = (f": the custom class {type(layer).__name__} is rebuilt from its get_config, which probably leaves "
                   "out a constructor argument" if not is_library_code(type(layer)) else "")
            return layer_ref(layer.name, type(layer).__name__), f"the first layer whose output differs{why}"
    return None


def _failure(doing: str, exc: UserCodeError, model: keras.Model, custom_objects: dict[str, Any] | None,
             details: dict[str, Any]) -> CheckResult:
    problems = _problems(model, custom_objects)
    at = problems[0][0] if problems else "the .keras file"
    reason = "; ".join(sentence for _, sentence in problems) if problems else exc.message
    details["error"] = exc.message
    return CheckResult.fail(NAME, mismatch("save and load", EXPECTED_SHORT, f"an error {doing}", at=at, note=reason),
                            expected=EXPECTED, received=f"an error {doing}",
                            details=details, hint=exc.hint or "custom layers and models need get_config returning "
                            "their constructor arguments and @keras.saving.register_keras_serializable().")


@check(NAME)
def check_save_load(
    model: keras.Model,
    *,
    custom_objects: dict[str, Any] | None = None,
    batch_size: int = 4,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    seed: int = 0,
) -> CheckResult:
    """Save the model to ``model.keras`` in a temporary folder, load it with ``safe_mode=True``
    and compare the outputs on the same synthetic batch (inference mode).

    A failure names what cannot make the round trip: a custom class without ``get_config`` or
    not registered with ``@keras.saving.register_keras_serializable()``, a Lambda holding a
    Python lambda, or the first layer whose output differs after loading (a ``get_config``
    that leaves out a constructor argument). `custom_objects` is passed to ``load_model``.

    Example::

        result = check_save_load(model)
        assert result.passed, result.message
    """
    x = synthetic_inputs(model, batch_size, seed)
    rewind = rewinder(model)  # a model drawing random values in inference draws the same ones in both runs
    before = rewound_forward(model, rewind)(x)
    rewind()
    details: dict[str, Any] = {"format": ".keras", "safe_mode": True, "batch_size": rows_of(x)}
    with tempfile.TemporaryDirectory(prefix="modelcheck-") as folder:
        path = Path(folder) / "model.keras"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns about optimizer state and build configs on load
            try:
                call_user_code("saving the model (model.save)", model.save, path)
            except UserCodeError as exc:
                return _failure("while saving in the .keras format", exc, model, custom_objects, details)
            details["file_bytes"] = path.stat().st_size
            try:
                loaded = call_user_code("loading the model (keras.models.load_model)", keras.models.load_model,
                                        path, custom_objects=custom_objects, safe_mode=True)
            except UserCodeError as exc:
                return _failure("while loading the saved model in safe mode", exc, model, custom_objects, details)
    aligned = same_draws(model, loaded)
    rewind_loaded = rewinder(loaded)
    after = rewound_forward(loaded, rewind_loaded)(x)
    shapes_match = len(before) == len(after) and all(b.shape == a.shape for b, a in zip(before, after))
    difference = max((float(np.max(np.abs(b - a))) if b.size else 0.0 for b, a in zip(before, after)),
                     default=0.0) if shapes_match else float("inf")
    details["max_difference"] = difference
    same = shapes_match and all(np.allclose(b, a, atol=atol, rtol=rtol) for b, a in zip(before, after))
    if same:
        return CheckResult.ok(NAME, f"saved ({details['file_bytes']:,} bytes) and loaded back in safe mode with the "
                              f"same outputs (largest difference {fmt(difference)})", expected=EXPECTED,
                              received={"max_difference": difference}, details=details)
    received = (f"largest difference {fmt(difference)}" if shapes_match else
                f"output shapes {[a.shape for a in after]} instead of {[b.shape for b in before]}")
    if shapes_match:  # a difference counts only when both models drew the same values
        why = None
        drawing = random_in_inference(model, x, rewound=True)
        if drawing is not None:
            why = f"{drawing} {UNREWINDABLE}"
        elif not aligned and (drawing := random_in_inference(model, x)) is not None:
            why = (f"{drawing} draws new random values at every call, in inference mode too, and the loaded model's "
                   "random generators do not pair up with the original's")
        if why is not None:
            return CheckResult.skip(NAME, f"saved and loaded back in safe mode, but {why}; so a difference ({received}) "
                                    "cannot be told from a new draw", expected=EXPECTED, received=received,
                                    details=details)
    where = _first_different_layer(model, loaded, x, atol, rtol, (rewind, rewind_loaded))
    at, why = where if where is not None else ("the model's outputs", "")
    return CheckResult.fail(NAME, mismatch("save and load", EXPECTED_SHORT, received, at=at, note=why or None),
                            expected=EXPECTED, received=received, details=details,
                            hint="a custom layer's get_config probably leaves out a constructor argument, so the "
                            "loaded layer is built with its default: return every argument from get_config.")
