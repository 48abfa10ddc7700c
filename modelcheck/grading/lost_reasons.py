"""The sentences a build job may send about what a submission's saved file does not keep of how
its model trains (`modelcheck.grading.fidelity.not_reproduced`), and the grader's test of each.

The build job runs the student's code, so its report is the student's text: a forged entry would
turn a failed verdict into "not judged: your model trains with <any words>", a sentence of the
grader's asking the instructor to review. Only the sentences `not_reproduced` writes, with names
and plain literals in their places, are taken; the one free text, the error of compile settings
or an optimizer that do not load, is the student's process's report and is shown as such: within
double quotes it cannot close (`quoted`), after "as your code's process reported".
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["CALL_PATH", "accepted", "literal", "quoted", "reported"]

CALL_PATH = ("a call() that takes another path when training (training=True) than in the saved "
             "inference graph")

_NAME = r"(?:[^\W\d]\w{0,99}|<lambda>)"  # a Python name (a class's, a function's, a loss's)
# a setting's value: a number, a name, a short plain string, a tuple or list of those, or only
# the type of anything else (whose repr is the student's own code)
_ATOM = r"(?:[-+\w.]{1,40}|'[\w.+-]{0,40}')"
_LITERAL = rf"(?:{_ATOM}|[(\[](?:{_ATOM}(?:, {_ATOM}){{0,7}},?)?[)\]]|a value of type {_NAME})"
# what may stand between the quotes: no quote of any kind, no line break or control character, no
# bidirectional override or mark (which shows later text before the closing quote)
_UNSAFE = "\"\u201c\u201d\u201e\u201f\uff02\u00ab\u00bb\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\x00-\x1f\x7f-\x9f"
_MAX_REPORTED = 240
_REPORTED = rf'as your code\'s process reported: "[^{_UNSAFE}]{{1,{_MAX_REPORTED}}}"'
# (the sentence, what it affects, how a student keeps it)
_SENTENCES = [(re.compile(pattern), affects, fix) for pattern, affects, fix in (
    (r"its own (?:train_step|test_step)\(\)", "step", "training"),
    (r"its own compute_loss\(\)", "loss", "training"),
    (re.escape(CALL_PATH), "step", "training"),
    (rf"a loss (?:class|function) of your own, {_NAME}", "loss", "code"),
    (rf"an optimizer class of your own, {_NAME}", "optimizer", "code"),
    (rf"a learning-rate schedule of your own, {_NAME}", "optimizer", "code"),
    (rf"compile settings the grader cannot load \({_REPORTED}\)", "loss", "code"),
    (rf"an optimizer the grader cannot load \({_REPORTED}\)", "optimizer", "code"),
    (rf"the loss {_NAME} with {_NAME}={_LITERAL}, which its saved form loses \({_NAME}={_LITERAL} there\)",
     "loss", "code"),
)]
_UNSAFE_CHARS = re.compile(f"[{_UNSAFE}]")
_LITERAL_RE = re.compile(_LITERAL)


def quoted(text: str, limit: int = _MAX_REPORTED) -> str:
    """`text` (the student's process's) within double quotes it cannot close: its first line, any
    quote, control character or bidirectional override made plain, capped at `limit` characters."""
    line = (text.strip().splitlines() or ["(no message)"])[0].strip().replace("\t", " ")
    line = _UNSAFE_CHARS.sub("'", line) or "(no message)"
    if len(line) > limit:
        line = line[:limit - 3] + "..."
    return f'"{line}"'


def reported(error: str, limit: int = _MAX_REPORTED) -> str:
    """`error` (an exception's text, from the student's process) as `not_reproduced` puts it in a
    sentence (and grade.py a notebook's note): `quoted`, after whose words they are."""
    return f"as your code's process reported: {quoted(error, limit)}"


def literal(value: Any) -> str:
    """A setting's value as `not_reproduced` writes it: its repr when that is a plain literal,
    else only its type (a student's object's repr is any text its code chooses)."""
    shown = repr(value) if isinstance(value, (bool, int, float, str, tuple, list, type(None))) else ""
    if shown and _LITERAL_RE.fullmatch(shown):
        return shown
    name = type(value).__name__
    return f"a value of type {name if re.fullmatch(_NAME, name) else 'object'}"


def accepted(item: Any) -> bool:
    """Whether `item` (one entry of a build report's ``not_reproduced``, already of the schema's
    types) is a sentence `not_reproduced` writes, with the scope and the fix that go with it."""
    if not isinstance(item, dict) or not isinstance(item.get("reason"), str):
        return False
    return any(pattern.fullmatch(item["reason"]) and item.get("affects") == affects and item.get("fix", "code") == fix
               for pattern, affects, fix in _SENTENCES)
