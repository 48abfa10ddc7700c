"""A converted notebook run in the build job a cell at a time, as Jupyter runs it.

In Jupyter an error ends its cell, not the notebook, and nbgrader and otter-grader run a
notebook on past a cell that raises. Students' notebooks load a data set (which the grader,
having no network, cannot download) and train for many epochs before or after they define the
builder that grading needs. So each cell runs on its own: one that raises, calls
``sys.exit()`` or runs past the notebook's share of the time limit is stopped and noted, and the
next cell runs. The notes go to the student with the grade; an error that kept the builder from
being defined is the submission's error.
"""

from __future__ import annotations

import __future__
import ast
import os
import re
import signal
import time
import tokenize
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import reduce
from typing import Any, Callable, ContextManager, Iterator

from ..core.errors import UserCodeError, call_user_code, user_frame
from .lost_reasons import quoted, reported
from .notebook_stand_ins import ExportedShell

__all__ = ["CellRun", "exported_cells", "import_within", "run_cells", "shown_note", "NOTEBOOK_SHARE"]

# The part of the build job's time limit a notebook's own cells may take; building and exporting
# the model come after them. A cell still running when it is used up is stopped. Each later cell
# may run for a moment (a few seconds), all of them together for another part of the limit, and
# after that for an instant each (definitions take microseconds).
NOTEBOOK_SHARE = 0.5
_LATE_SHARE = 0.2
_LATE_CELL_SHARE = 0.02
_LATE_CELL_MIN_S = 1.0
_INSTANT_S = 0.05
_AGAIN_S = 0.25  # after a cell's time is up, how often it is stopped again until it ends
_MAX_NOTES = 20
_MAX_LINE = 200  # characters of a source line a note quotes
# characters of a note's error (with its line) and hint: the whole fits the build report's 1000, whose
# schema would cut it out of its template (and the grader shows 600 of them)
_MAX_ERROR, _MAX_HINT = 600, 250
# a cell's first line in a script exported from Jupyter (``# In[3]:``) or written in cells (``# %%``)
_CELL_MARKER = re.compile(r"^#[ \t]*+(?:In\[[ \d]*+\]:|%%)", re.MULTILINE)
_FUTURE_FLAGS = reduce(lambda a, b: a | b,
                       (getattr(__future__, name).compiler_flag for name in __future__.all_feature_names))


# The notes' templates: the job writes them, and the grader takes a note only in one of them (`shown_note`)
_DID_NOT_RUN = "; it did not run"
_RAN_ON = "; the cells after it ran, as in Jupyter"
_CELL_SHARE = (f": a notebook's own cells may take {NOTEBOOK_SHARE:.0%} of the time limit (grading builds the model "
               "from the builder and trains it itself; training in the notebook is not needed)")
_IMPORT_FIX = ("training or waiting at the top level of a file: put that under `if __name__ == \"__main__\":` "
               "(grading builds the model from the builder and trains it itself)")


def _stopped_note(number: int, seconds: str) -> str:
    return f"cell {number} was stopped after {seconds} s{_CELL_SHARE}"


def _more_note(count: int) -> str:
    return f"... and {count} more cells did not finish"


def _import_share(builder: str) -> str:
    return (f": the code a file runs when it is imported may take {NOTEBOOK_SHARE:.0%} of the time limit; "
            f"{builder}() was defined by then and is graded; {_IMPORT_FIX}")


def _import_note(doing: str, seconds: str, line: str, builder: str) -> str:
    return f"{doing} was stopped after {seconds} s{line}{_import_share(builder)}"


class _OutOfTime(BaseException):
    """Raised in a cell that ran past its time (a BaseException: ``except Exception`` in the
    notebook's code does not swallow it)."""


