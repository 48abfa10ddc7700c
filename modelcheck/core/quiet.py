"""Keep the libraries' deprecation notices raised inside modelcheck's own items out of the
user's warnings summary: a clean project gets a clean run.

Only deprecation-type warnings attributed to Keras, TensorFlow, NumPy, their helpers, or
modelcheck itself are dropped; anything the user's own code warns about still shows.
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
    """Ignore deprecation warnings that the libraries (and modelcheck) raise while a check runs."""
    with warnings.catch_warnings():
        for category in _CATEGORIES:
            warnings.filterwarnings("ignore", category=category, module=QUIETED_MODULES)
        yield
