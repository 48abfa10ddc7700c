"""Which Keras backend the suite runs on (``KERAS_BACKEND``), and the marks of tests that need
one: every such test says why it skips elsewhere."""

from __future__ import annotations

import keras
import pytest

BACKEND = keras.backend.backend()

# The training engine (modelcheck/model/engine.py) is a tf.function loop until issue 18's
# per-backend loops land; the checks that train run on TensorFlow only until then.
needs_tf_engine = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason=f"trains with the training engine, which runs on TensorFlow only for now (Keras backend: {BACKEND})",
)
