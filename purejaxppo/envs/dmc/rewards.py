"""dm_control's ``rewards.tolerance`` in JAX: 1 inside the bounds, a sigmoid falling off outside.

The constants (each sigmoid's scale) are computed in NumPy float64 as dm_control computes them;
the arithmetic on ``x`` follows its order, so results match to the rounding of the
transcendental functions (``exp``, ``cosh``, ``tanh``, ``cos``), which XLA and NumPy may round
apart in the last bit.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from purejaxppo.envs.v5.task import divide
from purejaxppo.types import Array

SIGMOIDS = (
    "gaussian", "hyperbolic", "long_tail", "reciprocal", "cosine", "linear", "quadratic",
    "tanh_squared",
)  # fmt: skip


def _sigmoid(x: Array, value_at_1: float, sigmoid: str) -> Array:
    """dm_control's ``_sigmoids``: a function of ``x >= 0`` that is 1 at 0, ``value_at_1`` at 1."""
    if sigmoid in ("cosine", "linear", "quadratic"):
        if not 0 <= value_at_1 < 1:
            raise ValueError(f"value_at_1 must be in [0, 1) for {sigmoid}, got {value_at_1}")
    elif not 0 < value_at_1 < 1:
        raise ValueError(f"value_at_1 must be in (0, 1) for {sigmoid}, got {value_at_1}")
    if sigmoid == "gaussian":
        scale = float(np.sqrt(-2 * np.log(value_at_1)))
        return jnp.exp(-0.5 * (x * scale) ** 2)
    if sigmoid == "hyperbolic":
        scale = float(np.arccosh(1 / value_at_1))
        return 1 / jnp.cosh(x * scale)
    if sigmoid == "long_tail":
        scale = float(np.sqrt(1 / value_at_1 - 1))
        return 1 / ((x * scale) ** 2 + 1)
    if sigmoid == "reciprocal":
        scale = 1 / value_at_1 - 1
        return 1 / (jnp.abs(x) * scale + 1)
    if sigmoid == "cosine":
        scaled = x * float(np.arccos(2 * value_at_1 - 1) / np.pi)
        return jnp.where(jnp.abs(scaled) < 1, (1 + jnp.cos(math.pi * scaled)) / 2, 0.0)
    if sigmoid == "linear":
        scaled = x * (1 - value_at_1)
        return jnp.where(jnp.abs(scaled) < 1, 1 - scaled, 0.0)
    if sigmoid == "quadratic":
        scaled = x * float(np.sqrt(1 - value_at_1))
        return jnp.where(jnp.abs(scaled) < 1, 1 - scaled**2, 0.0)
    if sigmoid == "tanh_squared":
        scale = float(np.arctanh(np.sqrt(1 - value_at_1)))
        return 1 - jnp.tanh(x * scale) ** 2
    raise ValueError(f"unknown sigmoid {sigmoid!r}: choose from {', '.join(SIGMOIDS)}")


def tolerance(
    x: Array,
    bounds: tuple[float, float] = (0.0, 0.0),
    margin: float = 0.0,
    sigmoid: str = "gaussian",
    value_at_margin: float = 0.1,
) -> Array:
    """1 where ``bounds[0] <= x <= bounds[1]``, else ``sigmoid`` of the distance over ``margin``.

    Args:
        x: any shape; the result has its shape.
        bounds: ``(lower, upper)``, either may be infinite.
        margin: the distance outside the bounds at which the value is ``value_at_margin``; 0:
            the value is 0 outside.
        sigmoid: the fall-off's shape (:data:`SIGMOIDS`).
        value_at_margin: the value at ``margin`` from the bounds.

    Raises:
        ValueError: ``lower > upper``, a negative margin, an unknown sigmoid.
    """
    lower, upper = bounds
    if lower > upper:
        raise ValueError("lower bound must be <= upper bound")
    if margin < 0:
        raise ValueError("margin must be non-negative")
    inside = jnp.logical_and(lower <= x, x <= upper)
    if margin == 0:
        return jnp.where(inside, 1.0, 0.0).astype(jnp.result_type(x, float))
    d = divide(jnp.where(x < lower, lower - x, x - upper), margin)
    return jnp.where(inside, 1.0, _sigmoid(d, value_at_margin, sigmoid))
