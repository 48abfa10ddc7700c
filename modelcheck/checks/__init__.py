"""The check functions, one module per family: shapes, params, gradients, training.

Each check takes a model (or a builder) plus keyword expectations and returns a
`modelcheck.core.result.CheckResult`. The catalogue of names lives in `modelcheck.core.registry`.
"""
