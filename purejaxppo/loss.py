"""The PPO loss: clipped surrogate, (optionally clipped) value loss, entropy bonus, diagnostics."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from purejaxppo.config import PPOConfig
from purejaxppo.networks import gaussian_entropy, gaussian_log_prob
from purejaxppo.types import Array

ApplyFn = Callable[..., tuple[Array, Array, Array]]


class Minibatch(NamedTuple):
    """Transitions for one gradient step; leading axis ``[M]``."""

    obs: Array  # [M, obs], already normalised
    action: Array  # [M, act]
    log_prob: Array  # [M], under the policy before this update
    value: Array  # [M], under the critic before this update
    advantage: Array  # [M]
    target: Array  # [M], value target (advantage + value)


class LossInfo(NamedTuple):
    """Scalars reported per gradient step."""

    total_loss: Array
    actor_loss: Array
    critic_loss: Array
    entropy: Array
    approx_kl: Array
    clip_fraction: Array


def ppo_loss(
    params: dict, apply_fn: ApplyFn, batch: Minibatch, cfg: PPOConfig
) -> tuple[Array, LossInfo]:
    """PPO's objective, to minimise.

    ``total = actor + value_coeff * critic - entropy_coeff * entropy`` with
    ``actor = -mean(min(r A, clip(r, 1 +- eps) A))``, ``critic = mean((V - target)^2)`` (or the
    max with the clipped-value error when ``cfg.clip_value``), ``approx_kl = mean((r - 1) - log r)``
    and ``clip_fraction = mean(|r - 1| > eps)``, where ``r = pi(a|s) / pi_old(a|s)``.

    Args:
        params: network parameters.
        apply_fn: ``apply_fn(params, obs, log_std_init) -> (mean, log_std, value)``.
        batch: the minibatch.
        cfg: supplies the coefficients (may be traced).

    Returns:
        ``(total_loss, LossInfo)``.
    """
    mean, log_std, value = apply_fn(params, batch.obs, cfg.log_std_init)
    log_prob = gaussian_log_prob(mean, log_std, batch.action)
    log_ratio = log_prob - batch.log_prob
    ratio = jnp.exp(log_ratio)

    adv = batch.advantage
    if cfg.normalize_advantages:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    surrogate = jnp.minimum(
        ratio * adv, jnp.clip(ratio, 1.0 - cfg.clip_epsilon, 1.0 + cfg.clip_epsilon) * adv
    )
    actor_loss = -surrogate.mean()

    value_error = jnp.square(value - batch.target)
    if cfg.clip_value:
        clipped = batch.value + jnp.clip(
            value - batch.value, -cfg.value_clip_epsilon, cfg.value_clip_epsilon
        )
        value_error = jnp.maximum(value_error, jnp.square(clipped - batch.target))
    critic_loss = value_error.mean()

    entropy = gaussian_entropy(log_std)
    total = actor_loss + cfg.value_coeff * critic_loss - cfg.entropy_coeff * entropy
    info = LossInfo(
        total_loss=total,
        actor_loss=actor_loss,
        critic_loss=critic_loss,
        entropy=entropy,
        approx_kl=jax.lax.stop_gradient(((ratio - 1.0) - log_ratio).mean()),
        clip_fraction=jax.lax.stop_gradient(
            (jnp.abs(ratio - 1.0) > cfg.clip_epsilon).astype(jnp.float32).mean()
        ),
    )
    return total, info


def explained_variance(values: Array, targets: Array) -> Array:
    """``1 - var(targets - values) / var(targets)``, any shape; NaN when targets are constant."""
    var_t = jnp.var(targets)
    return jnp.where(
        var_t > 0, 1.0 - jnp.var(targets - values) / jnp.where(var_t > 0, var_t, 1), jnp.nan
    )