@dataclass
class CellRun:
    """What running a notebook's cells left: a note for each cell that did not finish, and the
    error of each that failed with its cell's code (to say which kept the builder undefined)."""

    notes: list[str]
    failures: list[tuple[int, str, UserCodeError]]  # (cell number, its code, the error)

    def builder_error(self, builder: str) -> UserCodeError | None:
        """The error that ended the cell holding ``def <builder>(`` before it was defined, if one
        did (with a hint saying so); None otherwise."""
        defines = re.compile(rf"^[ \t]*+def[ \t]++{re.escape(builder)}[ \t]*+\(", re.MULTILINE)
        for number, code, error in self.failures:
            if defines.search(code):
                return UserCodeError(error.message, location=error.location, original=error.original,
                                     hint=(f"cell {number} stopped here, before it defined `{builder}()`; "
                                           + (error.hint or "fix the error so that the cell runs to its end")))
        return None


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise `_OutOfTime` in the block after `seconds`, and again every `_AGAIN_S` until it ends
    (a bare ``except:`` in the cell swallows one)."""
    def out_of_time(signum: int, frame: Any) -> None:
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, out_of_time)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), _AGAIN_S)
    try:
        yield
    finally:
        while True:  # an alarm may land here too: cancel until it is done
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except _OutOfTime:
                continue


def import_within(module: Any, execute: Any, timeout_s: float | None, started: float | None,
                  builder: str | None) -> str | None:
    """Import a script (`execute(module)`, its loader's ``exec_module``) within `NOTEBOOK_SHARE` of
    the job's time limit `timeout_s` (which began at `started`), as a notebook's cells run: a
    script that trains or waits at its top level is stopped there. None when the import ended in
    time; a note for the student when it was stopped after defining `builder` (which is graded);
    raises `UserCodeError` when it was stopped before, or failed as any import does."""
    name = os.path.basename(getattr(module, "__file__", None) or "the submission")
    doing = f"importing {name}"
    if timeout_s is None:
        call_user_code(doing, execute, module)
        return None
    allowed = max((time.monotonic() if started is None else started) + NOTEBOOK_SHARE * timeout_s - time.monotonic(),
                  _INSTANT_S)
    fix = _IMPORT_FIX
    try:
        with _time_limit(allowed):
            call_user_code(doing, execute, module)
    except _OutOfTime as exc:
        if builder is None or not callable(vars(module).get(builder)):
            raise UserCodeError(f"{doing} was stopped after {_seconds(allowed)} s ({NOTEBOOK_SHARE:.0%} of the time "
                                f"limit), before it defined `{builder}()`", hint=fix,
                                location=user_frame(exc.__traceback__)) from None
        where = user_frame(exc.__traceback__)
        line = f" at line {where[1]} ({_capped(where[2])})" if where else ""
        return _import_note(doing, _seconds(allowed), line, builder)
    return None


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _capped(line: str, limit: int = _MAX_LINE) -> str:
    return line if len(line) <= limit else line[: limit - 3] + "..."


def exported_cells(text: str) -> list[tuple[int, int, int]] | None:
    """The cells of a script that Jupyter (``# In[3]:``) or an editor's cell format (``# %%``, as
    VS Code, Spyder and jupytext write it) marks, as `notebooks.cell_table` lists them: each from
    its marker line to the line before the next; None for a script without such markers. When the
    script parses as a whole, a marker inside a top-level statement (a ``# %%`` comment in a
    function's body, ``# In[1]:`` in a docstring) is no cell boundary."""
    markers, line, searched = [], 1, 0
    for found in _CELL_MARKER.finditer(text):
        line += text.count("\n", searched, found.start())
        searched = found.start()
        markers.append(line)
    markers = _between_statements(text, markers)
    if not markers:
        return None
    last = line + text.count("\n", searched)
    ends = [next_line - 1 for next_line in markers[1:]] + [last]
    return [(number, first, end) for number, (first, end) in enumerate(zip(markers, ends), start=1)]


def _between_statements(text: str, markers: list[int]) -> list[int]:
    """The marker lines that fall between the script's top-level statements, when it parses as
    a whole; all of them when it does not (each cell on its own, as in the notebook)."""
    try:
        tree = ast.parse(text.lstrip("\ufeff"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return markers
    inside = [(node.lineno, node.end_lineno or node.lineno) for node in tree.body]
    return [line for line in markers if not any(start <= line <= end for start, end in inside)]


def _where(error: UserCodeError, path: str, first: int, in_file: bool) -> str:
    """Where `error` happened, when it was in the cell beginning at line `first` of `path`: the
    cell's own line number, or with `in_file` the file's."""
    if error.location is None or os.path.abspath(error.location[0]) != os.path.abspath(path):
        return ""
    _, lineno, line = error.location
    if in_file:
        return f" (line {lineno}: {_capped(line)})"
    return f" (line {lineno - first} of the cell: {_capped(line)})" if lineno > first else ""


def run_cells(module: Any, path: str, cells: list[tuple[int, int, int]], timeout_s: float | None = None,
              started: float | None = None, *, exported: bool = False) -> CellRun:
    """Run the converted notebook at `path` (cells as `notebooks.cell_table` lists them) in
    `module`'s namespace, a cell at a time; with the job's time limit `timeout_s` (which began at
    `started`, ``time.monotonic()``), the cells together within `NOTEBOOK_SHARE` of it.

    What comes before the first cell (``from __future__`` imports, the prelude) runs first and
    its failure is raised, as an import's would be; a cell's syntax error, exception or
    ``sys.exit()`` is noted and the next cell runs. An `exported` script (`exported_cells`) gets
    the notebook's ``get_ipython()`` (`ExportedShell`), and its notes name lines of the file."""
    name = os.path.basename(path)
    try:
        with tokenize.open(path) as handle:  # its coding line or BOM, as Python reads a module
            lines = handle.read().split("\n")
        start = cells[0][1] if cells else len(lines) + 1
        head = compile("\n".join(lines[: start - 1]) + "\n", path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise UserCodeError(f"{name} has a syntax error: {exc.msg}", original=exc) from None
    except UnicodeDecodeError as exc:
        raise UserCodeError(f"{name} cannot be read as Python source ({exc.reason} at byte {exc.start})",
                            hint="save the file as UTF-8 (or declare its encoding on its first line)") from None
    flags = head.co_flags & _FUTURE_FLAGS
    if exported:
        vars(module).setdefault("get_ipython", ExportedShell(vars(module)))
    call_user_code(f"importing {name}", exec, head, vars(module))
    if timeout_s is not None:
        late = max(_LATE_CELL_MIN_S, _LATE_CELL_SHARE * timeout_s)
        deadline = (time.monotonic() if started is None else started) + NOTEBOOK_SHARE * timeout_s
        late_deadline = deadline + _LATE_SHARE * timeout_s
    run = CellRun([], [])
    for number, first, last in cells:
        code = "\n".join(lines[first - 1 : last])
        try:
            compiled = compile("\n" * (first - 1) + code + "\n", path, "exec", flags=flags, dont_inherit=True)
        except SyntaxError as exc:
            error = UserCodeError(f"cell {number} has a syntax error: {exc.msg}", original=exc,
                                  location=(path, exc.lineno or 0, (exc.text or "").strip()))
            run.failures.append((number, code, error))
            run.notes.append(_capped(f"{error.message}{_where(error, path, first, exported)}", _MAX_ERROR)
                             + _DID_NOT_RUN)
            continue
        now = time.monotonic()
        allowed = max(deadline - now, min(late, late_deadline - now), _INSTANT_S) if timeout_s is not None else 0.0
        limit: ContextManager[None] = _time_limit(allowed) if timeout_s is not None else nullcontext()
        try:
            with limit:
                call_user_code(f"cell {number}", exec, compiled, vars(module))
        except _OutOfTime:
            run.notes.append(_stopped_note(number, _seconds(allowed)))
            error = UserCodeError(f"cell {number} was stopped after {_seconds(allowed)} s, before it ended")
            run.failures.append((number, code, error))
        except UserCodeError as error:
            run.failures.append((number, code, error))
            hint = f" ({_capped(error.hint, _MAX_HINT)})" if error.hint else ""
            run.notes.append(_capped(f"{error.message}{_where(error, path, first, exported)}", _MAX_ERROR)
                             + _RAN_ON + hint)
        except BaseException as exc:  # KeyboardInterrupt to stop "Run All", GeneratorExit: that cell only
            error = UserCodeError(f"cell {number} raised {type(exc).__name__}", original=exc)
            run.failures.append((number, code, error))
            run.notes.append(f"{error.message}{_RAN_ON}")
    if len(run.notes) > _MAX_NOTES:
        run.notes[_MAX_NOTES:] = [_more_note(len(run.notes) - _MAX_NOTES)]
    return run


_NUMBER = r"[1-9]\d{0,8}"
_SECONDS_RE = r"\d{1,9}(?:\.\d{1,9})?(?:e-\d{2})?"  # as `_seconds` writes them
_STOPPED_RE = re.compile(rf"cell ({_NUMBER}) was stopped after ({_SECONDS_RE}) s{re.escape(_CELL_SHARE)}")
_MORE_RE = re.compile(rf"\.\.\. and ({_NUMBER}) more cells did not finish")
# a BaseException that is no Exception ends its cell with only its class's name: Python's own are
# shown so, a class of the student's (any name) is quoted as the rest are
_INTERRUPTED_RE = re.compile(rf"cell ({_NUMBER}) raised (KeyboardInterrupt|GeneratorExit|BaseException){re.escape(_RAN_ON)}")
_RAN_ON_RE = re.compile(rf"(.+?){re.escape(_RAN_ON)}(?: \((.+)\))?", re.DOTALL)
_DID_NOT_RUN_RE = re.compile(rf"(.+){re.escape(_DID_NOT_RUN)}", re.DOTALL)
_CELL_RE = re.compile(rf"cell ({_NUMBER}) ")
_MAX_QUOTED = _MAX_ERROR + 10  # characters of a note's free text the grader shows


def shown_note(note: Any, script: str, builder: str,
               rewrite: Callable[[str], str] = lambda text: text) -> str | None:
    """A note of the build job's `CellRun` (the untrusted job's words) as the grader shows it: in the
    template `run_cells` or `import_within` wrote it in, its numbers and the grader's own words
    (`script`, the job's file name, and `builder`) rebuilt, and its free text (an error's message,
    a line of the student's code) `reported` as the student's process's within quotes it cannot
    close, after `rewrite` (which names the files as the student handed them in); a note in no
    template is quoted whole. Either way no note's words read as the grader's. None for what is no
    text (the report's schema lets none through)."""
    if not isinstance(note, str):
        return None
    if found := _STOPPED_RE.fullmatch(note):
        return "your notebook: " + _stopped_note(int(found[1]), found[2])
    if found := _MORE_RE.fullmatch(note):
        return "your notebook: " + _more_note(int(found[1]))
    if found := _INTERRUPTED_RE.fullmatch(note):
        return f"your notebook: cell {int(found[1])} raised {found[2]}{_RAN_ON}"
    doing = f"importing {script}"
    if note.startswith(doing + " "):
        found = re.fullmatch(rf"was stopped after ({_SECONDS_RE}) s(?: at line ({_NUMBER}) \((.*)\))?"
                             + re.escape(_import_share(builder)),
                             note[len(doing) + 1:], re.DOTALL)
        if found:
            line = f" at line {int(found[2])}" if found[2] else ""
            if found[3] and found[3].strip():
                line += f" ({quoted(rewrite(found[3]), _MAX_LINE)})"
            return "your file: " + _import_note(f"importing {rewrite(script)}", found[1], line, builder)
    if found := _RAN_ON_RE.fullmatch(note):
        said = found[1] + (f" ({found[2]})" if found[2] else "")
        return f"your notebook: {_cell(found[1])} stopped, {_said(said, rewrite)}{_RAN_ON}"
    if found := _DID_NOT_RUN_RE.fullmatch(note):
        return f"your notebook: {_cell(found[1])} did not run, {_said(found[1], rewrite)}"
    return _said(note, rewrite)


def _cell(message: str) -> str:
    found = _CELL_RE.match(message)
    return f"cell {int(found[1])}" if found else "a cell"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _said(text: str, rewrite: Callable[[str], str]) -> str:
    return reported(_flat(rewrite(text)), _MAX_QUOTED)
