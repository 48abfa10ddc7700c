"""Spec files: ``modelcheck.toml`` and ``[tool.modelcheck]`` in pyproject.toml.

Both hold the same ``[[model]]`` tables (the format is a contract; see the README)::

    [[model]]
    builder = "mypkg.models:build_classifier"   # imported relative to this file's folder
    input_shape = [28, 28]                      # per sample, no batch dimension
    output_shape = [10]
    total_params = 266610

Every mistake is a `SpecError` that names the file, the key, the value received and the fix.
This module does not import Keras (the user's builder module may).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Iterable

from ...core.errors import SpecError, UserCodeError
from ...core.registry import CHECK_NAMES
from ...core.spec import ModelSpec, import_builder, spec_from_mapping
from ..nodes import ModelCollector
from .source_file import ModelSourceFile

__all__ = ["SPEC_FILE_NAME", "SpecFile", "is_spec_file", "load_spec_file", "specs_from_document"]

SPEC_FILE_NAME = "modelcheck.toml"


def is_spec_file(path: Path) -> bool:
    """True for ``modelcheck.toml``, and for a pyproject.toml that has ``[tool.modelcheck]``."""
    if path.name == SPEC_FILE_NAME:
        return True
    if path.name != "pyproject.toml":
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    # A cheap look before parsing: most pyproject.toml files have no such table.
    return "tool.modelcheck" in text or "[tool]" in text and "modelcheck" in text


def _read_toml(path: Path, where: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{where}: not valid TOML ({exc}); fix the syntax at that line") from None


def specs_from_document(document: Any, *, where: str, resolve_from: Path | None = None) -> list[ModelSpec]:
    """The specs of a parsed spec document (``{"model": [table, ...]}``).

    `where` names the place for messages, e.g. ``"pyproject.toml [tool.modelcheck]"``. With
    `resolve_from`, each builder is imported relative to that folder now, so that a builder that
    cannot be found is reported at collection time; an exception raised *inside* the user's
    module is left for the check items to report as the user's error.
    """
    if not isinstance(document, dict):
        raise SpecError(f"{where}: expected a table with [[model]] entries, received {document!r}")
    unknown = [key for key in document if key != "model"]
    if unknown:
        raise SpecError(
            f"{where}: unknown key {unknown[0]!r} = {document[unknown[0]]!r}; a spec file holds only "
            "[[model]] tables (write `[[model]]` above each model's keys)"
        )
    tables = document.get("model", [])
    if isinstance(tables, dict):
        raise SpecError(f"{where}: `model` is a single table; write `[[model]]` (two brackets) for each model")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SpecError(f"{where}: `model` must be a list of [[model]] tables, received {tables!r}")
    specs: list[ModelSpec] = []
    seen: dict[str, int] = {}
    for number, table in enumerate(tables, start=1):
        place = f"{where} [[model]] #{number}"
        spec = spec_from_mapping(table, where=place, known_checks=CHECK_NAMES)
        if spec.id in seen:
            raise SpecError(
                f"{place}: id {spec.id!r} is already used by [[model]] #{seen[spec.id]}; "
                f"give each model its own `id = \"...\"`"
            )
        seen[spec.id] = number
        if resolve_from is not None:
            spec = _resolve(spec, resolve_from, place)
        specs.append(spec)
    return specs


def _resolve(spec: ModelSpec, base_dir: Path, place: str) -> ModelSpec:
    try:
        builder = import_builder(str(spec.builder), base_dir=base_dir, where=place)
    except UserCodeError:
        return spec  # the items run it again and show the user's error with its hint
    return spec.replace(builder=builder)


def load_spec_file(path: Path, *, resolve: bool = True, display: str | None = None) -> list[ModelSpec]:
    """The specs in a ``modelcheck.toml`` or in pyproject.toml's ``[tool.modelcheck]``.

    A pyproject.toml without ``[tool.modelcheck]`` holds no specs. Builders are imported
    relative to the file's folder when `resolve` is true. `display` is the file's name in
    messages (default: the path).
    """
    where = display or str(path)
    document = _read_toml(path, where)
    if path.name == "pyproject.toml":
        tool = document.get("tool", {})
        if "modelcheck" not in tool:
            return []
        document = tool["modelcheck"]
        where = f"{where} [tool.modelcheck]"
    return specs_from_document(document, where=where, resolve_from=path.parent if resolve else None)


class SpecFile(ModelSourceFile):
    """``modelcheck.toml``, or a pyproject.toml with ``[tool.modelcheck]``."""

    def model_collectors(self) -> Iterable[ModelCollector]:
        display = self.path.relative_to(self.config.rootpath).as_posix() \
            if self.path.is_relative_to(self.config.rootpath) else str(self.path)
        for spec in load_spec_file(self.path, display=display):
            yield ModelCollector.from_parent(self, name=spec.id, spec=spec, base_dir=self.path.parent)
