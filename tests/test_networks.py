"""Network initialisation and the Gaussian policy's densities."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo.networks import ActorCritic, gaussian_entropy, gaussian_log_prob, sample_action

pytestmark = pytest.mark.unit


def test_shared_init_scales():
    net = ActorCritic(action_size=3, hidden_sizes=(256, 256))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 400)), -1.0)["params"]
    w0 = np.asarray(params["trunk_0"]["kernel"])
    assert w0.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert np.asarray(params["actor_out"]["kernel"]).std() == pytest.approx(
        0.01 * math.sqrt(2 / 256), rel=0.1
    )
    np.testing.assert_allclose(params["log_std"], -1.0)
    assert np.all(np.asarray(params["trunk_0"]["bias"]) == 0)


def test_separate_networks_are_orthogonal_with_own_widths():
    net = ActorCritic(action_size=2, hidden_sizes=(32, 32), critic_hidden_sizes=(48,), shared=False)
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 32)), -0.5)["params"]
    w = np.asarray(params["actor_0"]["kernel"])
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(32), atol=1e-4)  # gain sqrt(2)
    assert params["critic_0"]["kernel"].shape == (32, 48) and "trunk_0" not in params
    mean, log_std, value = net.apply({"params": params}, jnp.ones((5, 32)))
    assert mean.shape == (5, 2) and value.shape == (5,) and log_std.shape == (2,)


def test_log_prob_and_entropy_match_closed_form():
    mean, log_std = jnp.array([0.5, -1.0]), jnp.array([0.1, -0.3])
    a = jnp.array([0.2, 0.4])
    std = np.exp(np.asarray(log_std))
    ref = np.sum(
        -0.5 * ((np.asarray(a) - np.asarray(mean)) / std) ** 2
        - np.log(std * math.sqrt(2 * math.pi))
    )
    assert gaussian_log_prob(mean, log_std, a) == pytest.approx(ref, rel=1e-6)
    assert gaussian_entropy(log_std) == pytest.approx(
        np.sum(np.log(std * math.sqrt(2 * math.pi * math.e))), rel=1e-6
    )
    samples = sample_action(jax.random.PRNGKey(0), jnp.broadcast_to(mean, (20000, 2)), log_std)
    np.testing.assert_allclose(samples.std(0), std, rtol=0.03)
