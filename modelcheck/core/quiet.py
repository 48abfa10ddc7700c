"""Keep the libraries' deprecation notices raised while a check runs out of the user's warnings:
a clean project gets a clean run, and a project that turns warnings into errors
(``filterwarnings = ["error"]``, ``-W error``) does not get Keras' own notices (NumPy 2's
``__array__`` copy keyword, raised inside ``keras.ops.convert_to_numpy``) as modelcheck's errors.
Every check function enters it (``modelcheck.checks.common.check``), and so do the plugin's items.

Only deprecation-type warnings attributed to Keras, TensorFlow, NumPy, their helpers, or
modelcheck itself are dropped; anything the user's own code warns about still shows. The
libraries' other warnings (Keras' "`from_logits=True` on a Softmax output", about the model being
checked) are shown but never raised: under ``-W error`` they would turn a check of a model with
that mistake into an error instead of a verdict (loss_matches_output names the mistake).
This module does not import Keras.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

__all__ = ["library_deprecations_quieted", "QUIETED_MODULES"]

QUIETED_MODULES = r"(keras|tensorflow|tf_keras|numpy|ml_dtypes|h5py|absl|google\.protobuf|optree|jax|torch|modelcheck)(\.|$)"
_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


@contextlib.contextmanager
def library_deprecations_quieted() -> Iterator[None]:
    """Ignore deprecation warnings that the libraries (and modelcheck) raise while a check runs;
    show their other warnings once per place, never as errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings("default", module=QUIETED_MODULES)
        for category in _CATEGORIES:
            warnings.filterwarnings("ignore", category=category, module=QUIETED_MODULES)
        yield
