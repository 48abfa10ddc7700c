"""Shared test set-up: quiet TensorFlow, the pytester plugin, seeded Keras, bounded Hypothesis."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Reset Keras name counters and graph state between tests, and seed every generator."""
    import sys

    if "keras" in sys.modules:
        import keras

        keras.backend.clear_session()
        keras.utils.set_random_seed(1234)
    yield
