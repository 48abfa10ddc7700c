"""A Jupyter notebook (nbformat 4 or 3) as a Python script that runs as the notebook does in
Jupyter but runs no shell (`notebook_script`); a notebook over the size of one file is measured
without its outputs (`modelcheck.grading.notebook_size`). Notebooks are student files: every parse
here is bounded, and anything that is not a notebook is a `ValueError` with a message.
"""

from __future__ import annotations

import getopt
import json
import keyword
import re
import shlex
from pathlib import Path
from typing import Any, NamedTuple

from .schema import clean_text

__all__ = ["CELL_TABLE", "cell_table", "notebook_script", "notebook_source", "wrapped_python", "OtherLanguage"]


# -- notebooks: JSON to a script ------------------------------------------------------------------

# Cell magics whose body is Python that IPython runs in the notebook's namespace (so what the body
# defines exists afterwards): their body is kept. Every other cell magic runs another language
# (%%bash, %%sh, %%script, %%html, %%javascript, ...) or, as %%timeit does (its body becomes a
# timing function's, run many times), defines nothing: the cell is skipped. %%writefile writes its
# body to a file (`_writefile`).
_WRAPPER_CELL_MAGICS = frozenset({"time", "capture", "prun", "debug"})
# Line magics that run the Python statement after them (``%time model = build_model()``).
_WRAPPER_LINE_MAGICS = frozenset({"time", "prun", "debug"})
_MAGIC_OPTIONS = {"prun": ("D:l:rs:T:q", []), "debug": ("b:", ["breakpoint="])}  # as IPython parses them
_ESCAPES = ("!", "%", "?")  # IPython syntax when a statement begins with one
# ``obj?`` / ``obj.attr??``: IPython's help syntax (its inputtransformer2._help_end_re)
_HELP_END = re.compile(r"%{0,2}(?!\d)[\w*]++(?:\.(?!\d)[\w*]++|\[-?[0-9]++\])*+\?\??")
# IPython's line magics and shell aliases (IPython 8, and Colab's), which a cell of one line may
# call without ``%`` (automagic: ``pip install keras``)
_LINE_MAGICS = frozenset("""alias alias_magic autoawait autocall automagic autosave bookmark cat cd clear colors conda
    config cp dhist dirs doctest_mode ed edit env gui hist history killbgscripts ldir less lf lk ll load load_ext loadpy
    logoff logon logstart logstate logstop ls lsmagic lx macro magic mamba man matplotlib micromamba mkdir more mv
    notebook page pastebin pdb pdef pdoc pfile pinfo pinfo2 pip popd pprint precision prun psearch psource pushd pwd
    pycat pylab qtconsole quickref recall rehashx reload_ext rep rerun reset reset_selective rm rmdir run save sc
    set_env shell store sx system tb tensorflow_version time timeit unalias unload_ext uv who who_ls whos xdel
    xmode""".split())
# a line's first word as IPython's prefilter splits it (`split_user_input`: dots included, so
# ``pip.main()`` is no magic), and the rest
_IFUN = re.compile(r"([\w.*]*+)(.*+)$", re.DOTALL)
# what str.splitlines ends a line at
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# a name a notebook's code binds: def/class, import (the first part of a dotted name, unless
# renamed with `as`), `as`, a plain or annotated assignment at a line's start, a for loop, global
_BINDING = re.compile(r"""^[ \t]*+(?:async[ \t]++)?(?:def|class)[ \t]++([A-Za-z_]\w*+)
    | \bimport[ \t]++([A-Za-z_]\w*+)(?![\w.]*+[ \t]++as\b)
    | \bas[ \t]++([A-Za-z_]\w*+)
    | ^[ \t]*+([A-Za-z_]\w*+)[ \t]*+(?::[^=\n]*+)?=(?!=)
    | \bfor[ \t]++([A-Za-z_]\w*+)[ \t]++in\b
    | ^[ \t]*+global[ \t]++([A-Za-z_]\w*+)""", re.MULTILINE | re.VERBOSE)
