"""Probe environments: tiny pure-JAX tasks whose optimal values are known in closed form.

They isolate one part of the learner each (after Andy Jones' "debugging RL" probes), compile in
seconds, and are what the tests train on.

============== ============= ============== ================ ======================
id             obs           reward         episode          PPO must learn
============== ============= ============== ================ ======================
constant       0             1              1 step           V = 1
observation    +-1 at random obs            1 step           V(obs) = obs
action         0             -(a - 0.5)^2   1 step           mean action 0.5
truncation     0             1              time limit only  V = 1 / (1 - gamma)
============== ============= ============== ================ ======================

``probe/truncation`` only ends by the time limit: its value is 1 / (1 - gamma) at every step if and
only if truncations are bootstrapped (treating them as terminations would give less).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from purejaxppo.envs.base import Env, State
from purejaxppo.types import Array


class _Probe(Env):
    """One-dimensional observation and action; subclasses set the reward rule."""

    target_action = 0.5
    terminates = True

    def __init__(self, episode_length: int = 1000):
        self._episode_length = episode_length

    @property
    def observation_size(self) -> int:
        return 1

    @property
    def action_size(self) -> int:
        return 1

    @property
    def episode_length(self) -> int:
        return self._episode_length

    def _obs(self, key: Array) -> Array:
        del key
        return jnp.zeros(1, jnp.float32)

    def _reward(self, obs: Array, action: Array) -> Array:
        del obs, action
        return jnp.ones((), jnp.float32)

    def reset(self, key: Array) -> State:
        k_obs, k_rng = jax.random.split(key)
        obs = self._obs(k_obs)
        return State.create(data=jnp.zeros((), jnp.float32), obs=obs, rng=k_rng)

    def step(self, state: State, action: Array) -> State:
        reward = self._reward(state.obs, action)
        k_obs, k_rng = jax.random.split(state.rng)
        obs = self._obs(k_obs)
        terminated = jnp.float32(1.0 if self.terminates else 0.0)
        return state.replace(obs=obs, reward=reward, terminated=terminated, rng=k_rng)


class ConstantReward(_Probe):
    """Reward 1, one-step episodes: V = 1."""


class ObservationReward(_Probe):
    """Observation +-1 at random, reward = obs, one-step episodes: V(obs) = obs."""

    def _obs(self, key: Array) -> Array:
        return jnp.where(jax.random.bernoulli(key), 1.0, -1.0).reshape(1).astype(jnp.float32)

    def _reward(self, obs: Array, action: Array) -> Array:
        del action
        return obs[0]


class ActionReward(_Probe):
    """Reward -(a - 0.5)^2, one-step episodes: the mean action must reach 0.5."""

    def _reward(self, obs: Array, action: Array) -> Array:
        del obs
        return -jnp.square(action[0] - self.target_action)


class TruncationProbe(_Probe):
    """Reward 1 forever, ended only by the time limit: V = 1 / (1 - gamma) when bootstrapped."""

    terminates = False

    def __init__(self, episode_length: int = 20):
        super().__init__(episode_length)
