"""Network initialisation and the Gaussian policy's densities."""

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo.networks import (
    ActorCritic,
    gaussian_entropy,
    gaussian_log_prob,
    orthogonal,
    sample_action,
)

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


def _qr_batch_dims(f, *args) -> list[int]:
    """The batch dims of every LAPACK QR call in the CPU program of ``f``."""
    text = jax.jit(f).lower(*args).as_text()
    return [int(n) for n in re.findall(r"geqrf[^\n]*num_batch_dims = \"(\d+)\"", text)]


def test_vmapped_orthogonal_init_factors_one_matrix_per_call_with_the_stock_values():
    # A batched QR can hang jaxlib 0.10's CPU kernels (networks.py): seeds x points must map.
    keys = jax.random.split(jax.random.PRNGKey(0), 6).reshape(2, 3, 2)
    ours = jax.vmap(jax.vmap(lambda k: orthogonal(2.0)(k, (17, 64))))
    stock = jax.vmap(jax.vmap(lambda k: jax.nn.initializers.orthogonal(2.0)(k, (17, 64))))
    np.testing.assert_array_equal(jax.jit(ours)(keys), jax.jit(stock)(keys))
    assert _qr_batch_dims(stock, keys) == [2]  # what JAX does by itself
    net = ActorCritic(action_size=3, shared=False)
    init = jax.vmap(jax.vmap(lambda k: net.init(k, jnp.zeros(17), -1.0)))
    dims = _qr_batch_dims(init, keys)  # actor and critic, 3 layers each (shared bodies once)
    assert dims and set(dims) == {0}, dims
