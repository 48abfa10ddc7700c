"""What a layer's dtype holds, for comparing a model's dtypes with a reference's.

A dtype or dtype policy is compared by its kind (`dtype_kind`): a precision (float16, float32,
mixed_float16) computes the same as the reference; a narrower kind (`narrower`: bool or int where
the reference computes in floats, a quantized layer where it does not quantize) loses values.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DTYPE_ORDER", "dtype_kind", "narrower"]

# what a dtype can hold, narrowest first: a narrower kind than the reference's loses the values
DTYPE_ORDER = ("bool", "int", "float", "complex")


def dtype_kind(dtype: Any) -> str | None:
    """What a dtype (or a layer's dtype policy, as `architecture()` writes it) holds: ``"bool"``,
    ``"int"`` (int8...uint64), ``"float"`` (float16/32/64, bfloat16, a mixed-precision policy),
    ``"complex"``, ``"quantized int8"`` (a policy `model.quantize` set), the name for any other
    (``"string"``); None when unknown."""
    if isinstance(dtype, dict):
        mode = dtype.get("mode")
        return f"quantized {mode}" if mode else None
    if not isinstance(dtype, str) or not dtype:
        return None
    name = dtype.lower()
    if name == "bool":
        return "bool"
    if name.startswith(("int", "uint")):
        return "int"
    if name.startswith(("float", "bfloat", "mixed_")):
        return "float"
    return "complex" if name.startswith("complex") else name


def narrower(want: str | None, got: str | None) -> bool:
    """Whether a dtype kind `got` holds less than `want` (None: unknown, never narrower): bool or
    int where the reference computes in floats, a quantized layer where it does not quantize. A
    wider kind (float inputs where the reference takes int ids) loses nothing."""
    if want is None or got is None or want == got:
        return False
    if want in DTYPE_ORDER and got in DTYPE_ORDER:
        return DTYPE_ORDER.index(got) < DTYPE_ORDER.index(want)
    return not (got in DTYPE_ORDER and want.startswith("quantized"))
