"""Training wrappers: action clipping, time limit, vmap, and auto-reset with a fresh reset.

The trainer composes them as ``AutoReset(Vmap(TimeLimit(ClipAction(env))))``; see
:func:`wrap_for_training`. Each is a pure function of the :class:`State`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from purejaxppo.envs.base import Array, Env, State


class Wrapper(Env):
    """Forwards everything to the wrapped env."""

    def __init__(self, env: Env):
        self.env = env

    @property
    def observation_size(self) -> int:  # noqa: D102
        return self.env.observation_size

    @property
    def action_size(self) -> int:  # noqa: D102
        return self.env.action_size

    @property
    def action_low(self) -> Array:  # noqa: D102
        return self.env.action_low

    @property
    def action_high(self) -> Array:  # noqa: D102
        return self.env.action_high

    @property
    def episode_length(self) -> int:  # noqa: D102
        return self.env.episode_length

    @property
    def unwrapped(self) -> Env:  # noqa: D102
        return self.env.unwrapped

    def reset(self, key: Array) -> State:  # noqa: D102
        return self.env.reset(key)

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        return self.env.step(state, action)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


class ClipAction(Wrapper):
    """Clips actions to ``[action_low, action_high]`` before stepping."""

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        return self.env.step(state, jnp.clip(action, self.action_low, self.action_high))


class TimeLimit(Wrapper):
    """Counts steps; sets ``truncated`` when the limit is reached and the step did not terminate.

    Also records ``final_obs`` (the observation the step reached), which auto-reset keeps.
    """

    def __init__(self, env: Env, episode_length: int | None = None):
        super().__init__(env)
        self._limit = int(episode_length or env.episode_length)

    @property
    def episode_length(self) -> int:  # noqa: D102
        return self._limit

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        nxt = self.env.step(state, action)
        steps = state.step + 1
        truncated = jnp.where((steps >= self._limit) & (nxt.terminated == 0), 1.0, 0.0).astype(
            jnp.float32
        )
        return nxt.replace(step=steps, truncated=truncated, final_obs=nxt.obs)


class Vmap(Wrapper):
    """Batches an env: ``reset(keys [B, 2])`` and ``step(states [B], actions [B, act])``."""

    def reset(self, key: Array) -> State:  # noqa: D102
        return jax.vmap(self.env.reset)(key)

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        return jax.vmap(self.env.step)(state, action)


class AutoReset(Wrapper):
    """On a batched env: every env whose episode ended is replaced by a FRESH random reset.

    The reset is computed only on steps where some env is done (a ``lax.cond`` at batch level),
    with a key split from that env's own ``rng``. ``final_obs``, ``reward``, ``terminated`` and
    ``truncated`` of the finishing step are kept; ``obs`` becomes the new episode's first.
    """

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        nxt = self.env.step(state, action)
        done = nxt.done > 0

        def reset_done(nxt: State) -> State:
            fresh = self.env.reset(jax.vmap(lambda k: jax.random.split(k)[0])(nxt.rng))

            def pick(new: Array, old: Array) -> Array:
                return jnp.where(done.reshape(done.shape + (1,) * (old.ndim - 1)), new, old)

            merged = jax.tree.map(pick, fresh, nxt)
            # Keep the finishing step's outcome; take the new episode's data, obs, step, rng.
            return merged.replace(
                reward=nxt.reward,
                terminated=nxt.terminated,
                truncated=nxt.truncated,
                final_obs=nxt.final_obs,
                info=nxt.info,
            )

        return jax.lax.cond(jnp.any(done), reset_done, lambda s: s, nxt)


def wrap_for_training(env: Env, episode_length: int | None = None) -> Env:
    """The training stack: ``AutoReset(Vmap(TimeLimit(ClipAction(env))))``."""
    return AutoReset(Vmap(TimeLimit(ClipAction(env), episode_length)))


def wrap_for_eval(env: Env, episode_length: int | None = None) -> Env:
    """The evaluation stack (no auto-reset): ``Vmap(TimeLimit(ClipAction(env)))``."""
    return Vmap(TimeLimit(ClipAction(env), episode_length))
