"""modelcheck: verify Keras 3 models, as a library and a pytest plugin.

    import modelcheck as mc
    result = mc.check_output_shape(model, (None, 10))
    assert result.passed, result.message

Importing this package does not import Keras or TensorFlow; the check functions load them on
first use (pytest imports the plugin in every run of everyone who installs the package).
"""

from __future__ import annotations

import importlib
from typing import Any

from .core.errors import ModelcheckError, SpecError, UserCodeError
from .core.result import CheckFailed, CheckResult
from .core.spec import ModelSpec

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY = {
    "check_output_shape": "modelcheck.checks.shapes",
    "check_param_count": "modelcheck.checks.params",
    "check_gradient_flow": "modelcheck.checks.gradients",
    "check_overfit_batch": "modelcheck.checks.training",
    "check_learns_linear": "modelcheck.checks.training",
    "check_loss_decrease": "modelcheck.checks.loss_decrease",
    "check_batch_independence": "modelcheck.checks.independence",
    "check_input_dependence": "modelcheck.checks.independence",
    "check_loss_at_init": "modelcheck.checks.init_loss",
    "check_trainable_changes": "modelcheck.checks.trainable",
    "check_finite": "modelcheck.checks.finite",
    "check_save_load": "modelcheck.checks.saving",
    "check_config_lint": "modelcheck.checks.config_lint",
    "check_matches_reference": "modelcheck.checks.reference",
    "check_backend_parity": "modelcheck.checks.parity",
    "check_loss_matches_output": "modelcheck.checks.loss_config",
    "over_seeds": "modelcheck.session.robustness",
    "check_architecture": "modelcheck.snapshot",
    "run_checks": "modelcheck.session.runner",
    "run_spec": "modelcheck.session.runner",
    "CHECKS": "modelcheck.core.registry",
    "build_model": "modelcheck.model.build",
    "count_params_unallocated": "modelcheck.model.build",
    "expect": "modelcheck.plugin.sources.declare",
    "spec_from_mapping": "modelcheck.core.spec",
}

__all__ = [
    "CheckFailed",
    "CheckResult",
    "ModelSpec",
    "ModelcheckError",
    "SpecError",
    "UserCodeError",
    "__version__",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelcheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
