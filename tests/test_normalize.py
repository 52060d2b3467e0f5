"""Running statistics and reward scaling against NumPy."""

import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo import normalize as nz

pytestmark = pytest.mark.unit


def test_running_stats_match_numpy(maybe_jit):
    rng = np.random.default_rng(1)
    batches = [rng.normal(loc=3.0, scale=2.0, size=(n, 5)) for n in (7, 64, 1, 300)]
    stats = nz.init_stats((5,))
    update = maybe_jit(nz.update_stats)
    for b in batches:
        stats = update(stats, jnp.asarray(b, jnp.float32))
    everything = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, everything.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats.var, everything.var(0), rtol=1e-4)
    assert float(stats.count) == len(everything)
    z = nz.normalize(stats, jnp.asarray(everything, jnp.float32))
    np.testing.assert_allclose(np.asarray(z).mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.asarray(z).std(0), 1.0, atol=1e-4)


def test_leading_axes_are_samples():
    x = jnp.arange(24.0).reshape(2, 3, 4)
    stats = nz.update_stats(nz.init_stats((4,)), x)
    np.testing.assert_allclose(stats.mean, np.arange(24.0).reshape(6, 4).mean(0))


def test_fresh_stats_are_identity_and_clip():
    stats = nz.init_stats((2,))
    np.testing.assert_allclose(nz.normalize(stats, jnp.array([0.5, -3.0])), [0.5, -3.0], rtol=1e-6)
    np.testing.assert_allclose(nz.normalize(stats, jnp.array([50.0, -50.0]), 10.0), [10.0, -10.0])


def test_reward_scaler_matches_numpy(maybe_jit):
    rng = np.random.default_rng(2)
    T, B, gamma = 30, 4, 0.9
    rewards = rng.normal(1.0, 1.0, size=(T, B))
    dones = (rng.random((T, B)) < 0.1).astype(np.float32)
    scaler = maybe_jit(nz.update_reward_scaler)(
        nz.init_reward_scaler(B), jnp.asarray(rewards, jnp.float32), jnp.asarray(dones), gamma
    )
    ret, seen = np.zeros(B), []
    for t in range(T):
        ret = ret * gamma + rewards[t]
        seen.append(ret.copy())
        ret[dones[t] > 0] = 0.0
    np.testing.assert_allclose(scaler.returns, ret, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaler.stats.var, np.var(seen), rtol=1e-4)
    scaled = nz.scale_reward(scaler, jnp.asarray(rewards, jnp.float32), 100.0)
    np.testing.assert_allclose(scaled, rewards / np.sqrt(np.var(seen) + 1e-8), rtol=1e-4)
