"""The suite's finger: a two-link finger spins a hinged body, or turns its tip to a target."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.dmc.task import DmcTask, norm, reference_id
from purejaxppo.types import Array

XZ = np.array([0, 2])


class Finger(DmcTask):
    """The finger domain: a two-link finger and a hinged body with a tip.

    Joints are drawn until nothing touches, at most 1000 times as dm_control (which raises
    after them; here the last draw is kept).
    """

    domain = "finger"
    substeps = 2
    data_fields = ("sensordata", "ncon")
    reset_tries = 1000

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        s = self.sensor
        self.joints = jnp.array([s("proximal").start, s("distal").start])
        self.velocities = jnp.array(
            [s("proximal_velocity").start, s("distal_velocity").start, s("hinge_velocity").start]
        )
        self.hinge_velocity = s("hinge_velocity").start
        self.touch = jnp.array([s("touchtop").start, s("touchbottom").start])
        self.tip, self.spinner = s("tip").start + XZ, s("spinner").start + XZ

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return InitialState(qpos=self.randomize_joints(key, self.qpos0()))

    def accept_initial(self, data: SimData, initial: InitialState) -> Array:  # noqa: D102
        return data.ncon == 0

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        return {
            "position": jnp.concatenate([data.sensordata[self.joints], self.tip_position(data)]),
            "velocity": data.sensordata[self.velocities],
            "touch": jnp.log1p(data.sensordata[self.touch]),
        }

    def tip_position(self, data: SimData) -> Array:
        """The tip's xz relative to the spinner's centre, ``[2]``."""
        return data.sensordata[self.tip] - data.sensordata[self.spinner]


class FingerSpin(Finger):
    """Spin the hinged body fast (reward 1 while its angular velocity is at most -15 rad/s)."""

    gymnasium_id = reference_id("finger", "spin")
    dm_task = "spin"
    SPIN_VELOCITY = 15.0

    def edit_model(self, model: mujoco.MjModel) -> None:
        """dm_control lowers the spinner's damping for spinning (0.03)."""
        hinge = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "hinge")
        model.dof_damping[model.jnt_dofadr[hinge]] = 0.03

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        spinning = data.sensordata[self.hinge_velocity] <= -self.SPIN_VELOCITY
        return spinning.astype(data.qpos.dtype)


class FingerTurn(Finger):
    """Turn the hinged body's tip to a target drawn per episode on its circle (reward 1 there).

    The target's xz is the episode's value (dm_control moves the target site).
    """

    target_radius: ClassVar[float]

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        m = self.mj_model
        data = mujoco.MjData(m)
        mujoco.mj_forward(m, data)
        hinge = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "hinge")
        self.hinge_xz = data.xanchor[hinge, XZ].copy()
        self.circle = float(m.geom_size[self.geom("cap1")].sum())

    def edit_model(self, model: mujoco.MjModel) -> None:
        """The target's radius, the task's (0.07 easy, 0.03 hard)."""
        model.site_size[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target"), 0] = (
            self.target_radius
        )

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        k_target, k_joints = jax.random.split(key)
        angle = self.uniform(k_target, -np.pi, np.pi)
        x = self.hinge_xz[0] + self.circle * jnp.sin(angle)
        z = self.hinge_xz[1] + self.circle * jnp.cos(angle)
        return super().initial_state(k_joints).replace(task=jnp.stack([x, z]))

    def task_from_reference(self, physics: Any) -> np.ndarray:
        """The target site's xz."""
        return np.array(physics.named.model.site_pos["target", ["x", "z"]])

    def observations(self, data: SimData, task: Array) -> dict[str, Array]:  # noqa: D102
        obs = super().observations(data, task)
        target = task - data.sensordata[self.spinner]
        obs["target_position"] = target
        obs["dist_to_target"] = self._distance(data, target)
        return obs

    def _distance(self, data: SimData, target: Array) -> Array:
        return norm(target - self.tip_position(data)) - self.target_radius

    def score(self, data: SimData, action: Array, task: Array) -> Array:  # noqa: D102
        target = task - data.sensordata[self.spinner]
        return (self._distance(data, target) <= 0).astype(data.qpos.dtype)


class FingerTurnEasy(FingerTurn):
    """Turn the spinner's tip to a 7 cm target."""

    gymnasium_id = reference_id("finger", "turn_easy")
    dm_task, target_radius = "turn_easy", 0.07


class FingerTurnHard(FingerTurn):
    """Turn the spinner's tip to a 3 cm target."""

    gymnasium_id = reference_id("finger", "turn_hard")
    dm_task, target_radius = "turn_hard", 0.03
