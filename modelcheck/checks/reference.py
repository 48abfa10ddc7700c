"""Does the model have the reference solution's architecture?

Both models are described with the snapshot format (`modelcheck.snapshot.serialize.architecture`)
and put in a canonical form before they are compared, so that equivalent ways of writing the
same network are equal:

- an ``Activation``, ``ReLU()`` (default arguments) or ``Softmax()`` layer right after a layer
  whose own activation is linear is folded into that layer: ``Dense(300, activation="relu")`` =
  ``Dense(300)`` + ``Activation("relu")`` = ``Dense(300)`` + ``ReLU()``; elsewhere it stays an
  ``Activation`` layer;
- names never matter; input layers are left out; connections are positions (layer k reads
  layer i), so Sequential, functional and subclassed models of one chain are equal.

The layer lists are aligned as the snapshot diff aligns them (`modelcheck.snapshot.diff.align`),
and each difference is worded for a student:
``layer 2 (Dense 300): activation relu expected, none received``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import keras

from ..core.errors import SpecError
from ..core.messages import mismatch
from ..core.result import CheckResult
from ..model.build import build_model
from ..snapshot.diff import align, format_value
from ..snapshot.serialize import architecture
from .common import check

__all__ = ["check_matches_reference", "canonical_architecture", "IGNORE_GROUPS"]

NAME = "matches_reference"
_ALWAYS_IGNORED = frozenset({"name", "trainable", "dtype", "seed"})
_FOLDED = ("Activation", "ReLU", "Softmax")
_REF = re.compile(r"^(?P<base>.*?)(@\d+)?(\[\d+\])?$")
# `ignore` entries that name a group of configuration keys (anything else names a key itself,
# or "Class.key" for one class's key)
IGNORE_GROUPS: dict[str, Callable[[str, str], bool]] = {
    "initializers": lambda cls, key: key.endswith("_initializer"),
    "regularizers": lambda cls, key: key.endswith("_regularizer"),
    "constraints": lambda cls, key: key.endswith("_constraint"),
    "dropout_rate": lambda cls, key: key == "rate" and "Dropout" in cls,
    "activations": lambda cls, key: key == "activation",
}
_SHOWN_KEYS = {"kernel_size": "kernel size", "pool_size": "pool size", "use_bias": "bias", "rate": "rate"}


def _activation_of(layer: dict[str, Any]) -> str | None:
    """The activation an Activation/ReLU/Softmax layer applies, None when it does something else."""
    config = layer.get("config") or {}
    kind = layer["class"]
    if kind == "Activation":
        return str(config.get("activation"))
    if kind == "ReLU" and not config.get("max_value") and not config.get("negative_slope") \
            and not config.get("threshold"):
        return "relu"
    if kind == "Softmax" and config.get("axis", -1) in (-1, [-1]):
        return "softmax"
    return None


def _ignored(cls: str, key: str, ignore: Sequence[str]) -> bool:
    if key in _ALWAYS_IGNORED:
        return True
    for entry in ignore:
        group = IGNORE_GROUPS.get(entry)
        if group is not None and group(cls, key) or entry in (key, f"{cls}.{key}"):
            return True
    return False


def canonical_architecture(arch: dict[str, Any], *, ignore: Sequence[str] = (),
                           pass_through: Sequence[str] = ()) -> dict[str, Any]:
    """The canonical form of an `architecture()` dict: ``inputs`` (shapes) and ``layers``, each
    ``{"class", "config", "sources"}`` where sources are ``"input k"`` or canonical layer indices.

    Layers of a class in `pass_through` are left out (their readers read what they read)."""
    raw = [layer for layer in arch.get("layers") or [] if layer["class"] != "InputLayer"]
    inputs = arch.get("inputs") or []
    input_refs = {item.get("name"): f"input {n + 1}" for n, item in enumerate(inputs)}
    where: dict[str, Any] = {}  # a raw layer's reference -> its canonical index (or input)
    readers: dict[Any, int] = {}
    layers: list[dict[str, Any]] = []
    previous: Any = "input 1"
    for layer in raw:
        calls = layer.get("inputs")
        if calls:  # functional: the layer's first call
            sources = []
            for ref in calls[0]:
                base = _REF.match(ref)["base"]  # type: ignore[index]
                sources.append(where.get(base, input_refs.get(base, ref)))
        else:  # Sequential or subclassed: a chain in layer order
            sources = [previous]
        for source in sources:
            readers[source] = readers.get(source, 0) + 1
        cls = layer["class"]
        activation = _activation_of(layer) if cls in _FOLDED else None
        target = layers[sources[0]] if len(sources) == 1 and isinstance(sources[0], int) else None
        if cls in pass_through and len(sources) == 1:
            where[layer["name"]] = previous = sources[0]
            continue
        if (activation is not None and target is not None and readers[sources[0]] == 1
                and target["config"].get("activation", "absent") in ("linear", None)):
            target["config"]["activation"] = activation
            where[layer["name"]] = previous = sources[0]
            continue
        if activation is not None:
            cls, config = "Activation", {"activation": activation}
        else:
            config = {k: v for k, v in (layer.get("config") or {}).items() if not _ignored(cls, k, ignore)}
        layers.append({"class": cls, "config": config, "sources": sources})
        where[layer["name"]] = previous = len(layers) - 1
    for layer in layers:  # `activation` was filled by folding: drop it now if it is ignored
        if _ignored(layer["class"], "activation", ignore):
            layer["config"].pop("activation", None)
    return {"inputs": [item.get("shape") for item in inputs], "layers": layers}


def _describe(layer: dict[str, Any]) -> str:
    config = layer["config"]
    parts = [layer["class"]]
    if "units" in config:
        parts.append(str(config["units"]))
    elif "filters" in config:
        parts.append(str(config["filters"]))
    elif layer["class"] == "Activation":
        parts.append(str(config.get("activation")))
    elif "rate" in config:
        parts.append(format_value(config["rate"]))
    if "kernel_size" in config:
        parts.append("x".join(str(k) for k in config["kernel_size"]))
    return " ".join(parts)


def _shown(key: str, value: Any) -> str:
    if key == "activation" and value in ("linear", None):
        return "none"
    if isinstance(value, list) and all(isinstance(v, int) for v in value) and key != "inputs":
        return "x".join(str(v) for v in value) if key in ("kernel_size", "pool_size", "strides") else \
            format_value(value)
    return format_value(value)


def _source_text(source: Any, layers: list[dict[str, Any]]) -> str:
    return source if isinstance(source, str) else f"layer {source + 1} ({_describe(layers[source])})"


def differences(reference: dict[str, Any], received: dict[str, Any], *,
                allow_extra: Sequence[str] = ()) -> list[str]:
    """The differences of two canonical architectures, one line each, in the student's layer order."""
    lines = []
    for n, (want, got) in enumerate(zip(reference["inputs"], received["inputs"])):
        if want != got:
            lines.append(f"input {n + 1}: shape {format_value(want[1:] if want else want)} expected, "
                         f"{format_value(got[1:] if got else got)} received")
    if len(reference["inputs"]) != len(received["inputs"]):
        lines.append(f"inputs: {len(reference['inputs'])} expected, {len(received['inputs'])} received")
    old, new = reference["layers"], received["layers"]

    def keyed(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:  # names never matter in the alignment
        return [{"name": f"#{i}", "class": l["class"], "config": l["config"]} for i, l in enumerate(layers)]

    steps = align(keyed(old), keyed(new))
    mapped = {i: j for i, j in steps if i is not None and j is not None}
    removed = {i for i, j in steps if j is None}
    inserted = {j for i, j in steps if i is None}
    placed = 0
    for i, j in steps:
        if j is None:
            lines.append(f"layer {placed + 1}: {_describe(old[i])} expected (as in the reference solution), "
                         "missing")
            continue
        placed = j + 1
        if i is None:
            if new[j]["class"] not in allow_extra:
                lines.append(f"layer {j + 1} ({_describe(new[j])}): not in the reference solution")
            continue
        a, b = old[i], new[j]
        where = f"layer {j + 1} ({_describe(b)})"
        if a["class"] != b["class"]:
            lines.append(f"{where}: a {a['class']} layer expected, a {b['class']} received")
            continue
        for key in sorted(set(a["config"]) | set(b["config"])):
            x, y = a["config"].get(key), b["config"].get(key)
            if x != y:
                lines.append(f"{where}: {_SHOWN_KEYS.get(key, key.replace('_', ' '))} {_shown(key, x)} expected, "
                             f"{_shown(key, y)} received")
        if not any(s in removed for s in a["sources"] if isinstance(s, int)) and \
                not any(s in inserted for s in b["sources"] if isinstance(s, int)):
            want_sources = [mapped.get(s, s) if isinstance(s, int) else s for s in a["sources"]]
            if want_sources != b["sources"]:
                lines.append(f"{where}: reads " + ", ".join(_source_text(s, new) for s in want_sources)
                             + " expected, " + ", ".join(_source_text(s, new) for s in b["sources"]) + " received")
    return lines


def _reference_architecture(reference: Any, input_shape: Any) -> dict[str, Any]:
    if isinstance(reference, dict):
        return reference
    if isinstance(reference, keras.Model) or callable(reference):
        return architecture(build_model(reference, input_shape=input_shape, name="the reference builder"))
    raise SpecError(f"{NAME}: `reference` must be a keras.Model, a builder or an architecture() dict; "
                    f"received {type(reference).__name__}")


@check(NAME)
def check_matches_reference(
    model: keras.Model,
    reference: Any = None,
    *,
    ignore: Sequence[str] = (),
    allow_extra: Sequence[str] = (),
    seed: int = 0,
) -> CheckResult:
    """Compare the model's architecture with a reference solution's.

    Args:
        model: a ``keras.Model`` or a builder returning one.
        reference: the reference solution: a ``keras.Model``, a builder, or its
            `modelcheck.snapshot.serialize.architecture` dict.
        ignore: what not to compare: configuration keys (``"use_bias"``, ``"Dropout.rate"``) or
            groups (``"initializers"``, ``"regularizers"``, ``"constraints"``,
            ``"dropout_rate"``, ``"activations"``).
        allow_extra: layer classes the model may add (``["Dropout"]``).

    Layer types, their configuration (units, filters, kernel sizes, strides, padding,
    activations...), order and connections are compared; equivalent forms are equal (see the
    module docstring) and names never matter. Example::

        check_matches_reference(model, reference=build_solution, allow_extra=["Dropout"])
    """
    if reference is None:
        return CheckResult.skip(NAME, "no reference solution was given (`reference=`), so there is nothing to "
                                "compare the architecture with")
    ref_arch = _reference_architecture(reference, None)
    ref_classes = {layer["class"] for layer in ref_arch.get("layers") or []}
    want = canonical_architecture(ref_arch, ignore=ignore)
    got = canonical_architecture(architecture(model), ignore=ignore,
                                 pass_through=[c for c in allow_extra if c not in ref_classes])
    lines = differences(want, got, allow_extra=allow_extra)
    details = {"reference": want, "received": got, "differences": lines}
    if not lines:
        return CheckResult.ok(NAME, f"the architecture matches the reference solution ({len(got['layers'])} layers)",
                              details=details)
    first = lines[0]
    at, _, _ = first.partition(": ")
    head = mismatch("architecture", "the reference solution's", f"{len(lines)} difference{'s' * (len(lines) > 1)}",
                    at=at)
    return CheckResult.fail(NAME, head + "\n" + "\n".join(lines), expected=want, received=got, details=details,
                            hint="build the layers the assignment describes, in its order, with its sizes and "
                            "activations")
