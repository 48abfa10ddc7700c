"""What a report shows, as plain JSON-able data.

A pytest-xdist worker (or a grading sandbox) builds `ModelEntry` objects, sends
``entry.to_dict()`` to the controller, and the controller merges them into one `Run` and
renders it once. Nothing here imports Keras, TensorFlow or Jinja2.
"""

from __future__ import annotations

import datetime as _dt
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any, Iterable, Mapping

from ..core import registry
from ..core.environment import BACKEND_PACKAGES, keras_backend
from ..core.result import CheckResult, _jsonable

__all__ = ["LayerRow", "ModelEntry", "Run", "collect_versions", "entries_from_records", "merge_entries"]


@dataclass
class LayerRow:
    """One row of the layer table, like a line of ``model.summary()``.

    Attributes:
        name: the layer's name (from user code: never trusted as HTML).
        class_name: the layer's class, e.g. ``"Dense"``; ``None`` for a layer the spec
            expects but the model lacks.
        output_shape: with the batch dimension, e.g. ``[None, 300]``; a list of shapes for a
            layer with several outputs; ``None`` when unknown (subclassed models).
        params: number of weights of the layer.
        trainable_params: how many of them are trainable.
        trainable: the layer's ``trainable`` flag.
        expected_output_shape: set only when it differs from `output_shape`.
        expected_params: set only when it differs from `params`.
        note: a remark such as "missing from the model" or "not in the spec".
    """

    name: str
    class_name: str | None = None
    output_shape: Any = None
    params: int | None = None
    trainable_params: int | None = None
    trainable: bool | None = None
    expected_output_shape: Any = None
    expected_params: int | None = None
    note: str | None = None

    @property
    def mismatch(self) -> bool:
        """True when any figure of the row differs from the spec."""
        return (
            self.expected_output_shape is not None
            or self.expected_params is not None
            or self.note is not None
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; ``LayerRow(**d)`` reverses it."""
        return _jsonable(asdict(self))


def _as_result(value: CheckResult | Mapping[str, Any]) -> CheckResult:
    return value if isinstance(value, CheckResult) else CheckResult.from_dict(dict(value))


def _as_row(value: LayerRow | Mapping[str, Any]) -> LayerRow:
    return value if isinstance(value, LayerRow) else LayerRow(**value)


@dataclass
class ModelEntry:
    """One model (or one student's submission) and the results of its checks.

    Attributes:
        id: the model's id (spec id, or the student's name in grading).
        source: where the model comes from (document and section, spec file, submission).
        known_fault: for a model kept as a document printed it, the erratum; its failures are
            expected and the report says so.
        layers: the layer table (`LayerRow` objects or their dicts; see `layer_rows`).
        results: `CheckResult` objects or their ``to_dict()``; converted on creation.
        expected_total_params: the spec's total parameter count, shown under the layer table.
        score / max_score: points, for grading.
        notes: the grader's remarks for the student (a notebook's cells that did not finish,
            truncated output, measurements that are not verified), for grading.
    """

    id: str
    source: str | None = None
    known_fault: str | None = None
    layers: list[LayerRow] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)
    expected_total_params: int | None = None
    score: float | None = None
    max_score: float | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.layers = [_as_row(row) for row in self.layers]
        self.results = [_as_result(result) for result in self.results]

    @classmethod
    def from_spec(
        cls,
        spec: Any,
        results: Iterable[CheckResult | Mapping[str, Any]] = (),
        model: Any = None,
        **kwargs: Any,
    ) -> "ModelEntry":
        """An entry for a `ModelSpec`; with `model`, the layer table compares it to the spec."""
        layers: list[dict[str, Any]] = []
        if model is not None:
            from .layers import layer_rows

            layers = layer_rows(model, spec)
        fields: dict[str, Any] = {
            "id": spec.id,
            "source": spec.source,
            "known_fault": spec.known_fault,
            "layers": layers,
            "results": list(results),
            "expected_total_params": spec.total_params,
        }
        fields.update(kwargs)
        return cls(**fields)

    @property
    def total_params(self) -> int | None:
        """The sum of the layer table's parameters (``None`` without a layer table)."""
        counted = [row.params for row in self.layers if row.params is not None]
        return sum(counted) if counted else None

    def counts(self) -> dict[str, int]:
        """How many results have each status."""
        return _count(self.results)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; `ModelEntry.from_dict` reverses it."""
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelEntry":
        """Rebuild an entry from `to_dict` output."""
        return cls(**data)


KNOWN_FAULT = "known_fault"  # a failure of a model kept with its documented fault: expected


def _count(results: Iterable[CheckResult]) -> dict[str, int]:
    from ..core.result import STATUSES

    counts = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result.status] += 1
    return counts


def merge_entries(entries: Iterable[ModelEntry | Mapping[str, Any]]) -> list[ModelEntry]:
    """Merge entries that share an id (one per xdist worker) into one per model, sorted by id.

    Results are concatenated and sorted in the catalogue's order of checks (unknown checks
    after, by name); the first non-empty layer table and
    the first value of every other field win.
    """
    merged: dict[str, ModelEntry] = {}
    for item in entries:
        entry = item if isinstance(item, ModelEntry) else ModelEntry.from_dict(item)
        into = merged.get(entry.id)
        if into is None:
            merged[entry.id] = ModelEntry.from_dict(entry.to_dict())
            continue
        into.results.extend(entry.results)
        into.layers = into.layers or entry.layers
        for name in ("source", "known_fault", "expected_total_params", "score", "max_score"):
            if getattr(into, name) is None:
                setattr(into, name, getattr(entry, name))
    order = {name: position for position, name in enumerate(registry.CHECKS)}
    for entry in merged.values():
        entry.results.sort(key=lambda r: (order.get(r.check, len(order)), r.check, r.status, r.message))
    return [merged[key] for key in sorted(merged)]


def entries_from_records(records: Iterable[Mapping[str, Any]]) -> list[ModelEntry]:
    """One entry per model from flat per-check records, merged and sorted by model id.

    A record is ``{"model", "source", "known_fault", "result"}`` (the plugin's format, with
    ``result`` a `CheckResult` or its ``to_dict()``), optionally with ``"layers"`` (from
    `layer_rows`) and ``"expected_total_params"``. The model id falls back on the result's
    ``model`` and then the record's ``"nodeid"``.
    """
    entries = []
    for record in records:
        result = _as_result(record["result"])
        entries.append(ModelEntry(
            id=str(record.get("model") or result.model or record.get("nodeid") or "unnamed model"),
            source=record.get("source"),
            known_fault=record.get("known_fault"),
            layers=list(record.get("layers") or []),
            results=[result],
            expected_total_params=record.get("expected_total_params"),
        ))
    return merge_entries(entries)


def collect_versions() -> dict[str, str]:
    """Versions of modelcheck, Keras, TensorFlow, the Keras backend's framework when it is
    another, and Python, with ``"keras backend"`` (``tensorflow``, ``jax``, ``torch``); read
    without importing them."""
    backend = keras_backend()
    versions: dict[str, str] = {"keras backend": backend}
    packages = ["modelcheck", "keras", "tensorflow"]
    if BACKEND_PACKAGES.get(backend, "tensorflow") != "tensorflow":
        packages.append(BACKEND_PACKAGES[backend])
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["python"] = platform.python_version()
    return versions


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Run:
    """One run of the checks: how it was run, and every model's entry.

    Attributes:
        models: the entries (`ModelEntry` or their dicts); merged by id and sorted on creation.
        when: ISO 8601 time of the run; filled with the current UTC time when left empty.
        versions: package versions; filled by `collect_versions` when left empty.
        seed: the random seed of the run.
        options: the options the run was given (JSON-able).
        command: the command line, e.g. ``"pytest --modelcheck -n 2"``.
        title: the report's title.
    """

    models: list[ModelEntry] = field(default_factory=list)
    when: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    title: str = "modelcheck report"

    def __post_init__(self) -> None:
        self.models = merge_entries(self.models)
        self.when = self.when or _now()
        self.versions = dict(self.versions) or collect_versions()

    def counts(self) -> dict[str, int]:
        """How many results of the whole run have each status; failures and errors of models
        kept as their source printed them count as ``known_fault`` (they are expected), as in
        the terminal summary."""
        counts = _count(result for entry in self.models if not entry.known_fault for result in entry.results)
        counts[KNOWN_FAULT] = 0
        for entry in self.models:
            if entry.known_fault:
                for result in entry.results:
                    key = KNOWN_FAULT if result.status in ("failed", "error") else result.status
                    counts[key] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; `Run.from_dict` reverses it."""
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Run":
        """Rebuild a run from `to_dict` output."""
        return cls(**data)
