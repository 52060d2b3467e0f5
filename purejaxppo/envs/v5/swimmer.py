"""Swimmer-v5 (gymnasium/envs/mujoco/swimmer_v5.py): fluid forces, RK4."""

from __future__ import annotations

import jax.numpy as jnp

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.task import Outcome
from purejaxppo.envs.v5.task import V5Task, divide
from purejaxppo.types import Array


class Swimmer(V5Task):
    """Swim along +x: reward ``dx/dt - 1e-4 sum(a^2)``; never terminates; 8 observations."""

    gymnasium_id = "Swimmer-v5"
    xml_file = "swimmer.xml"
    frame_skip = 4
    info_keys = (
        "x_position",
        "y_position",
        "distance_from_origin",
        "x_velocity",
        "y_velocity",
        "reward_forward",
        "reward_ctrl",
    )

    def __init__(
        self,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 1e-4,
        reset_noise_scale: float = 0.1,
        exclude_current_positions_from_observation: bool = True,
        **physics,
    ):
        super().__init__(**physics)
        self.forward_reward_weight = forward_reward_weight
        self.ctrl_cost_weight = ctrl_cost_weight
        self.reset_noise_scale = reset_noise_scale
        self.exclude_current_positions = exclude_current_positions_from_observation

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return self._noisy_init(key, self.reset_noise_scale, "uniform")

    def observation(self, data: SimData, task: object = ()) -> Array:  # noqa: D102
        qpos = data.qpos[2:] if self.exclude_current_positions else data.qpos
        return jnp.concatenate([qpos, data.qvel])

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:  # noqa: D102
        xy_velocity = divide(after.qpos[:2] - before.qpos[:2], self.dt)
        forward = self.forward_reward_weight * xy_velocity[0]
        ctrl_cost = self.ctrl_cost_weight * jnp.sum(jnp.square(action))
        info = {
            "x_position": after.qpos[0],
            "y_position": after.qpos[1],
            "distance_from_origin": jnp.linalg.norm(after.qpos[:2]),
            "x_velocity": xy_velocity[0],
            "y_velocity": xy_velocity[1],
            "reward_forward": forward,
            "reward_ctrl": -ctrl_cost,
        }
        return Outcome(forward - ctrl_cost, jnp.zeros((), bool), info)
