"""The keras.applications sweep (marker ``applications``) runs only when asked for: an
ordinary run, ``-m slow`` or ``-m 'not slow'`` leave it out; ``-m applications`` selects it."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "applications" in (config.getoption("markexpr") or ""):
        return
    sweep = [item for item in items if item.get_closest_marker("applications")]
    if sweep:
        config.hook.pytest_deselected(items=sweep)
        items[:] = [item for item in items if not item.get_closest_marker("applications")]
