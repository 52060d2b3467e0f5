"""InvertedPendulum-v5 and InvertedDoublePendulum-v5 (gymnasium's inverted_*_v5.py)."""

from __future__ import annotations

import jax.numpy as jnp

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.task import Outcome
from purejaxppo.envs.v5.task import V5Task
from purejaxppo.types import Array


class InvertedPendulum(V5Task):
    """Balance a pole on a cart: reward 1 per step; terminated when ``|qpos[1]| > 0.2``."""

    gymnasium_id = "InvertedPendulum-v5"
    xml_file = "inverted_pendulum.xml"
    frame_skip = 2
    info_keys = ("reward_survive",)

    def __init__(self, reset_noise_scale: float = 0.01, **physics):
        super().__init__(**physics)
        self.reset_noise_scale = reset_noise_scale

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return self._noisy_init(key, self.reset_noise_scale, "uniform")

    def observation(self, data: SimData, task: object = ()) -> Array:  # noqa: D102
        return jnp.concatenate([data.qpos, data.qvel])

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:  # noqa: D102
        obs = self.observation(after)
        terminated = ~jnp.all(jnp.isfinite(obs)) | (jnp.abs(obs[1]) > 0.2)
        reward = (~terminated).astype(obs.dtype)
        return Outcome(reward, terminated, {"reward_survive": reward})


class InvertedDoublePendulum(V5Task):
    """Balance two poles: ``10 alive - (0.01 x^2 + (y - 2)^2) - (1e-3 w1^2 + 5e-3 w2^2)``.

    ``(x, _, y)`` is the tip site's position; terminated when ``y <= 1``.
    """

    gymnasium_id = "InvertedDoublePendulum-v5"
    xml_file = "inverted_double_pendulum.xml"
    frame_skip = 5
    data_fields = ("site_xpos", "qfrc_constraint")
    info_keys = ("reward_survive", "distance_penalty", "velocity_penalty")

    def __init__(self, healthy_reward: float = 10.0, reset_noise_scale: float = 0.1, **physics):
        super().__init__(**physics)
        self.healthy_reward = healthy_reward
        self.reset_noise_scale = reset_noise_scale

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return self._noisy_init(key, self.reset_noise_scale, "normal")

    def observation(self, data: SimData, task: object = ()) -> Array:  # noqa: D102
        return jnp.concatenate(
            [
                data.qpos[:1],
                jnp.sin(data.qpos[1:]),
                jnp.cos(data.qpos[1:]),
                jnp.clip(data.qvel, -10.0, 10.0),
                jnp.clip(data.qfrc_constraint, -10.0, 10.0)[:1],
            ]
        )

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:  # noqa: D102
        x, _, y = after.site_xpos[0]
        terminated = y <= 1.0
        dist_penalty = 0.01 * x**2 + (y - 2.0) ** 2
        vel_penalty = 1e-3 * after.qvel[1] ** 2 + 5e-3 * after.qvel[2] ** 2
        alive = (~terminated) * self.healthy_reward
        info = {
            "reward_survive": alive.astype(x.dtype),
            "distance_penalty": -dist_penalty,
            "velocity_penalty": -vel_penalty,
        }
        return Outcome(alive - dist_penalty - vel_penalty, terminated, info)
