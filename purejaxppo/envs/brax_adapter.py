"""Brax's own environments (``brax/<name>``) behind the purejaxppo contract.

Brax's environments differ from Gymnasium's v5 tasks (other XMLs, solver settings, rewards); they
are here as an option and as a fast way to exercise the trainer. Any Brax backend works
(``mjx``, ``generalized``, ``positional``, ``spring``). Brax's ``done`` is a termination; the time
limit is ours (:class:`~purejaxppo.envs.wrappers.TimeLimit`), never Brax's episode wrapper.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from purejaxppo.envs.base import Array, Env, State

BRAX_BACKENDS = ("mjx", "generalized", "positional", "spring")


def brax_env_names() -> list[str]:
    """Names of Brax's registered environments."""
    from brax import envs as brax_envs

    return sorted(brax_envs._envs)  # Brax keeps its registry in this module-level dict.


class BraxEnv(Env):
    """Adapts ``brax.envs.get_environment(name, backend=..., **kwargs)``.

    Args:
        name: a Brax environment name, e.g. ``"halfcheetah"``.
        backend: Brax physics backend.
        episode_length: time limit in steps.
        **kwargs: passed to the Brax environment's constructor.
    """

    def __init__(self, name: str, backend: str = "mjx", episode_length: int = 1000, **kwargs):
        if backend not in BRAX_BACKENDS:
            raise ValueError(f"unknown Brax backend {backend!r}: choose one of {BRAX_BACKENDS}")
        import warnings

        from brax import envs as brax_envs

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*not actively being maintained.*")
            self._env = brax_envs.get_environment(name, backend=backend, **kwargs)
        self.name = name
        self.backend = backend
        self._episode_length = episode_length

    @property
    def observation_size(self) -> int:  # noqa: D102
        return int(self._env.observation_size)

    @property
    def action_size(self) -> int:  # noqa: D102
        return int(self._env.action_size)

    @property
    def episode_length(self) -> int:  # noqa: D102
        return self._episode_length

    @property
    def dt(self) -> float:
        """Seconds of simulated time per step."""
        return float(self._env.dt)

    def reset(self, key: Array) -> State:  # noqa: D102
        k_env, k_rng = jax.random.split(key)
        bstate = self._env.reset(k_env)
        return State.create(
            data=bstate,
            obs=jnp.asarray(bstate.obs, jnp.float32),
            rng=k_rng,
            info={k: jnp.asarray(v, jnp.float32) for k, v in bstate.metrics.items()},
        )

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        bstate = self._env.step(state.data, action)
        return state.replace(
            data=bstate,
            obs=jnp.asarray(bstate.obs, jnp.float32),
            reward=jnp.asarray(bstate.reward, jnp.float32),
            terminated=jnp.asarray(bstate.done, jnp.float32),
            info={k: jnp.asarray(v, jnp.float32) for k, v in bstate.metrics.items()},
        )

    def __repr__(self) -> str:
        return f"BraxEnv({self.name!r}, backend={self.backend!r})"
