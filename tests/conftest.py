"""Shared test set-up: quiet TensorFlow, the pytester plugin, seeded Keras, bounded Hypothesis."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest
from hypothesis import settings

from modelcheck.strategies.profiles import CI_PROFILE, register_profiles

pytest_plugins = ["pytester"]

# Bounded and derandomised by default; `--hypothesis-profile=modelcheck-thorough` (loaded later
# by Hypothesis' own plugin) overrides it for nightly runs.
register_profiles()
settings.load_profile(CI_PROFILE)


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Reset Keras name counters and graph state between tests, and seed every generator."""
    import sys

    if "keras" in sys.modules:
        import keras

        keras.backend.clear_session(free_memory=False)  # a full gc.collect per test costs ~0.4 s
        keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="module")
def pool():
    """A warm pool of grading sandboxes shared by one module's tests (each module gets its own)."""
    from modelcheck.grading.worker import WarmPool

    with WarmPool() as warm:
        yield warm


# Marks of tests that run only when `-m` names them: the keras.applications sweep and the
# second runs of behaviour the default run already covers (a plugin feature under xdist, Dask
# workers lost mid-run). `.ci/run` runs each group in a step of its own; the README's test
# command stays within its time.
ON_REQUEST = ("applications", "extended")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the tests of a mark in ON_REQUEST unless `-m` names that mark (an ordinary run,
    `-m slow` or `-m 'not slow'` leave them out)."""
    asked = config.getoption("markexpr") or ""
    held = [item for item in items
            if any(item.get_closest_marker(mark) and mark not in asked for mark in ON_REQUEST)]
    if held:
        config.hook.pytest_deselected(items=held)
        kept = set(map(id, held))
        items[:] = [item for item in items if id(item) not in kept]
