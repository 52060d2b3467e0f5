"""InvertedPendulum-v5 and InvertedDoublePendulum-v5 (gymnasium's inverted_*_v5.py)."""

from __future__ import annotations

import jax.numpy as jnp

from purejaxppo.envs.v5.task import SimData, V5Task
from purejaxppo.types import Array


class InvertedPendulum(V5Task):
    """Balance a pole on a cart: reward 1 per step; terminated when ``|qpos[1]| > 0.2``."""

    xml_file = "inverted_pendulum.xml"
    frame_skip = 2
    info_keys = ("reward_survive",)

    def __init__(self, reset_noise_scale: float = 0.01, **physics):
        super().__init__(**physics)
        self.reset_noise_scale = reset_noise_scale

    def _reset_qpos_qvel(self, key: Array) -> tuple[Array, Array]:
        return self._noisy_init(key, self.reset_noise_scale, "uniform")

    def _get_obs(self, data: SimData) -> Array:
        return jnp.concatenate([data.qpos, data.qvel])

    def _reward(self, before: SimData, after: SimData, action: Array):
        obs = self._get_obs(after)
        terminated = ~jnp.all(jnp.isfinite(obs)) | (jnp.abs(obs[1]) > 0.2)
        reward = (~terminated).astype(obs.dtype)
        return reward, terminated, {"reward_survive": reward}


class InvertedDoublePendulum(V5Task):
    """Balance two poles: ``10 alive - (0.01 x^2 + (y - 2)^2) - (1e-3 w1^2 + 5e-3 w2^2)``.

    ``(x, _, y)`` is the tip site's position; terminated when ``y <= 1``.
    """

    xml_file = "inverted_double_pendulum.xml"
    frame_skip = 5
    data_fields = ("site_xpos", "qfrc_constraint")
    info_keys = ("reward_survive", "distance_penalty", "velocity_penalty")

    def __init__(self, healthy_reward: float = 10.0, reset_noise_scale: float = 0.1, **physics):
        super().__init__(**physics)
        self.healthy_reward = healthy_reward
        self.reset_noise_scale = reset_noise_scale

    def _reset_qpos_qvel(self, key: Array) -> tuple[Array, Array]:
        return self._noisy_init(key, self.reset_noise_scale, "normal")

    def _get_obs(self, data: SimData) -> Array:
        return jnp.concatenate(
            [
                data.qpos[:1],
                jnp.sin(data.qpos[1:]),
                jnp.cos(data.qpos[1:]),
                jnp.clip(data.qvel, -10.0, 10.0),
                jnp.clip(data.qfrc_constraint, -10.0, 10.0)[:1],
            ]
        )

    def _reward(self, before: SimData, after: SimData, action: Array):
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
        return alive - dist_penalty - vel_penalty, terminated, info
