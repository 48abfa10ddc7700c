"""Importing a submission inside its build job, and finding its builder.

A script is imported as a module under its own file's name, unless that names another module
(``keras.ipynb``, ``random.py``), then as ``submission``; its top-level code has the notebook's
share of the time limit (`notebook_run.import_within`). A converted notebook runs a cell at a time
(`notebook_run.run_cells`). A file Python cannot read (a syntax error, UTF-16 text) and a missing
or misnamed builder are the student's errors, said in plain words with the fix.
"""

from __future__ import annotations

import difflib
import importlib.machinery
import importlib.util
import inspect
import keyword
import linecache
import os
import sys
from typing import Any

from ..core.errors import UserCodeError
from .notebook_run import CellRun, exported_cells, import_within, run_cells
from .notebooks import cell_table

__all__ = ["import_submission", "find_builder"]


def _not_utf8(filename: str) -> UserCodeError | None:
    """The error for a file Python refused for its NUL bytes: text saved as UTF-16 (Windows'
    Notepad's "Unicode", PowerShell's ``>``) or no text at all; None when it holds none."""
    try:
        with open(filename, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    if b"\0" not in head:
        return None
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[1::2].count(0) > len(head) // 4
    what = ("is saved as UTF-16 text (Notepad's \"Unicode\", or what PowerShell's > writes), which Python cannot read"
            if utf16 else "holds NUL bytes: it is not a Python source file saved as text")
    return UserCodeError(f"{os.path.basename(filename)} {what}",
                         hint="save the file as UTF-8 text (in Notepad: Save As, Encoding UTF-8; in PowerShell: "
                              "Out-File -Encoding utf8) and resubmit")


def _syntax_error(exc: SyntaxError, filename: str) -> UserCodeError:
    if exc.lineno is None and "null bytes" in str(exc.msg):
        refused = _not_utf8(filename)
        if refused is not None:
            return refused
    line = (exc.text or linecache.getline(exc.filename or "", exc.lineno or 0)).strip()
    return UserCodeError(
        f"{os.path.basename(filename)} has a syntax error: {exc.msg}",
        hint=f"fix line {exc.lineno}; Python cannot run any of the file until it parses",
        location=(exc.filename or filename, exc.lineno or 0, line),
        original=exc,
    )


def _module_name(path: str) -> str:
    """The name to import the submission at `path` under: its file's, unless that names another
    module (``keras.ipynb``, ``random.py``: registered under it, the submission would replace
    Keras or the standard library's module for its own imports and the job's), then
    ``submission``."""
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier() or keyword.iskeyword(name) or name in sys.modules or name in sys.stdlib_module_names:
        return "submission"
    folder = os.path.dirname(os.path.abspath(path))
    elsewhere = [entry for entry in sys.path if os.path.abspath(entry or ".") != folder]
    return "submission" if importlib.machinery.PathFinder.find_spec(name, elsewhere) is not None else name


def import_submission(path: str, timeout_s: float | None = None, started: float | None = None,
                       builder: str | None = None) -> tuple[Any, CellRun | None]:
    """The submission's module, imported; a converted notebook runs a cell at a time instead
    (`notebook_run.run_cells`, within the job's time limit), and what its cells left comes too. A
    script's import has the notebook's share of the time limit too (`import_within`)."""
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    cells = cell_table(text[: text.find("\n")])
    exported = cells is None
    cells = cells if cells is not None else exported_cells(text)
    try:
        if cells is not None:
            return module, run_cells(module, path, cells, timeout_s, started, exported=exported)
        stopped = import_within(module, spec.loader.exec_module, timeout_s, started, builder)
        if stopped is not None:
            return module, CellRun([stopped], [])
    except UserCodeError as exc:
        if isinstance(exc.original, SyntaxError):
            raise _syntax_error(exc.original, path) from None
        raise
    return module, None


def find_builder(module: Any, name: str, path: str) -> Any:
    builder = getattr(module, name, None)
    if callable(builder):
        return builder
    filename = os.path.basename(path)
    functions = [n for n, v in vars(module).items() if inspect.isfunction(v) and v.__module__ == module.__name__]
    if builder is not None:
        raise UserCodeError(f"{filename} defines `{name}` as {type(builder).__name__}, not as a function",
                            hint=f"define it with `def {name}():` and make it return the model")
    close = difflib.get_close_matches(name, functions, n=1)
    found = f"; it defines {', '.join(f'{f}()' for f in functions)}" if functions else "; it defines no function"
    hint = (f"rename `{close[0]}` to `{name}`" if close else
            f"define `def {name}():` that builds and returns the keras.Model")
    raise UserCodeError(f"{filename} defines no function `{name}()`{found}", hint=hint)