_FUTURE_IMPORT = re.compile(r"from\s+__future__\s+import\b")
_CODE_EVENT = re.compile(r"""[#'"]|=++|[()\[\]{}]++""")  # brackets, equal signs: a run at a time
# Lines and characters the line scan stops at, in all code cells: at most a few seconds of it (a
# real notebook has a few thousand lines, some tens of thousands of such characters).
_MAX_CODE_STEPS = 1_000_000
# Every pattern run over a student's text is possessive (``*+``): linear, and no backtracking
# stack, which for a long run of escapes would take gigabytes.
_STRING_END = {  # from inside a string literal to just past its closing quote (escapes skipped)
    "'": re.compile(r"[^\\']*+(?:\\.[^\\']*+)*+'"),
    '"': re.compile(r'[^\\"]*+(?:\\.[^\\"]*+)*+"'),
    "'''": re.compile(r"[^\\']*+(?:(?:\\.|'(?!''))[^\\']*+)*+'''"),
    '"""': re.compile(r'[^\\"]*+(?:(?:\\.|"(?!""))[^\\"]*+)*+"""'),
}
# Jupyter's builtin `display()`, as a no-op: in builtins, where IPython puts it, so that a
# notebook's own (``def display`` or ``from IPython.display import display``) wins as it does
# there. Not `get_ipython`: libraries (rich, TensorFlow, JAX) and notebooks take the name's
# existence to mean "in Jupyter", and would then act as if they were.
_NOTEBOOK_PRELUDE = (
    "# modelcheck: Jupyter's builtin display(), as a no-op (a notebook's own display wins)\n"
    "import builtins as _modelcheck_builtins\n"
    "_modelcheck_builtins.__dict__.setdefault('display', lambda *objects, **options: None)\n"
    "del _modelcheck_builtins\n"
)


# The first line of a converted notebook: where each cell's lines are, so that the build job can run
# the cells one at a time as Jupyter does (an error ends its cell, not the notebook).
CELL_TABLE = "# modelcheck notebook cells (number:first-last line): "


class _Scan(NamedTuple):
    """Where a physical line of a cell begins, as Python's tokenizer sees it."""

    depth: int = 0  # brackets open
    quote: str = ""  # the string literal open across lines (a triple quote, or a backslash-continued one)
    continued: bool = False  # the line before ended with a backslash continuation

    @property
    def statement_start(self) -> bool:
        """Whether the line begins a statement: only there can IPython syntax (``%``, ``!``) be."""
        return not (self.depth or self.quote or self.continued)


def _scan_line(line: str, state: _Scan) -> tuple[_Scan, int | None]:
    """The state after `line` (one physical line, without its end) and the index of its first
    ``=`` outside brackets, strings and comments that is an assignment's (None if none)."""
    depth, quote, assign_at, i = state.depth, state.quote, None, 0
    while True:
        if quote:
            end = _STRING_END[quote].match(line, i)
            if end is None:  # the string goes on past this line (or is unterminated: a syntax error)
                keeps = len(quote) == 3 or _ends_with_backslash(line)
                return _Scan(depth, quote if keeps else "", False), assign_at
            quote, i = "", end.end()
            continue
        event = _CODE_EVENT.search(line, i)
        if event is None:
            break
        char, i = event.group(), event.end()
        if char == "#":
            return _Scan(depth, "", False), assign_at
        if char in "'\"":
            quote = char * 3 if line.startswith(char * 3, i - 1) else char
            i += len(quote) - 1
        elif char[0] == "=":
            if char == "=" and depth == 0 and assign_at is None and _is_assignment(line, i - 1):
                assign_at = i - 1
        else:  # a run of brackets (one closing more than is open is a syntax error anyway)
            depth = max(depth + sum(map(char.count, "([{")) - sum(map(char.count, ")]}")), 0)
    return _Scan(depth, "", _ends_with_backslash(line)), assign_at


def _ends_with_backslash(line: str) -> bool:
    """Whether `line` ends with an unescaped backslash (it goes on on the next line)."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _is_assignment(line: str, at: int) -> bool:
    """Whether the ``=`` at `at` is a plain assignment's (not ``==``, ``!=``, ``<=``, ``:=``, ``+=``...)."""
    before = line[at - 1] if at else ""
    after = line[at + 1] if at + 1 < len(line) else ""
    return before not in "=!<>:+-*/%&|^@~" and after != "="


