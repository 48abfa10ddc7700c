"""The one gate for data that crosses from a job's processes to the grader.

A job's report (the JSON on its result pipe) is written by a process that may have run a
student's code, so it is untrusted: it may be cut short, nested ten thousand levels deep, hold
text that is not valid Unicode, or have any shape at all. `parse_report` decodes it within
explicit bounds (size, nesting depth, UTF-8) and checks it against the schema of its kind of
job; whatever does not fit is a `ReportError` whose message the student reads. Text is also
cleaned for display (`clean_text`) wherever it is shown. No Keras import here.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

from ..core.result import STATUSES

__all__ = ["ReportError", "parse_report", "clean_text", "terminal_text", "printed_text", "display_name",
           "MAX_REPORT_BYTES"]

MAX_REPORT_BYTES = 8 * 2**20
MAX_DEPTH = 12
_TEXT = 20_000  # characters in one message
_SHORT = 500
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class ReportError(ValueError):
    """A job's report does not fit its schema; the message says where and how, in plain words."""


def clean_text(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with lone surrogates replaced (so it encodes as UTF-8 everywhere) and terminal
    control characters (escape sequences, bidi overrides, NUL) shown as ``\\xNN``."""
    text = _SURROGATES.sub("\ufffd", text)
    pattern = _CONTROL if keep_newlines else re.compile(_CONTROL.pattern[:-1] + r"\t\n\r]")

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return pattern.sub(escape, text)


# colours and cursor moves (CSI sequences): Keras' progress bar, rich, tqdm
_CSI = re.compile(r"\x1b\[[0-?]*+[ -/]*+[@-~]")


def terminal_text(text: str) -> str:
    """`text` as a terminal shows it: colour and cursor codes left out, and each line as its
    carriage returns and backspaces leave it (Keras' progress bar redraws one line hundreds of
    times with them; escaped by `clean_text`, they would bury what was printed)."""
    return "\n".join(_drawn(line) for line in _CSI.sub("", text).split("\n"))


def printed_text(raw: bytes) -> str:
    """What a job printed (`raw`, its bytes as kept), as text safe to show: as a terminal showed
    it (`terminal_text`), then with any other control character escaped (`clean_text`)."""
    return clean_text(terminal_text(raw.decode("utf-8", "replace")))


def _drawn(line: str) -> str:
    if "\r" not in line and "\b" not in line:
        return line
    shown: list[str] = []
    cursor = 0
    for char in line:
        if char == "\r":
            cursor = 0
        elif char == "\b":
            cursor = max(cursor - 1, 0)
        else:
            shown[cursor:cursor + 1] = [char]
            cursor += 1
    return "".join(shown)


def display_name(name: str) -> str:
    """A file name as a student id people can read: bytes that are not UTF-8 (kept by Python
    as surrogate escapes) shown as ``\\xNN``, control characters escaped, one line."""
    raw = name.encode("utf-8", "surrogateescape")
    return clean_text(raw.decode("utf-8", "backslashreplace"), keep_newlines=False)


# -- the schema language: a validator takes (value, where) and returns the cleaned value -------

Validator = Callable[[Any, str], Any]


def _fail(where: str, wanted: str, value: Any) -> ReportError:
    kind = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)
    return ReportError(f"`{where}` should be {wanted}, but the report holds {kind}")


def text(limit: int = _TEXT) -> Validator:
    def check(value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise _fail(where, "text", value)
        if len(value) > limit:
            value = value[:limit] + " [...]"
        return _SURROGATES.sub("\ufffd", value)
    return check


def integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**63:
        raise _fail(where, "a whole number", value)
    return value


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, "a number", value)
    return float(value)


def boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, "true or false", value)
    return value


def optional(inner: Validator) -> Validator:
    return lambda value, where: None if value is None else inner(value, where)


def one_of(*choices: str) -> Validator:
    def check(value: Any, where: str) -> str:
        if value not in choices:
            raise ReportError(f"`{where}` should be one of {', '.join(choices)}")
        return value
    return check


def listing(item: Validator, limit: int = 1000) -> Validator:
    def check(value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise _fail(where, "a list", value)
        if len(value) > limit:
            raise ReportError(f"`{where}` holds {len(value):,} entries; at most {limit:,} are allowed")
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return check


def record(fields: dict[str, Validator], required: tuple[str, ...] = ()) -> Validator:
    """An object with only the keys of `fields` (each optional unless in `required`)."""
    def check(value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        unknown = [k for k in value if k not in fields]
        if unknown:
            raise ReportError(f"`{where}` holds an unexpected key {clean_text(str(unknown[0]))[:80]!r}")
        for key in required:
            if key not in value:
                raise ReportError(f"`{where}` lacks `{key}`")
        return {k: fields[k](v, f"{where}.{k}") for k, v in value.items()}
    return check


def plain_data(depth: int = 6, limit: int = 10_000) -> Validator:
    """Any JSON value (numbers, text, lists, objects) within `depth` levels and `limit` entries
    per container; non-finite numbers become text (JSON has no NaN)."""
    def check(value: Any, where: str, level: int = 0) -> Any:
        if level > depth:
            raise ReportError(f"`{where}` is nested more than {depth} levels deep")
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, str):
            return text()(value, where)
        if isinstance(value, (list, dict)) and len(value) > limit:
            raise ReportError(f"`{where}` holds {len(value):,} entries; at most {limit:,} are allowed")
        if isinstance(value, list):
            return [check(v, f"{where}[{i}]", level + 1) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {text(_SHORT)(k, where): check(v, f"{where}.{k}", level + 1) for k, v in value.items()}
        raise _fail(where, "plain data", value)
    return lambda value, where: check(value, where)


def mapping(value: Any, where: str) -> dict[str, Any]:
    """An object of plain data (a result's ``details``)."""
    if not isinstance(value, dict):
        raise _fail(where, "an object", value)
    return plain_data()(value, where)


CHECK_RESULT = record({
    "check": text(_SHORT), "status": one_of(*STATUSES), "message": text(), "expected": plain_data(),
    "received": plain_data(), "details": mapping, "hint": optional(text()),
    "model": optional(text(_SHORT)), "duration_s": number,
}, required=("check", "status", "message"))
LAYER_ROW = record({
    "name": text(_SHORT), "class_name": optional(text(_SHORT)), "output_shape": plain_data(3),
    "params": optional(integer), "trainable_params": optional(integer), "trainable": optional(boolean),
    "expected_output_shape": plain_data(3), "expected_params": optional(integer), "note": optional(text(_SHORT)),
}, required=("name",))
_COMMON = {"confinement": listing(text(_SHORT), 50), "layers": listing(LAYER_ROW, 5000),
           "layers_problem": text(_SHORT * 2)}
BUILD_REPORT = record({
    **_COMMON,
    "error": record({"message": text(), "hint": optional(text()),
                     "location": optional(listing(plain_data(0), 3))}, required=("message",)),
    "total_params": integer, "exported": boolean, "export_problem": text(_SHORT * 2),
    "weights_problem": text(_SHORT * 2), "measured": listing(CHECK_RESULT, 100),
    "cell_notes": listing(text(_SHORT * 2), 25), "twin_problem": text(_SHORT * 2),
    "not_reproduced": listing(record({"reason": text(_SHORT), "affects": one_of("loss", "step", "optimizer"),
                                      "fix": one_of("code", "training")}, required=("reason", "affects")), 10),
})
CHECK_REPORT = record({
    **_COMMON, "nonce": text(64), "static": record({"total_params": integer}, required=("total_params",)),
    "load_error": text(_SHORT * 2), "results": listing(CHECK_RESULT, 100),
}, required=("nonce",))
SCHEMAS = {"build": BUILD_REPORT, "check": CHECK_REPORT}


def _depth_ok(raw: bytes, limit: int) -> bool:
    """True when the JSON text nests at most `limit` levels (strings skipped), checked before
    parsing so a deep document cannot exhaust the parser's recursion."""
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def parse_report(raw: bytes, kind: str) -> dict[str, Any]:
    """Decode and validate a job's report; raise `ReportError` (plain words) when it does not fit."""
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportError(f"the report is larger than {MAX_REPORT_BYTES >> 20} MB")
    if not raw.strip():
        raise ReportError("the process reported no result")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"the report is not valid UTF-8 (byte {exc.start})") from None
    if not _depth_ok(raw, MAX_DEPTH):
        raise ReportError(f"the report is nested more than {MAX_DEPTH} levels deep")
    try:
        data = json.loads(decoded)
    except (ValueError, RecursionError) as exc:
        raise ReportError(f"the report is not readable JSON ({clean_text(str(exc))[:120]})") from None
    return SCHEMAS[kind](data, "report")
