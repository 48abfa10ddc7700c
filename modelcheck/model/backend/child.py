"""Load a ``.keras`` file and run it layer by layer on saved inputs, in a process of its own
whose ``KERAS_BACKEND`` the parent chose (`modelcheck.checks.parity`).

    KERAS_BACKEND=jax python -m modelcheck.model.backend.child JOB_FOLDER

The folder holds ``job.json`` (the model file, the inputs' ``.npz``, safe mode, custom objects
and the modules to import first, sys.path); the child writes ``outputs.npz`` (one array per layer output) and
``result.json``: the layers' names and classes, or the error and the layer that raised it.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["run", "culprit_layer", "culprit_class"]


def culprit_layer(tb: TracebackType | None) -> tuple[str, str] | None:
    """(name, class) of the innermost layer, other than a Keras model, whose code was running
    when the error was raised: the layer to blame; None when no layer was."""
    import keras

    found = None
    for frame, _ in traceback.walk_tb(tb):
        owner = frame.f_locals.get("self")
        if isinstance(owner, keras.layers.Layer) and not isinstance(owner, keras.Model):
            found = (owner.name, type(owner).__name__)
    return found


_CALLING = re.compile(r"Exception encountered when calling (\w+)\.")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def culprit_class(exc: BaseException) -> str | None:
    """The class named by Keras' "Exception encountered when calling X.call()" wrapping (Keras
    filters the layer's own frame out of the traceback when it raised while being rebuilt)."""
    match = _CALLING.search(_ANSI.sub("", str(exc)))
    return match.group(1) if match else None


def _first_line(exc: BaseException) -> str:
    text = _ANSI.sub("", str(exc)).strip()
    # Keras wraps a layer's error as "Exception encountered when calling X.call().\n\n<the error>"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception encountered", "Arguments received", "•"))]
    line = (useful or lines or [""])[0]
    return f"{type(exc).__name__}: {line[:300]}"


def run(folder: Path) -> dict[str, Any]:
    """Do the job in `folder`; returns what ``result.json`` holds."""
    job = json.loads((folder / "job.json").read_text())
    sys.path[:0] = [p for p in job["sys_path"] if p not in sys.path]
    import keras
    import numpy as np

    stage = "importing the modules that define the custom objects"
    try:
        for module in job["modules"]:
            importlib.import_module(module)
        custom = {}
        for name, target in job["custom_objects"].items():
            module, _, attr = target.partition(":")
            value: Any = importlib.import_module(module)
            for part in attr.split("."):
                value = getattr(value, part)
            custom[name] = value
        stage = "loading the .keras file"
        model = keras.models.load_model(job["model"], custom_objects=custom or None, safe_mode=job["safe_mode"])
        stage = "running the model"
        from ..inputs import pack_inputs
        from ..outputs import flatten_outputs
        from ..probe import layer_probe

        with np.load(job["inputs"]) as data:
            arrays = [data[f"x{i}"] for i in range(len(data.files))]
        x = pack_inputs(model, arrays)
        probe = layer_probe(model)
        if probe is not None:
            groups = probe.split(flatten_outputs(probe.model(x, training=False)))
            layers = [(layer.name, type(layer).__name__) for layer in probe.layers]
        else:
            groups = [flatten_outputs(model(x, training=False))]
            layers = [(model.name, type(model).__name__)]
        outputs = {f"l{i}_{j}": np.asarray(keras.ops.convert_to_numpy(o)) for i, group in enumerate(groups)
                   for j, o in enumerate(group)}
        np.savez(folder / "outputs.npz", **outputs)
        return {"ok": True, "backend": keras.backend.backend(), "layers": layers,
                "counts": [len(group) for group in groups], "layer_by_layer": probe is not None}
    except Exception as exc:  # the model's failure on this backend is the finding, reported to the parent
        return {"ok": False, "backend": keras.backend.backend(), "stage": stage, "error": _first_line(exc),
                "layer": culprit_layer(exc.__traceback__), "layer_class": culprit_class(exc),
                "traceback": "".join(traceback.format_exception(exc))[-4000:]}


def main() -> None:
    folder = Path(sys.argv[1])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    result = run(folder)
    (folder / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
