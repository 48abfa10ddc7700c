"""Models of the project's own ``reference_models`` package (at the rootdir).

Each module of the package that defines catalogue entries becomes a file of items
(``reference_models/<module>.py::<model>::<check>``). A variant kept as a document printed it
(``known_fault``) reports the failure that matches its erratum as xfail, and only that one.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Iterable

from ..nodes import ModelCollector
from .source_file import ModelSourceFile

__all__ = ["REFERENCE_PACKAGE", "ReferenceCatalogue", "ReferenceFile"]

REFERENCE_PACKAGE = "reference_models"


class ReferenceCatalogue:
    """The catalogue entries of the rootdir's ``reference_models`` package, read on first use."""

    def __init__(self, rootpath: Path) -> None:
        package = rootpath / REFERENCE_PACKAGE
        self.folder = package if (package / "__init__.py").is_file() else None
        self._by_module: dict[Path, list[Any]] | None = None

    def contains(self, file_path: Path) -> bool:
        """True when `file_path` lies inside the reference package."""
        return self.folder is not None and self.folder in file_path.parents

    def entries_of(self, file_path: Path) -> list[Any]:
        """The entries defined in `file_path` (none for a module that defines none)."""
        if self._by_module is None:
            self._by_module = self._load()
        return self._by_module.get(file_path.resolve(), [])

    def _load(self) -> dict[Path, list[Any]]:
        assert self.folder is not None
        root = self.folder.parent  # entry.module is relative to the repository root
        if str(root) not in sys.path:  # the `pytest` script does not put the cwd on sys.path
            sys.path.insert(0, str(root))
        package = importlib.import_module(REFERENCE_PACKAGE)
        catalog = getattr(package, "catalog", None)
        by_module: dict[Path, list[Any]] = {}
        for entry in catalog() if callable(catalog) else ():  # another project's package: no models
            by_module.setdefault((root / entry.module).resolve(), []).append(entry)
        return by_module


class ReferenceFile(ModelSourceFile):
    """A module of the project's ``reference_models`` package: the catalogue entries it defines."""

    def __init__(self, *, entries: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries = entries

    def model_collectors(self) -> Iterable[ModelCollector]:
        for entry in self.entries:
            failure = entry.build_failure  # every check reports the build error
            yield ModelCollector.from_parent(
                self, name=entry.id, spec=entry.spec, known_fault=entry.known_fault, fault_pattern=entry.fault_pattern,
                fault_exception=(failure.exception, failure.message) if failure is not None else None)
