"""Which Keras backend the suite runs on (``KERAS_BACKEND``): a test of a fact that holds on one
backend only says so, and why, where it asks."""

from __future__ import annotations

import keras

BACKEND = keras.backend.backend()
