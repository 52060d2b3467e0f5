"""collect_rollout: a ``lax.scan`` over steps of the batched, auto-resetting environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from purejaxppo.envs.base import Env, State
from purejaxppo.types import Array

ActFn = Callable[[Array, Array], Array]  # (key, obs [B, obs]) -> action [B, act]


class Transition(NamedTuple):
    """What one rollout collects; every field has leading axes ``[T, B]``."""

    obs: Array  # [T, B, obs] raw observation the action was taken in
    action: Array  # [T, B, act] the sampled (unclipped) action
    reward: Array  # [T, B] raw reward
    terminated: Array  # [T, B]
    truncated: Array  # [T, B]
    final_obs: Array  # [T, B, obs] raw observation the step reached, before any auto-reset


class EpisodeTracker(struct.PyTreeNode):
    """Undiscounted return and length of each env's current episode, ``[B]`` each."""

    episode_return: Array
    episode_length: Array

    @classmethod
    def create(cls, num_envs: int) -> EpisodeTracker:
        """Zeros for ``num_envs`` envs."""
        zeros = jnp.zeros(num_envs, jnp.float32)
        return cls(episode_return=zeros, episode_length=zeros)


class EpisodeStats(NamedTuple):
    """Sums over the episodes that ended during one rollout (all scalars)."""

    return_sum: Array
    length_sum: Array
    ended: Array
    """How many episodes ended."""


def collect_rollout(
    env: Env,
    act_fn: ActFn,
    env_state: State,
    tracker: EpisodeTracker,
    key: Array,
    num_steps: int,
) -> tuple[State, EpisodeTracker, Transition, EpisodeStats]:
    """Steps a batched, auto-resetting env ``num_steps`` times under a policy.

    Args:
        env: batched env with auto-reset (see :func:`~purejaxppo.envs.wrap_for_training`).
        act_fn: ``act_fn(key, obs [B, obs]) -> action [B, act]``.
        env_state: batched state ``[B]``.
        tracker: running episode returns and lengths.
        key: PRNG key.
        num_steps: rollout length ``T``.

    Returns:
        ``(env_state, tracker, transitions [T, B], episode statistics)``.
    """

    def step(carry: tuple[State, EpisodeTracker], key: Array):
        state, tr = carry
        action = act_fn(key, state.obs)
        nxt = env.step(state, action)
        ret = tr.episode_return + nxt.reward
        length = tr.episode_length + 1.0
        done = nxt.done
        stats = EpisodeStats(
            return_sum=jnp.sum(ret * done), length_sum=jnp.sum(length * done), ended=done.sum()
        )
        tr = EpisodeTracker(episode_return=ret * (1 - done), episode_length=length * (1 - done))
        transition = Transition(
            obs=state.obs,
            action=action,
            reward=nxt.reward,
            terminated=nxt.terminated,
            truncated=nxt.truncated,
            final_obs=nxt.final_obs,
        )
        return (nxt, tr), (transition, stats)

    (env_state, tracker), (traj, stats) = jax.lax.scan(
        step, (env_state, tracker), jax.random.split(key, num_steps)
    )
    return env_state, tracker, traj, jax.tree.map(jnp.sum, stats)
