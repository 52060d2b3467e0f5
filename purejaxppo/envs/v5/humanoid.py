"""Humanoid-v5 and HumanoidStandup-v5 (gymnasium's humanoid_v5.py, humanoidstandup_v5.py).

Both XMLs ask for the PGS solver, which MJX does not implement: MJX runs them with Newton (in C
MuJoCo, PGS and Newton give the same returns over random episodes to three decimals); the C
engine runs PGS, as Gymnasium does. Their
observation: ``qpos[2:]`` (22), ``qvel`` (23), ``cinert[1:]`` (130), ``cvel[1:]`` (78),
``qfrc_actuator[6:]`` (17), ``cfrc_ext[1:]`` (78): 348 numbers.
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
import mujoco

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.task import Outcome
from purejaxppo.envs.v5.task import V5Task, divide
from purejaxppo.types import Array


class _HumanoidBody(V5Task):
    frame_skip = 5
    data_fields: ClassVar[tuple[str, ...]] = ("cinert", "cvel", "qfrc_actuator", "cfrc_ext")

    def __init__(
        self,
        ctrl_cost_weight: float = 0.1,
        reset_noise_scale: float = 1e-2,
        exclude_current_positions_from_observation: bool = True,
        include_cinert_in_observation: bool = True,
        include_cvel_in_observation: bool = True,
        include_qfrc_actuator_in_observation: bool = True,
        include_cfrc_ext_in_observation: bool = True,
        **physics,
    ):
        super().__init__(**physics)
        self.ctrl_cost_weight = ctrl_cost_weight
        self.reset_noise_scale = reset_noise_scale
        self.exclude_current_positions = exclude_current_positions_from_observation
        self.include = (
            include_cinert_in_observation,
            include_cvel_in_observation,
            include_qfrc_actuator_in_observation,
            include_cfrc_ext_in_observation,
        )

    def prepare_model(self, mj_model: mujoco.MjModel, physics: str) -> None:
        if mj_model.opt.solver == mujoco.mjtSolver.mjSOL_PGS:
            mj_model.opt.solver = mujoco.mjtSolver.mjSOL_NEWTON

    def initial_state(self, key: Array) -> InitialState:
        return self._noisy_init(key, self.reset_noise_scale, "uniform")

    def observation(self, data: SimData, task: object = ()) -> Array:
        qpos = data.qpos[2:] if self.exclude_current_positions else data.qpos
        optional = (data.cinert[1:], data.cvel[1:], data.qfrc_actuator[6:], data.cfrc_ext[1:])
        parts = [qpos, data.qvel] + [
            x.ravel() for x, on in zip(optional, self.include, strict=True) if on
        ]
        return jnp.concatenate(parts)

    def _ctrl_cost(self, action: Array) -> Array:
        # Gymnasium reads data.ctrl, which holds the action as given (MuJoCo clamps internally).
        return self.ctrl_cost_weight * jnp.sum(jnp.square(action))


class Humanoid(_HumanoidBody):
    """Walk along +x: ``1.25 d(centre of mass x)/dt + 5 healthy - 0.1 sum(ctrl^2) - contact``.

    Healthy while ``1 < qpos[2] < 2``; contact cost ``min(5e-7 sum(cfrc_ext^2), 10)``.
    """

    gymnasium_id = "Humanoid-v5"
    xml_file = "humanoid.xml"
    data_fields = (*_HumanoidBody.data_fields, "xipos")
    info_keys = (
        "x_position",
        "y_position",
        "distance_from_origin",
        "x_velocity",
        "y_velocity",
        "reward_survive",
        "reward_forward",
        "reward_ctrl",
        "reward_contact",
    )

    def __init__(
        self,
        forward_reward_weight: float = 1.25,
        contact_cost_weight: float = 5e-7,
        contact_cost_range: tuple[float, float] = (-math.inf, 10.0),
        healthy_reward: float = 5.0,
        terminate_when_unhealthy: bool = True,
        healthy_z_range: tuple[float, float] = (1.0, 2.0),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.forward_reward_weight = forward_reward_weight
        self.contact_cost_weight = contact_cost_weight
        self.contact_cost_range = contact_cost_range
        self.healthy_reward = healthy_reward
        self.terminate_when_unhealthy = terminate_when_unhealthy
        self.healthy_z_range = healthy_z_range
        self._mass = jnp.asarray(self.mj_model.body_mass, self.init_qpos.dtype)[:, None]

    def _mass_center_xy(self, data: SimData) -> Array:
        # Gymnasium's mass_center, operation for operation
        return divide(jnp.sum(self._mass * data.xipos, axis=0), jnp.sum(self._mass))[:2]

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:  # noqa: D102
        xy_velocity = divide(self._mass_center_xy(after) - self._mass_center_xy(before), self.dt)
        forward = self.forward_reward_weight * xy_velocity[0]
        zlo, zhi = self.healthy_z_range
        healthy = (zlo < after.qpos[2]) & (after.qpos[2] < zhi)
        survive = (healthy * self.healthy_reward).astype(forward.dtype)
        ctrl_cost = self._ctrl_cost(action)
        contact_cost = jnp.clip(
            self.contact_cost_weight * jnp.sum(jnp.square(after.cfrc_ext)),
            *self.contact_cost_range,
        )
        terminated = ~healthy if self.terminate_when_unhealthy else jnp.zeros((), bool)
        info = {
            "x_position": after.qpos[0],
            "y_position": after.qpos[1],
            "distance_from_origin": jnp.linalg.norm(after.qpos[:2]),
            "x_velocity": xy_velocity[0],
            "y_velocity": xy_velocity[1],
            "reward_survive": survive,
            "reward_forward": forward,
            "reward_ctrl": -ctrl_cost,
            "reward_contact": -contact_cost,
        }
        return Outcome(forward + survive - ctrl_cost - contact_cost, terminated, info)


class HumanoidStandup(_HumanoidBody):
    """Stand up from lying: ``qpos[2] / timestep - 0.1 sum(ctrl^2) - impact + 1``; no termination.

    Impact cost ``min(5e-7 sum(cfrc_ext^2), 10)``; the height term divides by the physics
    timestep (not dt), as Gymnasium does.
    """

    gymnasium_id = "HumanoidStandup-v5"
    xml_file = "humanoidstandup.xml"
    info_keys = (
        "x_position",
        "y_position",
        "z_distance_from_origin",
        "reward_linup",
        "reward_quadctrl",
        "reward_impact",
    )

    def __init__(
        self,
        uph_cost_weight: float = 1.0,
        impact_cost_weight: float = 5e-7,
        impact_cost_range: tuple[float, float] = (-math.inf, 10.0),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.uph_cost_weight = uph_cost_weight
        self.impact_cost_weight = impact_cost_weight
        self.impact_cost_range = impact_cost_range

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:  # noqa: D102
        del before
        # Gymnasium computes (pos_after - 0) / timestep and never applies uph_cost_weight.
        uph = divide(after.qpos[2], float(self.mj_model.opt.timestep))
        ctrl_cost = self._ctrl_cost(action)
        impact = jnp.clip(
            self.impact_cost_weight * jnp.sum(jnp.square(after.cfrc_ext)), *self.impact_cost_range
        )
        info = {
            "x_position": after.qpos[0],
            "y_position": after.qpos[1],
            "z_distance_from_origin": after.qpos[2] - self.init_qpos[2],
            "reward_linup": uph,
            "reward_quadctrl": -ctrl_cost,
            "reward_impact": -impact,
        }
        return Outcome(uph - ctrl_cost - impact + 1.0, jnp.zeros((), bool), info)