def _magic_statement(name: str, args: str) -> str | None:
    """The Python statement that the wrapper magic `name` runs, from the rest of its line after
    its options ("" when none); None when IPython would refuse the options."""
    if name not in _MAGIC_OPTIONS:
        return args.strip()
    short, long = _MAGIC_OPTIONS[name]
    words = args.split()
    try:
        _, rest = getopt.getopt(words, short, long)
    except getopt.GetoptError:
        return None
    consumed = len(words) - len(rest)
    parts = args.strip().split(None, consumed)
    return parts[consumed] if len(parts) > consumed else ""


def wrapped_python(name: str, line: str, cell: str | None = None) -> str | None:
    """The Python that the magic `name` runs in the notebook's namespace, as Jupyter runs it:
    called with the rest of its line (`line`), and for a cell magic its `cell`. None for a magic
    that runs another language, or nothing a grader needs (``%matplotlib``, ``%%bash``)."""
    if cell is not None:
        return cell if name in _WRAPPER_CELL_MAGICS and not line.strip().endswith("?") else None
    statement = _magic_statement(name, line) if name in _WRAPPER_LINE_MAGICS else None
    return statement if statement and not statement.startswith(_ESCAPES) else None


# %run's options, as IPython parses them (-m names a module to run instead of a file)
_RUN_OPTIONS = "nidtN:b:pD:l:rs:T:em:G"


def _run_magic(args: str) -> str | None:
    """``%run [options] helpers.py`` as Python that runs the Python file (or ``-m`` module) as
    IPython does: as ``__main__``, then its names copied into the notebook's namespace (with
    ``-i``, run in that namespace itself; with ``-n``, not as ``__main__``). A notebook that
    defines its helpers in a file beside it this way works as in Jupyter. None for a %run of
    anything else (another notebook), or with arguments IPython would refuse."""
    try:
        options, rest = getopt.getopt(shlex.split(args), _RUN_OPTIONS)
    except (getopt.GetoptError, ValueError):
        return None
    flags = dict(options)
    module = flags.get("-m")
    if module is None and not (rest and rest[0].endswith(".py")):
        return None
    main = "'__main__'" if "-n" not in flags else (repr(module) if module else repr(Path(rest[0]).stem))
    if module is not None:
        ran = f"__import__('runpy').run_module({module!r}, run_name={main}, alter_sys=True)"
    elif "-i" in flags:
        return (f"exec(compile(__import__('builtins').open({rest[0]!r}, encoding='utf-8').read(), {rest[0]!r}, "
                "'exec'), globals())")
    else:
        ran = f"__import__('runpy').run_path({rest[0]!r}, run_name={main})"
    return f"globals().update((k, v) for k, v in {ran}.items() if not k.startswith('__'))"


def _ipython_line(line: str, assign_at: int | None) -> str | None:
    """The Python line that replaces `line`, a line beginning a statement, when it is IPython
    syntax: a magic or shell escape (``%...``, ``!...``, ``?...``), help (``obj?``), or an
    assignment from one (``x = !ls``, ``x = %time f()``, `assign_at` the ``=``). None when it
    is plain Python.

    Nothing here ever runs a shell: an escape becomes ``pass``, an assigned shell output ``[]``
    and an assigned magic result ``None``, each with the original as a comment; a wrapper magic
    (``%time stmt``) becomes its statement."""
    stripped = line.lstrip()
    if assign_at is None and not stripped.startswith(_ESCAPES) and not stripped.rstrip().endswith("?"):
        return None
    indent = line[: len(line) - len(stripped)]
    skipped = f"{indent}pass  # skipped: {stripped}"
    if stripped.startswith(_ESCAPES):
        magic = re.match(r"%(\w+)(.*)", stripped)
        if magic and magic.group(1) in _WRAPPER_LINE_MAGICS and not _ends_with_backslash(line):
            statement = _magic_statement(magic.group(1), magic.group(2))
            if statement and not statement.startswith(_ESCAPES):
                return indent + statement
        ran = _run_magic(magic.group(2)) if magic and magic.group(1) == "run" and not _ends_with_backslash(line) else None
        return f"{indent}{ran}  # {stripped}" if ran is not None else skipped
    if _HELP_END.fullmatch(stripped.rstrip()):
        return skipped
    if assign_at is not None and line[:assign_at].strip():
        target, value = line[: assign_at + 1], line[assign_at + 1 :].strip()
        if value.startswith("!"):
            return f"{target} []  # skipped: {value} (a shell command's output; the grader runs no shell)"
        if re.match(r"%\w", value):
            return f"{target} None  # skipped: {value} (an IPython magic's result)"
    return None


