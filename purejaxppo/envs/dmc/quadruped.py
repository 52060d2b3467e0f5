"""The suite's quadruped (12 filtered actuators) on a flat floor: walk and run."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.dmc.classic import ZZ
from purejaxppo.envs.dmc.rewards import tolerance
from purejaxppo.envs.dmc.task import DmcTask, dm_control_module, gaussian_quaternion, reference_id
from purejaxppo.envs.task import redraw
from purejaxppo.types import Array

HEIGHT_TRIES = 10000
"""dm_control raises 1 cm at a time from the floor, and gives up after this many heights."""


class Quadruped(DmcTask):
    """A 3-D quadruped: move forward at ``desired_speed`` or more, upright.

    Each episode starts from a uniformly random orientation at the lowest height, in 1 cm
    steps from 0, where nothing touches (the last of dm_control's 10000 heights if none).
    """

    domain = "quadruped"
    substeps = 4
    data_fields = ("xmat", "act", "sensordata", "ncon")
    desired_speed: ClassVar[float]
    TIME_LIMIT = 20

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        m = self.mj_model
        hinges = np.flatnonzero(m.jnt_type == mujoco.mjtJoint.mjJNT_HINGE)
        self.hinge_qpos = jnp.asarray(m.jnt_qposadr[hinges])
        self.hinge_dof = jnp.asarray(m.jnt_dofadr[hinges])
        self.root = self.joint_qpos("root")
        self.torso = self.body("torso")
        self.velocimeter = self.sensor("velocimeter")
        self.imu = self._sensors_of(
            mujoco.mjtSensor.mjSENS_GYRO, mujoco.mjtSensor.mjSENS_ACCELEROMETER
        )
        self.force_torque = self._sensors_of(
            mujoco.mjtSensor.mjSENS_FORCE, mujoco.mjtSensor.mjSENS_TORQUE
        )

    @classmethod
    def model_xml(cls) -> bytes:
        """dm_control's quadruped on a floor of ``time limit x speed`` (``make_model``)."""
        floor = cls.TIME_LIMIT * cls.desired_speed
        return dm_control_module("suite.quadruped").make_model(floor_size=floor)

    def _sensors_of(self, *kinds: mujoco.mjtSensor) -> Array:
        """Sensordata's entries of the sensors of these types, in sensor order."""
        m = self.mj_model
        ids = np.flatnonzero(np.isin(m.sensor_type, [int(k) for k in kinds]))
        return jnp.asarray(
            np.concatenate(
                [np.arange(m.sensor_adr[i], m.sensor_adr[i] + m.sensor_dim[i]) for i in ids]
            )
        )

    def draw(self, key: Array) -> tuple[Any, InitialState]:
        """The orientation drawn once; the height raised 1 cm a try until nothing touches."""
        orientation = gaussian_quaternion(key, self.dtype)
        qpos0 = self.qpos0().at[self.root + 3 : self.root + 7].set(orientation)

        def one(k: Array, attempt: Array) -> tuple[Any, InitialState]:
            del k
            z = jax.lax.fori_loop(0, attempt, lambda i, z: z + 0.01, jnp.zeros((), self.dtype))
            initial = InitialState(qpos=qpos0.at[self.root + 2].set(z))
            initial = initial.complete(self.mj_model, self.dtype)
            return self.engine.reset(initial), initial

        def accept(drawn: tuple[Any, InitialState]) -> Array:
            return self.engine.view(drawn[0]).ncon == 0

        return redraw(key, one, accept, HEIGHT_TRIES)

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        return {
            "egocentric_state": jnp.concatenate(
                [data.qpos[self.hinge_qpos], data.qvel[self.hinge_dof], data.act]
            ),
            "torso_velocity": data.sensordata[self.velocimeter],
            "torso_upright": data.xmat[self.torso, ZZ],
            "imu": data.sensordata[self.imu],
            "force_torque": jnp.arcsinh(data.sensordata[self.force_torque]),
        }

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        upright = tolerance(
            data.xmat[self.torso, ZZ], (1.0, np.inf), sigmoid="linear", margin=2.0,
            value_at_margin=0,
        )  # fmt: skip
        v = self.desired_speed
        move = tolerance(
            data.sensordata[self.velocimeter][0], (v, np.inf), margin=v, value_at_margin=0.5,
            sigmoid="linear",
        )  # fmt: skip
        return upright * move


class QuadrupedWalk(Quadruped):
    """Walk a quadruped forward at 0.5 m/s or more, upright."""

    gymnasium_id = reference_id("quadruped", "walk")
    dm_task, desired_speed = "walk", 0.5


class QuadrupedRun(Quadruped):
    """Run a quadruped forward at 5 m/s or more, upright."""

    gymnasium_id = reference_id("quadruped", "run")
    dm_task, desired_speed = "run", 5.0
