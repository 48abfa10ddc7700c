"""The sentences a build job may send about what a submission's saved file does not keep of how
its model trains (`modelcheck.grading.fidelity.not_reproduced`), and the grader's test of each.

The build job runs the student's code, so its report is the student's text: a forged entry would
turn a failed verdict into "not judged: your model trains with <any words>", a sentence of the
grader's asking the instructor to review. Only the sentences `not_reproduced` writes, with names
(and, for settings that do not load, the error's text) in their places, are taken.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["CALL_PATH", "accepted"]

CALL_PATH = ("a call() that takes another path when training (training=True) than in the saved "
             "inference graph")

_NAME = r"(?:[^\W\d]\w{0,99}|<lambda>)"  # a Python name (a class's, a function's, a loss's)
_VALUE = r"[^\n]{1,120}"  # a setting's repr
# (the sentence, what it affects, how a student keeps it)
_SENTENCES = [(re.compile(pattern, re.DOTALL if "load" in pattern else 0), affects, fix)
              for pattern, affects, fix in (
    (r"its own (?:train_step|test_step)\(\)", "step", "training"),
    (r"its own compute_loss\(\)", "loss", "training"),
    (re.escape(CALL_PATH), "step", "training"),
    (rf"a loss (?:class|function) of your own, {_NAME}", "loss", "code"),
    (rf"an optimizer class of your own, {_NAME}", "optimizer", "code"),
    (rf"a learning-rate schedule of your own, {_NAME}", "optimizer", "code"),
    (r"compile settings the grader cannot load \(.{1,400}\)", "loss", "code"),
    (r"an optimizer the grader cannot load \(.{1,400}\)", "optimizer", "code"),
    (rf"the loss {_NAME} with {_NAME}={_VALUE}, which its saved form loses \({_NAME}={_VALUE} there\)", "loss",
     "code"),
)]


def accepted(item: Any) -> bool:
    """Whether `item` (one entry of a build report's ``not_reproduced``, already of the schema's
    types) is a sentence `not_reproduced` writes, with the scope and the fix that go with it."""
    if not isinstance(item, dict) or not isinstance(item.get("reason"), str):
        return False
    return any(pattern.fullmatch(item["reason"]) and item.get("affects") == affects and item.get("fix", "code") == fix
               for pattern, affects, fix in _SENTENCES)
