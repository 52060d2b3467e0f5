"""Deterministic evaluation in JAX: a batch of episodes run side by side under the mean action."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from purejaxppo.envs.base import Env
from purejaxppo.types import Array

PolicyFn = Callable[[Array], Array]  # obs [B, obs] -> action [B, act]


def evaluate(env: Env, policy_fn: PolicyFn, key: Array, num_episodes: int) -> tuple[Array, Array]:
    """Runs ``num_episodes`` episodes in parallel until each has ended (terminated or truncated).

    Args:
        env: batched env without auto-reset, with a time limit
            (see :func:`~purejaxppo.envs.wrap_for_eval`).
        policy_fn: deterministic policy ``obs [B, obs] -> action [B, act]``.
        key: PRNG key for the initial states.
        num_episodes: episodes ``B``.

    Returns:
        ``(returns [B], lengths [B])``: the undiscounted return and the length of each episode.
    """
    state = env.reset(jax.random.split(key, num_episodes))
    zeros = jnp.zeros(num_episodes, jnp.float32)

    def cond(carry):
        _, _, _, alive = carry
        return jnp.any(alive > 0)

    def body(carry):
        state, returns, lengths, alive = carry
        state = env.step(state, policy_fn(state.obs))
        returns = returns + state.reward * alive
        lengths = lengths + alive
        alive = alive * (1.0 - state.done)
        return state, returns, lengths, alive

    # The time limit ends every episode, so the loop is bounded by the episode length.
    _, returns, lengths, _ = jax.lax.while_loop(
        cond, body, (state, zeros, zeros, jnp.ones(num_episodes, jnp.float32))
    )
    return returns, lengths
