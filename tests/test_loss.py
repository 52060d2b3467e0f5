"""The PPO loss against numbers worked by hand."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from purejaxppo import PPOConfig
from purejaxppo.loss import Minibatch, explained_variance, ppo_loss

pytestmark = pytest.mark.unit

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def fixed_apply(values):
    """A 'network' with mean 0, log_std 0 and the given values, whatever the params."""

    def apply(params, obs, log_std_init):
        del params, log_std_init
        return jnp.zeros((obs.shape[0], 1)), jnp.zeros(1), jnp.asarray(values, jnp.float32)

    return apply


def batch(old_values=(1.0, 1.0), advantage=(1.0, 1.0)):
    action = jnp.array([[0.0], [1.0]])
    new_logp = jnp.array([-HALF_LOG_2PI, -0.5 - HALF_LOG_2PI])
    # ratios 1.5 and 0.5
    old_logp = new_logp - jnp.log(jnp.array([1.5, 0.5]))
    return Minibatch(
        obs=jnp.zeros((2, 1)),
        action=action,
        log_prob=old_logp,
        value=jnp.asarray(old_values),
        advantage=jnp.asarray(advantage),
        target=jnp.array([0.0, 2.5]),
    )


def test_loss_by_hand(maybe_jit):
    cfg = PPOConfig(normalize_advantages=False)
    loss, info = maybe_jit(lambda b: ppo_loss({}, fixed_apply([1.0, 2.0]), b, cfg))(batch())
    # actor: -(min(1.5, 1.2) + min(0.5, 0.8)) / 2 = -0.85
    assert info.actor_loss == pytest.approx(-0.85, abs=1e-6)
    # critic: ((1 - 0)^2 + (2 - 2.5)^2) / 2 = 0.625
    assert info.critic_loss == pytest.approx(0.625, abs=1e-6)
    # entropy of N(0, 1): 0.5 ln(2 pi e)
    assert info.entropy == pytest.approx(0.5 * math.log(2 * math.pi * math.e), abs=1e-6)
    # approx KL: ((0.5 - ln 1.5) + (-0.5 - ln 0.5)) / 2
    assert info.approx_kl == pytest.approx(
        (0.5 - math.log(1.5) - 0.5 - math.log(0.5)) / 2, abs=1e-6
    )
    assert info.clip_fraction == pytest.approx(1.0)
    expected = -0.85 + 0.5 * 0.625 - 0.01 * 0.5 * math.log(2 * math.pi * math.e)
    assert loss == pytest.approx(expected, abs=1e-6)


def test_clipped_value_loss_by_hand():
    cfg = PPOConfig(normalize_advantages=False, clip_value=True, value_clip_epsilon=0.2)
    # sample 1: old value 0, new 2, target 2.5 -> clipped prediction 0.2, error 5.29 > 0.25
    _, info = ppo_loss({}, fixed_apply([1.0, 2.0]), batch(old_values=(1.0, 0.0)), cfg)
    assert info.critic_loss == pytest.approx((1.0 + 5.29) / 2, abs=1e-5)


def test_advantage_normalisation_by_hand():
    cfg = PPOConfig(normalize_advantages=True)
    # advantages (1, 3) -> (-1, 1): -(min(-1.5, -1.2) + min(0.5, 0.8)) / 2 = 0.5
    _, info = ppo_loss({}, fixed_apply([1.0, 2.0]), batch(advantage=(1.0, 3.0)), cfg)
    assert info.actor_loss == pytest.approx(0.5, abs=1e-5)


def test_gradient_pushes_log_prob_towards_positive_advantage():
    cfg = PPOConfig(normalize_advantages=False, entropy_coeff=0.0, value_coeff=0.0)

    def apply(params, obs, _):
        return (
            jnp.broadcast_to(params["mu"], (obs.shape[0], 1)),
            jnp.zeros(1),
            jnp.zeros(obs.shape[0]),
        )

    b = Minibatch(
        obs=jnp.zeros((1, 1)),
        action=jnp.array([[1.0]]),
        log_prob=jnp.array([-0.5 - HALF_LOG_2PI]),
        value=jnp.zeros(1),
        advantage=jnp.ones(1),
        target=jnp.zeros(1),
    )
    grads, _ = jax.grad(lambda p: ppo_loss(p, apply, b, cfg), has_aux=True)({"mu": jnp.zeros(1)})
    assert float(grads["mu"][0]) < 0  # minimising moves mu towards the advantaged action


def test_explained_variance():
    t = jnp.array([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(t, t) == pytest.approx(1.0)
    assert explained_variance(jnp.zeros(4) + t.mean(), t) == pytest.approx(0.0)
    assert np.isnan(explained_variance(t, jnp.ones(4)))
