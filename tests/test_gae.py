"""GAE against a plain NumPy loop, with terminations and truncations mixed."""

import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo.gae import compute_gae

pytestmark = pytest.mark.unit


def numpy_gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    T, B = rewards.shape
    adv = np.zeros((T, B))
    for b in range(B):
        running = 0.0
        for t in reversed(range(T)):
            if terminated[t, b]:
                bootstrap, running = 0.0, 0.0
            elif truncated[t, b]:
                bootstrap, running = next_values[t, b], 0.0
            else:
                bootstrap = next_values[t, b]
            delta = rewards[t, b] + gamma * bootstrap - values[t, b]
            running = delta + gamma * lam * running
            adv[t, b] = running
    return adv, adv + values


def test_gae_matches_numpy_loop(maybe_jit):
    rng = np.random.default_rng(0)
    T, B = 40, 6
    rewards, values, next_values = (rng.normal(size=(T, B)) for _ in range(3))
    terminated = (rng.random((T, B)) < 0.08).astype(np.float32)
    truncated = ((rng.random((T, B)) < 0.08) & (terminated == 0)).astype(np.float32)
    assert terminated.sum() > 3 and truncated.sum() > 3
    adv, ret = maybe_jit(compute_gae)(
        *(
            jnp.asarray(x, jnp.float32)
            for x in (rewards, values, next_values, terminated, truncated)
        ),
        0.99,
        0.95,
    )
    ref_adv, ref_ret = numpy_gae(rewards, values, next_values, terminated, truncated, 0.99, 0.95)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, ref_ret, rtol=1e-5, atol=1e-5)


def test_truncation_bootstraps_and_termination_does_not():
    # One step, reward 1, next value 10: truncation gives 1 + 0.5 * 10; termination gives 1.
    ones = jnp.ones((1, 2))
    adv, _ = compute_gae(
        ones,
        jnp.zeros((1, 2)),
        10 * ones,
        jnp.array([[0.0, 1.0]]),
        jnp.array([[1.0, 0.0]]),
        0.5,
        0.9,
    )
    np.testing.assert_allclose(adv, [[6.0, 1.0]])


def test_no_leak_across_episode_boundary():
    # A huge reward in the next episode must not reach the step that ended the previous one.
    rewards = jnp.array([[1.0], [1000.0]])
    for flag in ("terminated", "truncated"):
        ended = jnp.array([[1.0], [0.0]])
        none = jnp.zeros((2, 1))
        kw = (
            dict(terminated=ended, truncated=none)
            if flag == "terminated"
            else dict(terminated=none, truncated=ended)
        )
        adv, _ = compute_gae(
            rewards, jnp.zeros((2, 1)), jnp.zeros((2, 1)), gamma=0.9, gae_lambda=1.0, **kw
        )
        assert float(adv[0, 0]) == 1.0
