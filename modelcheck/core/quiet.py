"""Keep the libraries' deprecation notices raised while a check runs out of the user's warnings:
a clean project gets a clean run, and a project that turns warnings into errors
(``filterwarnings = ["error"]``, ``-W error``) does not get Keras' own notices (NumPy 2's
``__array__`` copy keyword, raised inside ``keras.ops.convert_to_numpy``) as modelcheck's errors.
Every check function enters it (``modelcheck.checks.common.check``), and so do the plugin's items.

Only deprecation-type warnings attributed to Keras, TensorFlow, NumPy, their helpers, or
modelcheck itself are dropped; anything the user's own code warns about still shows. The
libraries' other warnings (Keras' "`from_logits=True` on a Softmax output", about the model being
checked) follow the user's filters but are never raised by one that turns every warning into an
error: under ``-W error`` they would turn a check of a model with that mistake into an error
instead of a verdict (loss_matches_output names the mistake). One of them is dropped too: Keras'
"expected y_pred.shape to be (batch_size, num_classes)" SyntaxWarning looks at the last axis only,
so a sound pointer (a softmax over its steps under ``CategoricalCrossentropy(axis=1)``) got it in
every run, and where it is right (a softmax on one unit) loss_matches_output and config_lint say so.
This module does not import Keras.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator

__all__ = ["library_deprecations_quieted", "QUIETED_MODULES"]

QUIETED_MODULES = r"(keras|tensorflow|tf_keras|numpy|ml_dtypes|h5py|absl|google\.protobuf|optree|jax|torch|modelcheck)(\.|$)"
_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
_LAST_AXIS_CLASSES = r"In loss categorical_(focal_)?crossentropy, expected y_pred\.shape to be \(batch_size, num_classes\)"


@contextlib.contextmanager
def library_deprecations_quieted() -> Iterator[None]:
    """Ignore deprecation warnings that the libraries (and modelcheck) raise while a check runs;
    their other warnings follow the user's filters, except that a filter turning every module's
    warnings into errors shows theirs instead."""
    with warnings.catch_warnings():
        _libraries_never_raise()
        for category in _CATEGORIES:
            warnings.filterwarnings("ignore", category=category, module=QUIETED_MODULES)
        warnings.filterwarnings("ignore", message=_LAST_AXIS_CLASSES, category=SyntaxWarning, module=QUIETED_MODULES)
        yield


def _pattern(regex: Any) -> str:
    """A filter's message or module as filterwarnings takes it (kept compiled, or as a string)."""
    return "" if regex is None else getattr(regex, "pattern", regex)


def _libraries_never_raise() -> None:
    """Before each "error" filter that applies to any module (``-W error``, ``filterwarnings =
    ["error"]``), a "default" one for the same warnings from the libraries: the filters before it
    (an "ignore" the user wrote) still win, and a filter naming a module (``error:::keras``) is
    the user's own choice, kept as it is."""
    current = list(warnings.filters)
    if not any(action == "error" and module is None for action, _, _, module, _ in current):
        return
    warnings.resetwarnings()
    for action, message, category, module, lineno in reversed(current):  # each lands in front
        pattern = _pattern(message)
        warnings.filterwarnings(action, message=pattern, category=category, module=_pattern(module), lineno=lineno)
        if action == "error" and module is None:
            warnings.filterwarnings("default", message=pattern, category=category, module=QUIETED_MODULES,
                                    lineno=lineno)
