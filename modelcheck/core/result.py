"""The one result type every check returns.

A `CheckResult` is plain data: it can be turned into JSON (for pytest-xdist workers,
the grading sandbox and the HTML report) and back without importing Keras.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CheckResult", "CheckFailed", "PASSED", "FAILED", "ERROR", "SKIPPED", "STATUSES"]

PASSED = "passed"
FAILED = "failed"
ERROR = "error"  # the user's code (builder, layer, compile) raised or returned nonsense
SKIPPED = "skipped"  # the check does not apply to this model
STATUSES = (PASSED, FAILED, ERROR, SKIPPED)


class CheckFailed(AssertionError):
    """Raised by `CheckResult.assert_passed()`; its text is the check's message."""

    def __init__(self, result: "CheckResult") -> None:
        super().__init__(result.describe())
        self.result = result


def _jsonable(value: Any) -> Any:
    """Turn tuples, numpy scalars/arrays and non-finite floats into JSON-safe values."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _jsonable(value.tolist())
    return repr(value)


# How deep `expected`, `received` and `details` may nest once JSON-able: a report's reader (the
# grading schema) refuses deeper data, and a whole report would be lost for one check's value.
MAX_NESTING = 6


def _bounded(value: Any, room: int = MAX_NESTING) -> Any:
    """`value` (JSON-able) with every list or dict nested deeper than `room` levels written as
    short JSON text, so that no check's figures nest beyond `MAX_NESTING`."""
    if not isinstance(value, (list, dict)):
        return value
    if room <= 0:
        text = json.dumps(value, sort_keys=True, default=str)
        return text if len(text) <= 200 else text[:199] + "\u2026"
    if isinstance(value, dict):
        return {k: _bounded(v, room - 1) for k, v in value.items()}
    return [_bounded(v, room - 1) for v in value]


@dataclass
class CheckResult:
    """The verdict of one check on one model.

    Attributes:
        check: the check's short name, e.g. ``"param_count"``.
        status: one of ``"passed"``, ``"failed"``, ``"error"``, ``"skipped"``.
        message: one readable line: what was expected, what was received, and where.
        expected: the expectation (shape, count, threshold...), JSON-able.
        received: what the model gave, JSON-able.
        details: the numbers a report draws (``loss_history``, ``grad_norms`` per layer...).
        hint: for errors in the user's code, how to fix it.
        model: the id of the model checked, when known.
        duration_s: wall time of the check.
    """

    check: str
    status: str
    message: str
    expected: Any = None
    received: Any = None
    details: dict[str, Any] = field(default_factory=dict)
    hint: str | None = None
    model: str | None = None
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; received status={self.status!r}")

    @property
    def passed(self) -> bool:
        """True only when the check ran and its expectation held."""
        return self.status == PASSED

    def __bool__(self) -> bool:
        return self.passed

    def describe(self) -> str:
        """The message, followed by the hint when there is one."""
        text = self.message
        if self.hint:
            text += f"\nHint: {self.hint}"
        return text

    def assert_passed(self) -> "CheckResult":
        """Raise `CheckFailed` (an AssertionError) unless the check passed or was skipped."""
        if self.status in (FAILED, ERROR):
            raise CheckFailed(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; `from_dict` reverses it (values nested deeper than `MAX_NESTING`
        levels come back as JSON text)."""
        data = asdict(self)
        data["expected"] = _bounded(_jsonable(self.expected))
        data["received"] = _bounded(_jsonable(self.received))
        data["details"] = _bounded(_jsonable(self.details))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckResult":
        """Rebuild a result from `to_dict` output (unknown keys are an error)."""
        return cls(**data)

    # Constructors used by the checks, so every check words its verdicts the same way.
    @classmethod
    def ok(cls, check: str, message: str, **kwargs: Any) -> "CheckResult":
        return cls(check=check, status=PASSED, message=message, **kwargs)

    @classmethod
    def fail(cls, check: str, message: str, **kwargs: Any) -> "CheckResult":
        return cls(check=check, status=FAILED, message=message, **kwargs)

    @classmethod
    def error(cls, check: str, message: str, **kwargs: Any) -> "CheckResult":
        return cls(check=check, status=ERROR, message=message, **kwargs)

    @classmethod
    def skip(cls, check: str, message: str, **kwargs: Any) -> "CheckResult":
        return cls(check=check, status=SKIPPED, message=message, **kwargs)
