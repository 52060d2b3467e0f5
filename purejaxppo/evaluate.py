"""Deterministic evaluation in JAX: a batch of episodes run side by side under the mean action."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from purejaxppo.envs.base import Env
from purejaxppo.types import Array

PolicyFn = Callable[[Array], Array]  # obs [B, obs] -> action [B, act]


LOOPS = ("auto", "while", "scan")


def evaluate(
    env: Env, policy_fn: PolicyFn, key: Array, num_episodes: int, loop: str = "auto"
) -> tuple[Array, Array]:
    """Runs ``num_episodes`` episodes in parallel until each has ended (terminated or truncated).

    Two forms, the same values: ``while`` steps until every episode has ended (a ``while_loop``:
    on a CPU it stops early); ``scan`` steps ``env.episode_length`` times, ended episodes
    masked (a known trip count: on a GPU, no copy of the loop's predicate to the host at every
    step, which would stall the device). ``auto`` is ``while`` in a program for the CPU,
    ``scan`` for any other platform.

    Args:
        env: batched env without auto-reset, with a time limit
            (see :func:`~purejaxppo.envs.wrap_for_eval`).
        policy_fn: deterministic policy ``obs [B, obs] -> action [B, act]``.
        key: PRNG key for the initial states.
        num_episodes: episodes ``B``.
        loop: ``"auto"``, ``"while"`` or ``"scan"``.

    Returns:
        ``(returns [B], lengths [B])``: the undiscounted return and the length of each episode.
    """
    if loop not in LOOPS:
        raise ValueError(f"loop={loop!r}: choose one of {', '.join(LOOPS)}")
    state = env.reset(jax.random.split(key, num_episodes))
    zeros = jnp.zeros(num_episodes, jnp.float32)

    def cond(carry):
        _, _, _, alive = carry
        return jnp.any(alive > 0)

    def body(carry):
        state, returns, lengths, alive = carry
        state = env.step(state, policy_fn(state.obs))
        returns = returns + jnp.where(alive > 0, state.reward, 0.0)  # an ended env may run on
        lengths = lengths + alive
        alive = alive * (1.0 - state.done)
        return state, returns, lengths, alive

    def until_all_ended(carry):
        # The time limit ends every episode, so the loop is bounded by the episode length.
        return jax.lax.while_loop(cond, body, carry)

    def episode_length_steps(carry):
        return jax.lax.scan(lambda c, _: (body(c), None), carry, None, env.episode_length)[0]

    carry = (state, zeros, zeros, jnp.ones(num_episodes, jnp.float32))
    if loop == "auto":
        out = jax.lax.platform_dependent(carry, cpu=until_all_ended, default=episode_length_steps)
    else:
        out = (until_all_ended if loop == "while" else episode_length_steps)(carry)
    _, returns, lengths, _ = out
    return returns, lengths
