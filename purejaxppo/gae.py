"""Generalised advantage estimation that keeps terminated and truncated apart.

Every step ``t`` carries the value of the observation its transition reached, ``next_value[t]``
(for a step that ended an episode by the time limit: the value of the true final observation,
not of the next episode's first). Then

    delta[t] = reward[t] + gamma * (1 - terminated[t]) * next_value[t] - value[t]
    A[t]     = delta[t] + gamma * lambda * (1 - done[t]) * A[t + 1],   done = terminated | truncated

so a termination bootstraps zero, a truncation bootstraps the final state's value, and neither
lets the advantage of the next episode leak back. No separate last value is needed: the
rollout's last step has its own ``next_value``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from purejaxppo.types import Array


def compute_gae(
    rewards: Array,
    values: Array,
    next_values: Array,
    terminated: Array,
    truncated: Array,
    gamma: float | Array,
    gae_lambda: float | Array,
) -> tuple[Array, Array]:
    """Advantages and value targets.

    Args:
        rewards: ``[T, B]``.
        values: ``V(obs[t])``, ``[T, B]``.
        next_values: ``V`` of the observation step ``t`` reached (before any reset), ``[T, B]``.
        terminated: 1.0 where step ``t`` reached a terminal state, ``[T, B]``.
        truncated: 1.0 where step ``t`` hit the time limit without terminating, ``[T, B]``.
        gamma: discount.
        gae_lambda: GAE lambda.

    Returns:
        ``(advantages, returns)``, each ``[T, B]``, with ``returns = advantages + values``.
    """
    not_terminated = 1.0 - terminated
    continues = (1.0 - jnp.maximum(terminated, truncated)) * gamma * gae_lambda
    deltas = rewards + gamma * not_terminated * next_values - values

    def body(next_adv: Array, xs: tuple[Array, Array]) -> tuple[Array, Array]:
        delta, cont = xs
        adv = delta + cont * next_adv
        return adv, adv

    _, advantages = jax.lax.scan(body, jnp.zeros_like(deltas[0]), (deltas, continues), reverse=True)
    return advantages, advantages + values
