"""Hopper-v5 and Walker2d-v5 (gymnasium's hopper_v5.py, walker2d_v5.py).

Both: reward ``dx/dt + healthy_reward * is_healthy - ctrl_cost_weight * sum(a^2)``, terminated
when unhealthy, observation ``qpos[1:]`` and ``clip(qvel, -10, 10)``, uniform reset noise on qpos
and qvel. They differ in the health rule and the XML.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.task import Outcome
from purejaxppo.envs.v5.task import V5Task, divide
from purejaxppo.types import Array


class _PlanarWalker(V5Task):
    frame_skip = 4
    info_keys = (
        "x_position",
        "z_distance_from_origin",
        "x_velocity",
        "reward_forward",
        "reward_ctrl",
        "reward_survive",
    )

    def __init__(
        self,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 1e-3,
        healthy_reward: float = 1.0,
        terminate_when_unhealthy: bool = True,
        healthy_z_range: tuple[float, float] = (0.7, math.inf),
        healthy_angle_range: tuple[float, float] = (-0.2, 0.2),
        reset_noise_scale: float = 5e-3,
        exclude_current_positions_from_observation: bool = True,
        **physics,
    ):
        super().__init__(**physics)
        self.forward_reward_weight = forward_reward_weight
        self.ctrl_cost_weight = ctrl_cost_weight
        self.healthy_reward = healthy_reward
        self.terminate_when_unhealthy = terminate_when_unhealthy
        self.healthy_z_range = healthy_z_range
        self.healthy_angle_range = healthy_angle_range
        self.reset_noise_scale = reset_noise_scale
        self.exclude_current_positions = exclude_current_positions_from_observation

    def is_healthy(self, data: SimData) -> Array:
        """Gymnasium's ``is_healthy`` (strict inequalities)."""
        z, angle = data.qpos[1], data.qpos[2]
        (zlo, zhi), (alo, ahi) = self.healthy_z_range, self.healthy_angle_range
        return (zlo < z) & (z < zhi) & (alo < angle) & (angle < ahi)

    def initial_state(self, key: Array) -> InitialState:
        return self._noisy_init(key, self.reset_noise_scale, "uniform")

    def observation(self, data: SimData, task: object = ()) -> Array:
        qpos = data.qpos[1:] if self.exclude_current_positions else data.qpos
        return jnp.concatenate([qpos, jnp.clip(data.qvel, -10.0, 10.0)])

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:
        x_velocity = divide(after.qpos[0] - before.qpos[0], self.dt)
        forward = self.forward_reward_weight * x_velocity
        healthy = self.is_healthy(after)
        survive = healthy * self.healthy_reward
        ctrl_cost = self.ctrl_cost_weight * jnp.sum(jnp.square(action))
        terminated = ~healthy if self.terminate_when_unhealthy else jnp.zeros((), bool)
        info = {
            "x_position": after.qpos[0],
            "z_distance_from_origin": after.qpos[1] - self.init_qpos[1],
            "x_velocity": x_velocity,
            "reward_forward": forward,
            "reward_ctrl": -ctrl_cost,
            "reward_survive": survive.astype(forward.dtype),
        }
        return Outcome(forward + survive - ctrl_cost, terminated, info)


class Hopper(_PlanarWalker):
    """Hop forward; 11 observations.

    Healthy while ``qpos[2:]`` and ``qvel`` are within ``healthy_state_range``,
    ``qpos[1] > 0.7`` and ``|qpos[2]| < 0.2``.
    """

    gymnasium_id = "Hopper-v5"
    xml_file = "hopper.xml"

    def __init__(self, healthy_state_range: tuple[float, float] = (-100.0, 100.0), **kwargs):
        super().__init__(**kwargs)
        self.healthy_state_range = healthy_state_range

    def is_healthy(self, data: SimData) -> Array:  # noqa: D102
        lo, hi = self.healthy_state_range
        state = jnp.concatenate([data.qpos[2:], data.qvel])
        return super().is_healthy(data) & jnp.all((lo < state) & (state < hi))


class Walker2d(_PlanarWalker):
    """Walk forward; healthy while ``0.8 < qpos[1] < 2`` and ``|qpos[2]| < 1``; 17 observations."""

    gymnasium_id = "Walker2d-v5"
    xml_file = "walker2d_v5.xml"

    def __init__(
        self,
        healthy_z_range: tuple[float, float] = (0.8, 2.0),
        healthy_angle_range: tuple[float, float] = (-1.0, 1.0),
        **kwargs,
    ):
        super().__init__(
            healthy_z_range=healthy_z_range, healthy_angle_range=healthy_angle_range, **kwargs
        )
