"""dm_control's rewards.tolerance, ported to JAX: equal to dm_control's to rounding.

Relative 1e-12 (exp, cosh, tanh and cos may round apart from NumPy's), absolute 1e-15 where a
sigmoid cancels (tanh_squared near 0).
"""

import jax
import numpy as np
import pytest

from purejaxppo.envs.dmc import rewards

dm_rewards = pytest.importorskip(
    "dm_control.utils.rewards", reason="dm-control is installed on CPython 3.11 and 3.12"
)

pytestmark = pytest.mark.unit

CASES = [
    dict(bounds=(-1.0, 1.0), margin=0.0),
    dict(bounds=(-0.25, 0.25)),
    dict(bounds=(1.2, np.inf), margin=0.6),
    dict(bounds=(10.0, np.inf), margin=10.0, value_at_margin=0.0, sigmoid="linear"),
    dict(bounds=(0.0, 0.0), margin=1.0, value_at_margin=0.0, sigmoid="quadratic"),
    dict(bounds=(0.0, 0.1), margin=0.5, sigmoid="long_tail"),
    dict(bounds=(-1.0, 1.0), margin=2.0, sigmoid="hyperbolic"),
    dict(bounds=(-1.0, 1.0), margin=2.0, sigmoid="reciprocal"),
    dict(bounds=(-1.0, 1.0), margin=2.0, value_at_margin=0.3, sigmoid="cosine"),
    dict(bounds=(-1.0, 1.0), margin=2.0, sigmoid="tanh_squared"),
    dict(bounds=(0.9, np.inf), margin=1.9, value_at_margin=0.0, sigmoid="linear"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.get("sigmoid", "gaussian"))
def test_tolerance_equals_dm_control(case):
    x = np.random.default_rng(0).normal(0, 3, 1000)
    with jax.enable_x64(True):
        ours = np.asarray(jax.jit(lambda x: rewards.tolerance(x, **case))(x))
    theirs = dm_rewards.tolerance(x, **case)
    assert ours.dtype == np.float64
    # absolute 1e-15: tanh_squared's 1 - tanh(x)^2 cancels where tanh(x) is near 1
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert np.ptp(theirs) > 0  # the draws reach where the value changes


@pytest.mark.parametrize(
    "bad",
    [
        dict(bounds=(1.0, 0.0)),
        dict(margin=-1.0),
        dict(margin=1.0, sigmoid="wavy"),
        dict(margin=1.0, value_at_margin=1.0),
    ],
)
def test_tolerance_refuses_what_dm_control_refuses(bad):
    with pytest.raises(ValueError):
        rewards.tolerance(np.zeros(3), **bad)
    with pytest.raises(ValueError):
        dm_rewards.tolerance(np.zeros(3), **bad)
