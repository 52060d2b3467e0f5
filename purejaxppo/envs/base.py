"""The environment contract: ``reset(key) -> State`` and ``step(state, action) -> State``.

As in Brax and MuJoCo Playground, an environment is a stateless object whose methods are pure
functions of a :class:`State` pytree, so they can be jitted, vmapped and scanned. Terminated and
truncated are separate flags from here all the way to GAE.
"""

from __future__ import annotations

import abc
from typing import Any

import jax.numpy as jnp
from flax import struct

from purejaxppo.types import Array


class EnvError(ValueError):
    """An environment that cannot be made as asked (raised before anything is compiled)."""


class State(struct.PyTreeNode):
    """The state of one environment (or, after :class:`VmapWrapper`, of a batch: leading ``[B]``).

    Attributes:
        data: physics state (``mjx.Data``, a Brax state, or arrays for pure-JAX envs).
        obs: observation after the last step (after an auto-reset: the new episode's
            first), ``[obs]``.
        reward: reward of the last step, ``[]``.
        terminated: 1.0 if the last step reached a terminal state (no bootstrapping), ``[]``.
        truncated: 1.0 if the last step hit the time limit without terminating, ``[]``.
        step: steps taken in the current episode, int32 ``[]``.
        final_obs: observation reached by the last step, before any auto-reset, ``[obs]``;
            the state whose value is bootstrapped at a truncation.
        rng: PRNG key for this env's next fresh reset.
        info: env-specific diagnostics (e.g. reward terms), each ``[]``.
        task: the task's own values for the episode (e.g. a target drawn at reset), any pytree
            of arrays; replaced, like ``data``, by a fresh reset.
    """

    data: Any
    obs: Array
    reward: Array
    terminated: Array
    truncated: Array
    step: Array
    final_obs: Array
    rng: Array
    info: dict[str, Array] = struct.field(default_factory=dict)
    task: Any = ()

    @classmethod
    def create(cls, data: Any, obs: Array, rng: Array, info: dict | None = None) -> State:
        """A state at the start of an episode.

        Args:
            data: physics state.
            obs: first observation, ``[obs]``.
            rng: key kept for the next fresh reset.
            info: env-specific diagnostics, each ``[]`` (zeros at reset).
        """
        zero = jnp.zeros((), jnp.float32)
        return cls(
            data=data,
            obs=obs,
            reward=jnp.zeros((), obs.dtype),  # float64 when simulating in float64
            terminated=zero,
            truncated=zero,
            step=jnp.zeros((), jnp.int32),
            final_obs=obs,
            rng=rng,
            info=info or {},
        )

    @property
    def done(self) -> Array:
        """1.0 where the episode ended at the last step (terminated or truncated)."""
        return jnp.maximum(self.terminated, self.truncated)


class Env(abc.ABC):
    """A single (unbatched) environment with a continuous action space."""

    @property
    @abc.abstractmethod
    def observation_size(self) -> int:
        """Length of the flat observation vector."""

    @property
    @abc.abstractmethod
    def action_size(self) -> int:
        """Length of the action vector."""

    @property
    def action_low(self) -> Array:
        """Lower action bounds, ``[action]``."""
        return -jnp.ones(self.action_size, jnp.float32)

    @property
    def action_high(self) -> Array:
        """Upper action bounds, ``[action]``."""
        return jnp.ones(self.action_size, jnp.float32)

    @property
    def episode_length(self) -> int:
        """The environment's own time limit in steps (Gymnasium's max_episode_steps)."""
        return 1000

    @abc.abstractmethod
    def reset(self, key: Array) -> State:
        """Starts an episode: a fresh random initial state drawn with ``key``."""

    @abc.abstractmethod
    def step(self, state: State, action: Array) -> State:
        """Advances one step with ``action`` ``[action]``; sets reward and terminated."""

    @property
    def unwrapped(self) -> Env:
        """The innermost environment."""
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(obs={self.observation_size}, act={self.action_size})"
