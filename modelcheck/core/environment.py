"""The Keras backend a run uses, told without importing Keras (the plugin, the report and the
grading parent read it)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

__all__ = ["keras_backend", "BACKEND_PACKAGES"]

# the distribution that holds each backend's framework
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def keras_backend() -> str:
    """``"tensorflow"``, ``"jax"`` or ``"torch"``: what Keras runs on in this process when it is
    loaded, else what it will run on (``KERAS_BACKEND``, then ``~/.keras/keras.json``, as Keras
    decides)."""
    keras = sys.modules.get("keras")
    backend = getattr(getattr(keras, "backend", None), "backend", None)
    if callable(backend):
        return str(backend())
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "keras.json"
    try:
        return str(json.loads(config.read_text()).get("backend") or "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"
