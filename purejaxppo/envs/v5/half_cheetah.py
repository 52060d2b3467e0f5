"""HalfCheetah-v5 (gymnasium/envs/mujoco/half_cheetah_v5.py)."""

from __future__ import annotations

import jax.numpy as jnp

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.task import Outcome
from purejaxppo.envs.v5.task import V5Task, divide
from purejaxppo.types import Array


class HalfCheetah(V5Task):
    """Run forward: reward ``dx/dt - 0.1 sum(a^2)``; never terminates; 17 observations."""

    gymnasium_id = "HalfCheetah-v5"
    xml_file = "half_cheetah.xml"
    frame_skip = 5
    info_keys = ("x_position", "x_velocity", "reward_forward", "reward_ctrl")

    def __init__(
        self,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 0.1,
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
        return self._noisy_init(key, self.reset_noise_scale, "normal")

    def observation(self, data: SimData, task: object = ()) -> Array:  # noqa: D102
        qpos = data.qpos[1:] if self.exclude_current_positions else data.qpos
        return jnp.concatenate([qpos, data.qvel])

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:  # noqa: D102
        x_velocity = divide(after.qpos[0] - before.qpos[0], self.dt)
        forward = self.forward_reward_weight * x_velocity
        ctrl_cost = self.ctrl_cost_weight * jnp.sum(jnp.square(action))
        info = {
            "x_position": after.qpos[0],
            "x_velocity": x_velocity,
            "reward_forward": forward,
            "reward_ctrl": -ctrl_cost,
        }
        return Outcome(forward - ctrl_cost, jnp.zeros((), bool), info)
