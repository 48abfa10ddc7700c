"""Run a document's code as printed, for the variants that Keras 3 cannot build.

The text is compiled under a readable file name and registered with `linecache`, so a
traceback (and modelcheck's error explanations, which read the offending line) show the
document's own line.
"""

from __future__ import annotations

import functools
import linecache
from typing import Any, Callable

__all__ = ["printed_builder"]


def _run(source: str, filename: str, prelude: str, finish: str, result: str) -> Any:
    import keras  # noqa: F401  (the printed code may use it without importing it)
    import numpy as np

    namespace: dict[str, Any] = {"__name__": "__printed__", "keras": keras, "np": np}
    if prelude:
        exec(compile(prelude, filename + " (set-up)", "exec"), namespace)
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    exec(compile(source, filename, "exec"), namespace)
    if finish:
        exec(compile(finish, filename + " (finish)", "exec"), namespace)
    return namespace[result]


def printed_builder(
    source: str, *, entry_id: str, prelude: str = "", finish: str = "", result: str = "model"
) -> Callable[[], Any]:
    """A builder that executes `source` between `prelude` and `finish`; returns its variable `result`.

    `source` is the document's code, verbatim. `prelude` supplies what the document assumes
    exists (e.g. "a 4D input tensor `x`") and `finish` what it leaves implicit (e.g. wrapping
    the tensors in a `keras.Model`); `keras` and `np` are predefined, as in the documents' sessions.
    """
    builder = functools.partial(_run, source, f"<document code: {entry_id}>", prelude, finish, result)
    builder.__name__ = f"build_{entry_id}"  # type: ignore[attr-defined]
    builder.__doc__ = f"Run the document's code for {entry_id} as printed."
    return builder
