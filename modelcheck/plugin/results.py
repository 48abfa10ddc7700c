"""The run's results, and the one channel that carries them from xdist workers to the controller.

Every part of the plugin puts what the controller needs into one `Results` (check records,
the models a worker collected for the snapshot orphan search, grades). At the end of a worker's
session the plugin sends all of it under one ``workeroutput`` key; the controller's one
``pytest_testnodedown`` hook merges it back. Parts read their rows on the controller, where the
whole run is.
"""

from __future__ import annotations

from typing import Any, Iterable

import pytest

from ..core.result import CheckResult

__all__ = ["Results", "RESULTS_KEY", "WORKEROUTPUT_KEY"]

WORKEROUTPUT_KEY = "modelcheck"


class Results:
    """Every check result of the run, as JSON-able records, plus named rows of the other parts.

    A record is ``{"nodeid", "model", "source", "known_fault", "result": CheckResult.to_dict()}``
    plus any extra keys the caller gives (e.g. ``expected_total_params`` for the report).
    A part's rows (``add_rows("grades", [...])``) are JSON-able values the part reads back with
    `rows` once the run's results are merged.
    """

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._rows: dict[str, list[Any]] = {}

    def add(self, nodeid: str, result: CheckResult, *, source: str | None = None,
            known_fault: str | None = None, **extra: Any) -> None:
        """Record `result` for the test `nodeid`; `extra` (JSON-able) is kept in the record."""
        self.records.append({
            "nodeid": nodeid,
            "model": result.model,
            "source": source,
            "known_fault": known_fault,
            "result": result.to_dict(),
            **extra,
        })

    def add_rows(self, part: str, rows: Iterable[Any]) -> None:
        """Keep JSON-able `rows` of the plugin part `part` (e.g. ``"grades"``) for the controller."""
        self._rows.setdefault(part, []).extend(rows)

    def rows(self, part: str) -> list[Any]:
        """The rows of `part` from this process and every worker merged so far."""
        return list(self._rows.get(part, []))

    def results(self) -> list[CheckResult]:
        """The records as `CheckResult` objects."""
        return [CheckResult.from_dict(record["result"]) for record in self.records]

    def counts_by_check(self, *, known_fault_status: str | None = None) -> dict[str, dict[str, int]]:
        """``{check: {status: count}}`` in the order checks first appear; with `known_fault_status`,
        failures and errors of known-fault models are counted under that status instead."""
        counts: dict[str, dict[str, int]] = {}
        for record in self.records:
            result = record["result"]
            status = result["status"]
            if known_fault_status and record.get("known_fault") and status in ("failed", "error"):
                status = known_fault_status
            per_status = counts.setdefault(result["check"], {})
            per_status[status] = per_status.get(status, 0) + 1
        return counts

    def to_wire(self) -> dict[str, Any]:
        """Everything this process holds, for ``workeroutput`` (execnet sends plain values)."""
        return {"records": self.records, "rows": self._rows}

    def merge(self, wire: Any) -> None:
        """Merge what a worker sent with `to_wire`; anything else is ignored."""
        if not isinstance(wire, dict):
            return
        records = wire.get("records")
        if isinstance(records, list):
            self.records.extend(r for r in records if isinstance(r, dict) and isinstance(r.get("result"), dict))
        rows = wire.get("rows")
        if isinstance(rows, dict):
            for part, values in rows.items():
                if isinstance(part, str) and isinstance(values, list):
                    self.add_rows(part, values)


RESULTS_KEY = pytest.StashKey[Results]()
