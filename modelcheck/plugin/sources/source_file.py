"""The base of every file that declares models to ``pytest --modelcheck``."""

from __future__ import annotations

from typing import Any, Iterable

import pytest

from ...core.errors import SpecError
from ..nodes import ModelCollector

__all__ = ["ModelSourceFile"]


class ModelSourceFile(pytest.File):
    """A file that yields models; a `SpecError` in it is shown as a usage error, no traceback."""

    def model_collectors(self) -> Iterable[ModelCollector]:
        """One `ModelCollector` per model the file declares."""
        raise NotImplementedError

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        try:
            return list(self.model_collectors())
        except SpecError as exc:
            raise pytest.UsageError(str(exc)) from None

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, pytest.UsageError):
            return f"usage error: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)
