"""What one model's checks compute alike, computed once per session.

Several checks of one model run it on the same synthetic batch: `gradient_flow`, `finite` and
the training checks make the same inputs from the same seed, run the same inference-mode
forward pass, and two of them take the same gradients; on a ResNet50 each of those costs
seconds. Within a `modelcheck.session.runner.ModelSession` (whose `TrainingContext` is current
while a check runs) such a result is kept under a key made of its inputs' bytes and reused.

A result is only valid for the weights it was computed with. The session's weights are those
its builder gave, except inside a `modelcheck.model.engine.preserved_weights` block (training,
the teacher's shuffled weights), where `changing_weights` pauses the memo; the block restores
the weights on exit. Outside a session (a check run on its own) nothing is kept.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from . import loops

__all__ = ["remembered", "changing_weights"]

T = TypeVar("T")

_PAUSED: contextvars.ContextVar[int] = contextvars.ContextVar("modelcheck_memo_paused", default=0)


def _digest(values: Any) -> str | None:
    """A digest of the arrays in `values` (nested lists, tuples and dicts of arrays or numbers),
    or None when one cannot be digested by its bytes (strings, objects)."""
    digest = hashlib.blake2b(digest_size=16)
    stack = [values]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for name in sorted(value, key=str):
                digest.update(repr(name).encode())
                stack.append(value[name])
        elif isinstance(value, (list, tuple)):
            digest.update(f"[{len(value)}".encode())
            stack.extend(reversed(value))
        else:
            array = np.asarray(value)
            if array.dtype.kind not in "biuf":
                return None
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _copy(value: Any) -> Any:
    """A copy a caller may change without changing what is kept (arrays copied, lists and
    tuples rebuilt, anything else as it is)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value


def remembered(kind: str, model: Any, inputs: Any, compute: Callable[[], T], *, extra: Any = None) -> T:
    """``compute()``, or the value it returned before in this session for the same `kind`,
    model, `inputs` (arrays, compared by their bytes) and `extra` (a hashable description of
    anything else it depends on). Errors are never kept."""
    context = loops.session_context()
    if context is None or _PAUSED.get():
        return compute()
    digest = _digest(inputs)
    if digest is None:
        return compute()
    key = (kind, id(model), digest, extra)
    if key not in context.memo:
        context.memo[key] = compute()
    return _copy(context.memo[key])


@contextlib.contextmanager
def changing_weights() -> Iterator[None]:
    """Nothing is kept or reused while the block runs (the weights may differ from the
    session's own)."""
    token = _PAUSED.set(_PAUSED.get() + 1)
    try:
        yield
    finally:
        _PAUSED.reset(token)
