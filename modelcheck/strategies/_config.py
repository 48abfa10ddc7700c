"""Drawn configurations as code: Keras' defaults left out, and the text a drawn value prints."""

from __future__ import annotations

from typing import Any, Mapping

# Keras' defaults, so drawn configurations show only what differs from them
_DEFAULTS = {
    "strides": 1, "padding": "valid", "dilation_rate": 1, "groups": 1, "use_bias": True,
    "activation": None, "data_format": "channels_last", "return_sequences": False,
    "keepdims": False, "center": True, "scale": True, "axis": -1, "reset_after": True,
}


def _call_text(class_name: str, config: Mapping[str, Any]) -> str:
    args = ", ".join(f"{key}={value!r}" for key, value in config.items())
    return f"{class_name}({args})"


def _is_default(key: str, value: Any) -> bool:
    if key not in _DEFAULTS:
        return False
    if key == "activation" and value == "linear":  # what Keras calls activation=None
        return True
    default = _DEFAULTS[key]
    if isinstance(value, tuple) and isinstance(default, int):
        return all(v == default for v in value)
    return value == default


def _config(**values: Any) -> dict[str, Any]:
    """Keep the keyword arguments that differ from Keras' defaults (readable, shrinks well)."""
    return {k: v for k, v in values.items() if not _is_default(k, v)}


def _pretty_repr(self: Any, printer: Any, cycle: bool) -> None:
    """Hypothesis prints failing examples with this (not field by field): the readable repr."""
    for index, line in enumerate(repr(self).splitlines()):
        if index:
            printer.break_()
        printer.text(line)
