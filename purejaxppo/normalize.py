"""Running statistics for observation normalisation and return-based reward scaling.

Pure functions on small structs that the training scan carries. The observation statistics are
part of the trained policy: a policy is ``(params, obs_stats)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from purejaxppo.types import Array


class RunningStats(struct.PyTreeNode):
    """Mean and (population) variance of everything seen so far, merged batch by batch.

    Attributes:
        count: number of samples seen, ``[]``.
        mean: ``[*shape]``.
        var: ``[*shape]``; 1 before any sample, so that normalising is then the identity.
    """

    count: Array
    mean: Array
    var: Array


def init_stats(shape: tuple[int, ...] = ()) -> RunningStats:
    """Empty statistics for samples of ``shape``."""
    return RunningStats(
        count=jnp.zeros((), jnp.float32),
        mean=jnp.zeros(shape, jnp.float32),
        var=jnp.ones(shape, jnp.float32),
    )


def update_stats(stats: RunningStats, batch: Array) -> RunningStats:
    """Merges a batch into the statistics (Chan et al.'s parallel update).

    Args:
        stats: current statistics over samples of shape ``S``.
        batch: ``[..., *S]``; every leading axis is a sample axis.

    Returns:
        The statistics of all samples seen, this batch included.
    """
    shape = stats.mean.shape
    x = batch.reshape((-1, *shape)).astype(jnp.float32)
    n = jnp.float32(x.shape[0])
    b_mean = x.mean(axis=0)
    b_var = x.var(axis=0)
    total = stats.count + n
    delta = b_mean - stats.mean
    mean = stats.mean + delta * n / total
    m2 = stats.var * stats.count + b_var * n + jnp.square(delta) * stats.count * n / total
    var = jnp.where(total > 0, m2 / total, stats.var)
    return RunningStats(count=total, mean=mean, var=var)


def normalize(stats: RunningStats, x: Array, clip: float | Array = 10.0) -> Array:
    """``clip((x - mean) / sqrt(var + 1e-8), -clip, clip)``; ``x`` is ``[..., *shape]``."""
    z = (x - stats.mean) / jnp.sqrt(stats.var + 1e-8)
    return jnp.clip(z, -clip, clip)


class RewardScaler(struct.PyTreeNode):
    """Scales rewards by the running std of the discounted return (as SB3's VecNormalize).

    Attributes:
        returns: running discounted return of each env's current episode, ``[B]``.
        stats: statistics of those returns, scalar.
    """

    returns: Array
    stats: RunningStats


def init_reward_scaler(num_envs: int) -> RewardScaler:
    """A scaler for ``num_envs`` parallel envs."""
    return RewardScaler(returns=jnp.zeros(num_envs, jnp.float32), stats=init_stats(()))


def update_reward_scaler(
    scaler: RewardScaler, rewards: Array, dones: Array, gamma: float | Array
) -> RewardScaler:
    """Runs the discounted return over a rollout and merges its values into the statistics.

    Args:
        scaler: current state.
        rewards: raw rewards, ``[T, B]``.
        dones: 1.0 where an episode ended at that step (terminated or truncated), ``[T, B]``.
        gamma: discount.

    Returns:
        The state after the rollout.
    """

    def body(ret: Array, xs: tuple[Array, Array]) -> tuple[Array, Array]:
        reward, done = xs
        ret = ret * gamma + reward
        return ret * (1.0 - done), ret

    returns, seen = jax.lax.scan(body, scaler.returns, (rewards, dones))
    return RewardScaler(returns=returns, stats=update_stats(scaler.stats, seen))


def scale_reward(scaler: RewardScaler, rewards: Array, clip: float | Array = 10.0) -> Array:
    """``clip(r / sqrt(var(return) + 1e-8), -clip, clip)``, any shape."""
    return jnp.clip(rewards / jnp.sqrt(scaler.stats.var + 1e-8), -clip, clip)
