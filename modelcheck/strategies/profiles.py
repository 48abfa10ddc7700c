"""Hypothesis settings profiles for property tests of Keras models.

Building a Keras model takes milliseconds, not microseconds, so the profiles have no deadline
and bounded example counts:

- ``modelcheck-ci``: the default of the test-suite. Derandomised (the same examples on every
  run, so a red CI build is reproducible and never flaky), 20 examples per property, no example
  database, no deadline.
- ``modelcheck-thorough``: for nightly runs. Random, 500 examples per property, the example
  database on (a failure found at night is replayed first the next time).

Select one with Hypothesis' own option: ``pytest --hypothesis-profile=modelcheck-thorough``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

__all__ = ["CI_PROFILE", "THOROUGH_PROFILE", "register_profiles"]

CI_PROFILE = "modelcheck-ci"
THOROUGH_PROFILE = "modelcheck-thorough"

# Drawing a whole model is legitimately slow and large next to Hypothesis' usual values.
_SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large]


def register_profiles() -> None:
    """Register ``modelcheck-ci`` and ``modelcheck-thorough`` (idempotent; loads neither)."""
    settings.register_profile(
        CI_PROFILE,
        max_examples=20,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=_SLOW_DATA,
    )
    settings.register_profile(
        THOROUGH_PROFILE,
        max_examples=500,
        derandomize=False,
        deadline=None,
        print_blob=True,
        suppress_health_check=_SLOW_DATA,
    )
