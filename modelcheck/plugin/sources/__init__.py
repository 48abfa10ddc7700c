"""Where ``pytest --modelcheck`` finds models, one module per source:

1. `reference`: the ``reference_models`` package at the rootdir (``reference_models/<module>.py::<model>::<check>``);
2. `specfile`: every ``modelcheck.toml``, and a pyproject.toml with ``[tool.modelcheck]``
   (``modelcheck.toml::<model>::<check>``); name one on the command line to check only it;
3. `declare`: builders decorated with ``@modelcheck.expect`` in the Python modules pytest collects
   (``test_*.py`` per ``python_files``) and in ``modelcheck_*.py`` modules
   (``test_models.py::<function>::<check>``).

`ModelcheckCollection` holds the collection hooks; the plugin registers it only with ``--modelcheck``.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from ..nodes import ModelCollector
from .reference import ReferenceCatalogue, ReferenceFile
from .specfile import SpecFile, is_spec_file

__all__ = ["BUILDER_MODULES", "ModelcheckCollection"]

BUILDER_MODULES = "modelcheck_*.py"


class ModelcheckCollection:
    """Collection hooks, registered only when ``--modelcheck`` is on."""

    def __init__(self, rootpath: Path) -> None:
        self.reference = ReferenceCatalogue(rootpath)

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if is_spec_file(file_path):
            return SpecFile.from_parent(parent, path=file_path)
        if file_path.suffix != ".py":
            return None
        if self.reference.contains(file_path):
            entries = self.reference.entries_of(file_path)
            return ReferenceFile.from_parent(parent, path=file_path, entries=entries) if entries else None
        if parent.session.isinitpath(file_path):
            return None  # named on the command line: pytest's python plugin collects it already
        python_files = parent.config.getini("python_files")
        if fnmatch.fnmatch(file_path.name, BUILDER_MODULES) and not any(
                fnmatch.fnmatch(file_path.name, pattern) for pattern in python_files):
            return pytest.Module.from_parent(parent, path=file_path)
        return None

    def pytest_pycollect_makeitem(self, collector: pytest.Collector, name: str,
                                  obj: object) -> ModelCollector | None:
        from .declare import spec_of

        spec = spec_of(obj)
        if spec is None or not isinstance(collector, pytest.Module):
            return None
        if getattr(obj, "__module__", None) != collector.obj.__name__:
            return None  # imported from elsewhere: collected where it is defined
        return ModelCollector.from_parent(collector, name=spec.id, spec=spec, base_dir=collector.path.parent)
