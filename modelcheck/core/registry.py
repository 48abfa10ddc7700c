"""The catalogue of checks: names, what each needs, and how a spec feeds it.

No Keras import here: the plugin reads this at collection time. The check functions live in
`modelcheck.checks.*` and are imported on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from .spec import ModelSpec, with_batch

__all__ = ["CheckInfo", "CHECKS", "CHECK_NAMES", "get_check", "applicable_checks", "check_kwargs"]


@dataclass(frozen=True)
class CheckInfo:
    """One check: its name, where its function lives, and when it applies by default.

    Attributes:
        name: short name used in test ids, spec files and reports.
        target: ``"module:function"`` of the check function.
        description: one phrase for ``--help`` and reports.
        trains: True when the check runs the training engine (costly).
        default: True when it runs on every model unless the spec lists its checks;
            False when it runs only when asked for (e.g. ``learns_linear``).
        objective: True when its verdict depends on how the model trains: its loss, optimizer,
            training-mode forward pass or own ``train_step``.
        gradients: True when it takes gradients in training mode without training (so it
            depends on the training-mode forward pass and the loss, not on the optimizer).
    """

    name: str
    target: str
    description: str
    trains: bool = False
    default: bool = True
    objective: bool = False
    gradients: bool = False

    def function(self) -> Callable[..., Any]:
        """Import and return the check function."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


_ALL = [
    CheckInfo("output_shape", "modelcheck.checks.shapes:check_output_shape",
              "output shapes, finite outputs and the kind of output on a real forward pass"),
    CheckInfo("param_count", "modelcheck.checks.params:check_param_count",
              "total, trainable, non-trainable and per-layer parameter counts"),
    CheckInfo("gradient_flow", "modelcheck.checks.gradients:check_gradient_flow",
              "every trainable variable gets a finite, non-zero gradient", objective=True,
              gradients=True),
    CheckInfo("overfit_batch", "modelcheck.checks.training:check_overfit_batch",
              "the model can memorise one small batch", trains=True, objective=True),
    CheckInfo("learns_linear", "modelcheck.checks.training:check_learns_linear",
              "the model learns y = 2x - 1 from six points", trains=True, default=False, objective=True),
    CheckInfo("loss_decrease", "modelcheck.checks.loss_decrease:check_loss_decrease",
              "the loss falls over a few training steps", trains=True, objective=True),
    CheckInfo("loss_matches_output", "modelcheck.checks.loss_config:check_loss_matches_output",
              "the compiled loss fits each output layer (judged from the configuration)", objective=True),
    CheckInfo("config_lint", "modelcheck.checks.config_lint:check_config_lint",
              "configuration mistakes no run reveals (Dropout rate as keep_prob, Dense after Dense without "
              "activation, softmax on one unit, ...)"),
    CheckInfo("finite", "modelcheck.checks.finite:check_finite",
              "no NaN/Inf in the weights, any layer's output, the loss or the gradients", objective=True,
              gradients=True),
    CheckInfo("batch_independence", "modelcheck.checks.independence:check_batch_independence",
              "samples of a batch do not influence each other (inference mode)"),
    CheckInfo("input_dependence", "modelcheck.checks.independence:check_input_dependence",
              "every input changes the output"),
    CheckInfo("loss_at_init", "modelcheck.checks.init_loss:check_loss_at_init",
              "the untrained loss is near ln(n_classes), ln 2 or the mean squared target", default=False,
              objective=True),
    CheckInfo("trainable_changes", "modelcheck.checks.trainable:check_trainable_changes",
              "a few training steps change every trainable variable and no frozen one", trains=True,
              default=False, objective=True),
    CheckInfo("matches_reference", "modelcheck.checks.reference:check_matches_reference",
              "the architecture matches a reference solution's (layers, sizes, activations, connections)",
              default=False),
    CheckInfo("save_load", "modelcheck.checks.saving:check_save_load",
              "a .keras save/load round trip in safe mode gives the same outputs", default=False),
    CheckInfo("backend_parity", "modelcheck.checks.parity:check_backend_parity",
              "the saved model gives the same outputs on every installed Keras backend (TensorFlow, JAX, PyTorch)",
              default=False),
]

CHECKS: dict[str, CheckInfo] = {info.name: info for info in _ALL}
CHECK_NAMES: tuple[str, ...] = tuple(CHECKS)


def get_check(name: str) -> CheckInfo:
    """The `CheckInfo` called `name`; a clear KeyError listing the known names otherwise."""
    try:
        return CHECKS[name]
    except KeyError:
        raise KeyError(f"unknown check {name!r}; known checks are {', '.join(CHECKS)}") from None


def applicable_checks(spec: ModelSpec) -> list[str]:
    """The checks to run for `spec`: its explicit list, else every default check."""
    if spec.checks is not None:
        return [name for name in spec.checks]
    names = [info.name for info in CHECKS.values() if info.default]
    names.extend(name for name in spec.options if name in CHECKS and not CHECKS[name].default)
    return names


def check_kwargs(spec: ModelSpec, name: str) -> dict[str, Any]:
    """The keyword arguments that check `name` receives for `spec` (expectations + options)."""
    kwargs: dict[str, Any] = {}
    if name == "output_shape":
        kwargs["expected"] = with_batch(spec.output_shape)
        kwargs["output"] = spec.output
        kwargs["inputs"] = with_batch(spec.input_shape)
        if spec.layer_output_shapes is not None:
            layer_shapes = spec.layer_output_shapes
            if isinstance(layer_shapes, dict):
                kwargs["layer_shapes"] = {k: (None, *v) for k, v in layer_shapes.items()}
            else:
                kwargs["layer_shapes"] = [(None, *v) for v in layer_shapes]
    elif name == "param_count":
        kwargs.update(
            total=spec.total_params,
            trainable=spec.trainable_params,
            non_trainable=spec.non_trainable_params,
            per_layer=spec.layer_params,
            max_params=spec.max_params,
        )
    elif name == "config_lint":
        kwargs["expected_input"] = with_batch(spec.input_shape)
        kwargs["output"] = spec.output
    elif name in ("matches_reference", "loss_matches_output") and spec.output is not None:
        kwargs["output"] = spec.output
    elif name in ("gradient_flow", "overfit_batch", "loss_decrease", "loss_at_init", "trainable_changes", "finite"):
        if spec.output is not None:
            kwargs["output"] = spec.output
    kwargs.update(spec.options_for(name))
    return kwargs
