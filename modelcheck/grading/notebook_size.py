"""A notebook over the size of one file, measured without its outputs (`without_outputs`), which
grading never reads: plots, images and widget state are emptied, unparsed, before the notebook is
parsed. The notebook is a student file, so the scan is bounded (`_MAX_JSON_EVENTS`), and anything
that is not JSON is a `ValueError`.
"""

from __future__ import annotations

import re

__all__ = ["NOTEBOOK_SIZE_HINT", "without_outputs"]


# Keys whose values grading never reads and that hold a notebook's bulk (plots, images, widget
# state): emptied, unparsed, before the notebook is parsed.
_UNUSED_KEYS = (b'"outputs"', b'"attachments"', b'"metadata"')
_JSON_STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
# a JSON token: (1) a string, (2) an opening bracket, (3) a closing one, (4) , or :, (5) anything else
_JSON_TOKEN = re.compile(rb'[ \t\n\r]*+(?:(%s)|([\[{])|([\]}])|([,:])|([^ \t\n\r\[\]{},:"]++))' % _JSON_STRING,
                         re.DOTALL)
_TO_BRACKET = re.compile(rb'[^"\[\]{}]*+(?:%s[^"\[\]{}]*+)*+' % _JSON_STRING, re.DOTALL)
_MAX_JSON_EVENTS = 5_000_000  # tokens and skipped brackets: a few seconds at most
NOTEBOOK_SIZE_HINT = "clear the notebook's outputs (Kernel > Restart & Clear Output) and resubmit"


def _skip_container(data: bytes, pos: int, events: int) -> tuple[int, int]:
    """The position just past the container whose opening bracket ends at `pos`, found by
    counting brackets outside strings (nothing parsed, no recursion), and the events count."""
    depth = 1
    while depth:
        pos = _TO_BRACKET.match(data, pos).end()  # type: ignore[union-attr]  (it matches "" at least)
        if pos >= len(data) or data[pos] not in b"[]{}":
            raise ValueError(f"its JSON is broken at byte {pos}")
        depth += 1 if data[pos] in b"[{" else -1
        pos += 1
        events += 1
        if events > _MAX_JSON_EVENTS:
            raise ValueError("its JSON holds too many items to read")
    return pos, events


def without_outputs(data: bytes) -> bytes:
    """`data`, a notebook's JSON, with the value of every `outputs`, `attachments` and `metadata`
    key emptied (``[]``/``{}``) without being parsed: one pass, an explicit stack, at most
    `_MAX_JSON_EVENTS` tokens; the rest is copied as it is, for `json` to parse and judge.
    Raises `ValueError` where the JSON is broken."""
    kept: list[bytes] = []
    stack: list[bytes] = []
    copied = pos = events = 0
    previous, key = b"", b""
    while (match := _JSON_TOKEN.match(data, pos)) is not None:
        events += 1
        if events > _MAX_JSON_EVENTS:
            raise ValueError("its JSON holds too many items to read")
        kind = match.lastindex or 0
        pos, token = match.end(), match.group(kind)
        if kind == 1 and stack[-1:] == [b"{"] and previous in (b"{", b","):
            previous, key = b"key", token
            continue
        if kind == 2 and previous == b":" and key in _UNUSED_KEYS:
            start = match.start(kind)
            pos, events = _skip_container(data, pos, events)
            kept += [data[copied:start], b"{}" if token == b"{" else b"[]"]
            copied, previous, key = pos, b"", b""
            continue
        if kind == 2:
            stack.append(token)
        elif kind == 3:
            if not stack:
                raise ValueError(f"its JSON is broken at byte {match.start(kind)}")
            stack.pop()
        if token != b":":
            key = b""
        previous = token if kind in (2, 4) else b""
    if data[pos:].strip():
        raise ValueError(f"its JSON is broken at byte {pos}")
    return b"".join([*kept, data[copied:]])
