"""The suite's humanoid (21 actuators): stand, walk and run."""

from __future__ import annotations

from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.dmc.classic import ZX, ZY, ZZ, quadratic_control
from purejaxppo.envs.dmc.rewards import tolerance
from purejaxppo.envs.dmc.task import DmcTask, norm, reference_id, vector_times_matrix
from purejaxppo.envs.v5.task import divide
from purejaxppo.types import Array


class Humanoid(DmcTask):
    """A 3-D humanoid: head above 1.4 m, torso upright, small control, moving at a speed.

    ``move_speed`` 0 rewards standing still. Episodes start from joints drawn until nothing
    touches (no cap, as dm_control).
    """

    domain = "humanoid"
    substeps = 5
    data_fields = ("xpos", "xmat", "sensordata", "ncon")
    reset_tries = None
    move_speed: ClassVar[float]
    STAND_HEIGHT = 1.4
    LIMBS = ("left_hand", "left_foot", "right_hand", "right_foot")

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.torso, self.head = self.body("torso"), self.body("head")
        self.limbs = jnp.array([self.body(b) for b in self.LIMBS])
        self.com_velocity = self.sensor("torso_subtreelinvel")

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return InitialState(qpos=self.randomize_joints(key, self.qpos0()))

    def accept_initial(self, data: SimData, initial: InitialState) -> Array:  # noqa: D102
        return data.ncon == 0

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        frame = data.xmat[self.torso].reshape(3, 3)
        limbs = vector_times_matrix(data.xpos[self.limbs] - data.xpos[self.torso], frame)
        return {
            "joint_angles": data.qpos[7:],
            "head_height": data.xpos[self.head, 2],
            "extremities": limbs.ravel(),
            "torso_vertical": data.xmat[self.torso, jnp.array([ZX, ZY, ZZ])],
            "com_velocity": data.sensordata[self.com_velocity],
            "velocity": data.qvel,
        }

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        h = self.STAND_HEIGHT
        standing = tolerance(data.xpos[self.head, 2], (h, np.inf), margin=h / 4)
        upright = tolerance(
            data.xmat[self.torso, ZZ], (0.9, np.inf), sigmoid="linear", margin=1.9,
            value_at_margin=0,
        )  # fmt: skip
        small_control = divide(4 + jnp.mean(quadratic_control(action)), 5)
        horizontal = data.sensordata[self.com_velocity][:2]
        if self.move_speed == 0:
            dont_move = jnp.mean(tolerance(horizontal, margin=2))
            return small_control * (standing * upright) * dont_move
        v = self.move_speed
        move = tolerance(
            norm(horizontal), (v, np.inf), margin=v, value_at_margin=0,
            sigmoid="linear",
        )  # fmt: skip
        return small_control * (standing * upright) * divide(5 * move + 1, 6)


class HumanoidStand(Humanoid):
    """Stand a humanoid up and keep it still."""

    gymnasium_id = reference_id("humanoid", "stand")
    dm_task, move_speed = "stand", 0.0


class HumanoidWalk(Humanoid):
    """Walk a humanoid at 1 m/s or more, standing."""

    gymnasium_id = reference_id("humanoid", "walk")
    dm_task, move_speed = "walk", 1.0


class HumanoidRun(Humanoid):
    """Run a humanoid at 10 m/s or more, standing."""

    gymnasium_id = reference_id("humanoid", "run")
    dm_task, move_speed = "run", 10.0
