"""Ant-v5 (gymnasium/envs/mujoco/ant_v5.py)."""

from __future__ import annotations

import jax.numpy as jnp

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.task import Outcome
from purejaxppo.envs.v5.task import V5Task, divide
from purejaxppo.types import Array


class Ant(V5Task):
    """Walk along +x: reward ``dx/dt + healthy - 0.5 sum(a^2) - 5e-4 sum(clip(cfrc_ext)^2)``.

    Healthy while the state is finite and ``0.2 <= qpos[2] <= 1``; 105 observations
    (``qpos[2:]``, ``qvel``, ``clip(cfrc_ext[1:], -1, 1)``). ``main_body`` is a body index or name.
    """

    gymnasium_id = "Ant-v5"
    xml_file = "ant.xml"
    frame_skip = 5
    data_fields = ("xpos", "cfrc_ext")
    info_keys = (
        "x_position",
        "y_position",
        "distance_from_origin",
        "x_velocity",
        "y_velocity",
        "reward_forward",
        "reward_ctrl",
        "reward_contact",
        "reward_survive",
    )

    def __init__(
        self,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 0.5,
        contact_cost_weight: float = 5e-4,
        healthy_reward: float = 1.0,
        main_body: int | str = 1,
        terminate_when_unhealthy: bool = True,
        healthy_z_range: tuple[float, float] = (0.2, 1.0),
        contact_force_range: tuple[float, float] = (-1.0, 1.0),
        reset_noise_scale: float = 0.1,
        exclude_current_positions_from_observation: bool = True,
        include_cfrc_ext_in_observation: bool = True,
        **physics,
    ):
        super().__init__(**physics)
        self.forward_reward_weight = forward_reward_weight
        self.ctrl_cost_weight = ctrl_cost_weight
        self.contact_cost_weight = contact_cost_weight
        self.healthy_reward = healthy_reward
        self.main_body = (
            main_body if isinstance(main_body, int) else self.mj_model.body(main_body).id
        )
        self.terminate_when_unhealthy = terminate_when_unhealthy
        self.healthy_z_range = healthy_z_range
        self.contact_force_range = contact_force_range
        self.reset_noise_scale = reset_noise_scale
        self.exclude_current_positions = exclude_current_positions_from_observation
        self.include_cfrc_ext = include_cfrc_ext_in_observation

    def _contact_forces(self, data: SimData) -> Array:
        return jnp.clip(data.cfrc_ext, *self.contact_force_range)

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return self._noisy_init(key, self.reset_noise_scale, "normal")

    def observation(self, data: SimData, task: object = ()) -> Array:  # noqa: D102
        qpos = data.qpos[2:] if self.exclude_current_positions else data.qpos
        parts = [qpos, data.qvel]
        if self.include_cfrc_ext:
            parts.append(self._contact_forces(data)[1:].ravel())
        return jnp.concatenate(parts)

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:  # noqa: D102
        b = self.main_body
        xy_velocity = divide(after.xpos[b, :2] - before.xpos[b, :2], self.dt)
        forward = self.forward_reward_weight * xy_velocity[0]
        state = jnp.concatenate([after.qpos, after.qvel])
        zlo, zhi = self.healthy_z_range
        healthy = jnp.all(jnp.isfinite(state)) & (zlo <= after.qpos[2]) & (after.qpos[2] <= zhi)
        survive = (healthy * self.healthy_reward).astype(forward.dtype)
        ctrl_cost = self.ctrl_cost_weight * jnp.sum(jnp.square(action))
        contact_cost = self.contact_cost_weight * jnp.sum(jnp.square(self._contact_forces(after)))
        terminated = ~healthy if self.terminate_when_unhealthy else jnp.zeros((), bool)
        info = {
            "x_position": after.qpos[0],
            "y_position": after.qpos[1],
            "distance_from_origin": jnp.linalg.norm(after.qpos[:2]),
            "x_velocity": xy_velocity[0],
            "y_velocity": xy_velocity[1],
            "reward_forward": forward,
            "reward_ctrl": -ctrl_cost,
            "reward_contact": -contact_cost,
            "reward_survive": survive,
        }
        return Outcome(forward + survive - ctrl_cost - contact_cost, terminated, info)