def _split_lines(text: str) -> list[str]:
    """`text`'s physical lines as Python's tokenizer splits them (at \\n, \\r\\n and \\r only)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _dedent_cell(lines: list[str]) -> list[str]:
    """As IPython does before it runs a cell: the first non-blank line's indentation removed from
    every line that starts with it (a cell pasted indented runs)."""
    first = next((line for line in lines if line.strip()), "")
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    if not indent:
        return lines
    return [line[len(indent) :] if line.startswith(indent) else line for line in lines]


def _convert_lines(lines: list[str]) -> tuple[list[str], list[str]]:
    """A cell's lines with IPython syntax made Python (`_ipython_line`), one line for one, and
    its ``from __future__`` imports, moved out (a comment here) to go first in the script.

    Only a line that begins a statement can be IPython syntax: not one inside brackets or a
    string or after a backslash (``(10`` then ``% 3)`` is Python's modulo). An escape ending
    with a backslash goes on on the next lines, as in IPython: they are skipped with it."""
    converted: list[str] = []
    hoisted: list[str] = []
    state = _Scan()
    skipping = hoisting = False
    for line in lines:
        if skipping:  # the continuation of a skipped escape
            converted.append(f"# skipped: {line.strip()}")
            skipping = _ends_with_backslash(line)
            continue
        start = state.statement_start
        state, assign_at = _scan_line(line, state)
        if start and _FUTURE_IMPORT.match(line):
            hoisting = True
        if hoisting:
            hoisted.append(line)
            converted.append(f"# moved to the top of the script: {line.strip()}")
            hoisting = not state.statement_start
            continue
        replacement = _ipython_line(line, assign_at) if start else None
        if replacement is None:
            converted.append(line)
            continue
        converted.append(replacement)
        state, skipping = _Scan(), _ends_with_backslash(line)
    return converted, hoisted


def _cell_magic(first: str) -> tuple[str, bool]:
    """For a cell that begins with the cell magic line `first`: whether the cell's body (Python
    that the magic only wraps) is kept, and the line that replaces `first` (or, for a skipped
    cell, why it is skipped)."""
    found = re.match(r"%%(\w+)(.*)", first)
    name, args = (found.group(1), found.group(2)) if found else ("", first[2:])
    shown = first.strip()
    if name not in _WRAPPER_CELL_MAGICS or args.strip().endswith("?"):
        why = ("IPython runs its body inside a timing function, so it defines nothing" if name == "timeit"
               else "not Python")
        return f"cell magic {shown}: {why}", False
    if name == "capture":  # %%capture [--no-stderr] [--no-stdout] [--no-display] [output]
        output = next((word for word in args.split() if not word.startswith("-")), "")
        if output.isidentifier() and not keyword.iskeyword(output):
            return f"{output} = None  # {shown}: the captured output is not kept", True
    elif name in ("prun", "debug"):
        statement = _magic_statement(name, args)
        if statement and not statement.startswith(_ESCAPES):
            return statement, True
    return f"# {shown} (its body runs as it is)", True


def _writefile(first: str, body: list[str]) -> list[str] | None:
    """``%%writefile [-a] NAME`` and its body as Python that writes the body to NAME, one line for
    each of the cell's lines (so errors keep their lines): a notebook that writes its model into
    helpers.py and then imports it works as in Jupyter. The file is written where the notebook
    runs (the job's own folder, which it may write anyway). None for any other line, or a
    %%writefile whose arguments IPython would refuse too."""
    found = re.match(r"%%writefile\b(.*)", first)
    if found is None:
        return None
    try:
        words = shlex.split(found.group(1))
    except ValueError:  # an unclosed quote
        return None
    flags = [word for word in words if word.startswith("-")]
    names = [word for word in words if not word.startswith("-")]
    if len(names) != 1 or any(flag not in ("-a", "--append") for flag in flags):
        return None
    opened = f"__import__('builtins').open({names[0]!r}, {'a' if flags else 'w'!r}, encoding='utf-8')"
    if not body:
        return [f"{opened}.write('')  # {first.strip()}"]
    opening = f"{opened}.write(''.join((  # {first.strip()}"
    shown = [f"    {line + ('' if i == len(body) - 1 else chr(10))!r}," for i, line in enumerate(body)]
    shown[-1] += ")))"
    return [opening, *shown]


def _automagic_name(text: str) -> str | None:
    """The line magic that a cell calls without its ``%`` (``pip install keras``), as IPython runs
    it with automagic on (its default): only in a cell of one line (after leading blank lines;
    lines as ``str.splitlines`` counts them, as IPython does), whose first word is a magic's name,
    unless an ``=`` or ``,`` follows (an assignment). None for any other cell."""
    stripped = text.lstrip()
    found = _LINE_BREAK.search(stripped)
    if found is not None:  # one line only if nothing follows its end (not even an empty line)
        end = found.end() + (stripped.startswith("\n", found.end()) if found.group() == "\r" else 0)
        if end < len(stripped):
            return None
        stripped = stripped[:found.start()]
    name, rest = _IFUN.match(stripped.strip()).groups()
    if name not in _LINE_MAGICS or rest.lstrip()[:1] in ("=", ","):  # `ls = 5`: an assignment, Python
        return None
    return name


def _automagic_cells(cells: list[tuple[int, str]]) -> set[int]:
    """The cells that call a line magic without its ``%`` (`_automagic_name`) where IPython would:
    unless the notebook binds a variable of that name (IPython leaves a name of the user's to
    Python): assigned, imported, defined or looped over anywhere in its code."""
    called = {number: name for number, text in cells if (name := _automagic_name(text)) is not None}
    if not called:
        return set()
    bound: set[str] = set()
    for _, text in cells:
        for match in _BINDING.finditer(text):
            bound.add(next(group for group in match.groups() if group))
    return {number for number, name in called.items() if name not in bound}


def _convert_cell(number: int, text: str, automagic: bool = False) -> tuple[str, list[str]]:
    """One code cell as script lines headed by a comment naming it, and its ``from __future__``
    imports (see `_convert_lines`); with `automagic`, its one line is a line magic written
    without its ``%`` (`_automagic_cells`)."""
    lines = _dedent_cell(_split_lines(text))
    if automagic:
        lines = ["%" + line.strip() if line.strip() else line for line in lines]
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].startswith("%%"):
        body, hoisted = _convert_lines(lines)
        return "\n".join([f"# cell {number}", *body]), hoisted
    written = _writefile(lines[first], lines[first + 1:])
    if written is not None:
        return "\n".join([f"# cell {number}", *lines[:first], *written]), []
    replacement, keep = _cell_magic(lines[first])
    if not keep:
        return f"# cell {number}: skipped ({replacement})", []
    body, hoisted = _convert_lines(lines[first + 1 :])
    return "\n".join([f"# cell {number}", *lines[:first], replacement, *body]), hoisted


class OtherLanguage(ValueError):
    """A readable notebook whose kernel runs another language than Python (R, Julia...)."""


def _language(notebook: Any) -> str | None:
    """The language a notebook's metadata names for its kernel, when it names one other than
    Python; None for Python, or when it names none (a notebook without metadata is read as Python)."""
    metadata = notebook.get("metadata") if isinstance(notebook, dict) else None
    if not isinstance(metadata, dict):
        return None
    for section, key in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(section).get(key) if isinstance(metadata.get(section), dict) else None
        if isinstance(value, str) and value.strip():
            return None if value.strip().lower() in ("python", "python3", "ipython", "ipython3") else value.strip()
    return None


def _code_of(cell: dict[str, Any], key: str, number: int) -> str:
    """The code of a code cell, stored under `key` as text or as a list of lines."""
    source = cell.get(key, "")
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    raise ValueError(f"cell {number}'s `{key}` is neither text nor a list of lines")


def _code_cells(notebook: Any) -> list[tuple[int, str]]:
    """The number and code of each code cell, in order. nbformat 4 keeps the cells in `cells`,
    code in `source`; nbformat 3 (and 2) in each of `worksheets`' `cells`, code in `input`
    (Jupyter reads every worksheet, in order). Raises `ValueError` for any other shape."""
    if not isinstance(notebook, dict):
        raise ValueError(f"its JSON is {type(notebook).__name__}, not a notebook object")
    if "cells" in notebook:
        cells, key = notebook["cells"], "source"
        if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
            raise ValueError("its `cells` is not a list of cells")
    elif "worksheets" in notebook:
        sheets, key = notebook["worksheets"], "input"
        if not isinstance(sheets, list) or not all(isinstance(s, dict) and isinstance(s.get("cells", []), list)
                                                   for s in sheets):
            raise ValueError("its `worksheets` is not a list of worksheets with cells")
        cells = [cell for sheet in sheets for cell in sheet.get("cells", [])]
        if not all(isinstance(c, dict) for c in cells):
            raise ValueError("a worksheet's `cells` is not a list of cells")
    else:
        raise ValueError("it has neither `cells` (nbformat 4) nor `worksheets` (nbformat 3)")
    return [(number, _code_of(cell, key, number)) for number, cell in enumerate(cells, start=1)
            if cell.get("cell_type") == "code"]


def _check_code_size(texts: list[str]) -> None:
    """Raise `ValueError` when the code cells `texts` would take the line scan more than
    `_MAX_CODE_STEPS` steps (counted at C speed, before any scan)."""
    steps = sum(text.count(char) for text in texts for char in "\n#'\"=()[]{}")
    if steps > _MAX_CODE_STEPS:
        raise ValueError(f"its code cells are too long to read ({steps:,} lines, brackets, quotes and equal "
                         f"signs; at most {_MAX_CODE_STEPS:,})")


def notebook_script(notebook: Any) -> str:
    """A parsed notebook's code cells as one script that runs as the notebook does in Jupyter.

    Each cell is headed by a comment naming it and keeps one line for each of its lines, so an
    error's line can be found in the notebook. IPython syntax becomes Python that runs no shell
    (`_ipython_line`); a cell magic that only wraps Python (``%%time``, ``%%capture``...) keeps
    its body, ``%%writefile`` writes its body to the file it names, any other (``%%bash``,
    ``%%timeit``...) skips its cell. ``from
    __future__`` imports go first, then Jupyter's builtin `display()`, as a no-op. The first
    line is a comment listing where each cell is (`CELL_TABLE`, read by `cell_table`): imported
    as a module the script runs all at once; the build job runs it a cell at a time. Raises
    `ValueError` for anything that is not a notebook.
    """
    language = _language(notebook)
    if language is not None:
        raise OtherLanguage(f"its kernel runs {clean_text(language[:40], keep_newlines=False)}, not Python")
    cells = _code_cells(notebook)
    _check_code_size([text for _, text in cells])
    parts: list[tuple[int, str]] = []
    hoisted: list[str] = []
    automagic = _automagic_cells(cells)
    for number, text in cells:
        part, future = _convert_cell(number, text, number in automagic)
        parts.append((number, part))
        hoisted += future
    head = "\n".join(hoisted) + "\n" if hoisted else ""
    head += _NOTEBOOK_PRELUDE + "\n"
    line = 2 + head.count("\n")  # the first line is the cell table below
    spans: list[str] = []
    for number, part in parts:
        last = line + part.count("\n")
        spans.append(f"{number}:{line}-{last}")
        line = last + 2  # a blank line between cells
    table = CELL_TABLE + " ".join(spans) + "\n"
    return table + head + "\n\n".join(part for _, part in parts) + "\n"


def cell_table(first_line: str) -> list[tuple[int, int, int]] | None:
    """The cells of a script `notebook_script` wrote, from its first line: (cell number, first
    line, last line) for each, in order; None for a script that is no converted notebook."""
    if not first_line.startswith(CELL_TABLE):
        return None
    cells = []
    for entry in first_line[len(CELL_TABLE):].split():
        found = re.fullmatch(r"(\d{1,9}):(\d{1,9})-(\d{1,9})", entry)
        if found is None:
            return None
        cells.append((int(found.group(1)), int(found.group(2)), int(found.group(3))))
    return cells


def notebook_source(path: Path) -> str:
    """The code cells of the notebook at `path` as one script (see `notebook_script`). Raises
    `ValueError` for anything that is not a notebook (any JSON at all, however deep)."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError("its JSON is nested too deeply") from None
    return notebook_script(notebook)
