"""The suite's planar runners: cheetah, walker and hopper."""

from __future__ import annotations

from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.dmc.classic import XX, XZ, ZZ, quadratic_control
from purejaxppo.envs.dmc.rewards import tolerance
from purejaxppo.envs.dmc.task import DmcTask, reference_id
from purejaxppo.envs.v5.task import divide
from purejaxppo.types import Array


class CheetahRun(DmcTask):
    """Run a planar cheetah forward: reward rises linearly with speed up to 10 m/s.

    Each episode starts from its limited joints drawn uniformly in their ranges, then 200
    zero-control physics steps (dm_control's order: the first completes a step begun at the
    default pose), the clock reset to 0.
    """

    gymnasium_id = reference_id("cheetah", "run")
    domain, dm_task = "cheetah", "run"
    data_fields = ("sensordata",)
    settle_steps = 200
    settle_from_default_pose = True
    RUN_SPEED = 10.0

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.limited = jnp.asarray(np.flatnonzero(self.mj_model.jnt_limited == 1))
        lower, upper = self.mj_model.jnt_range[np.asarray(self.limited)].T
        self.lower, self.upper = jnp.asarray(lower), jnp.asarray(upper)
        self.speed = self.sensor("torso_subtreelinvel").start

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        draw = self.uniform(key, self.lower, self.upper, (len(self.lower),))
        return InitialState(qpos=self.qpos0().at[self.limited].set(draw))

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        return {"position": data.qpos[1:], "velocity": data.qvel}

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        speed = data.sensordata[self.speed]
        run = self.RUN_SPEED
        return tolerance(speed, (run, np.inf), margin=run, value_at_margin=0, sigmoid="linear")


class Walker(DmcTask):
    """A planar biped: stand (torso above 1.2 m, upright), and move at ``move_speed`` m/s."""

    domain = "walker"
    substeps = 10
    data_fields = ("xpos", "xmat", "sensordata")
    move_speed: ClassVar[float]
    STAND_HEIGHT = 1.2

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.torso = self.body("torso")
        self.speed = self.sensor("torso_subtreelinvel").start

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return InitialState(qpos=self.randomize_joints(key, self.qpos0()))

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        return {
            "orientations": data.xmat[1:][:, jnp.array([XX, XZ])].ravel(),
            "height": data.xpos[self.torso, 2],
            "velocity": data.qvel,
        }

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        h = self.STAND_HEIGHT
        standing = tolerance(data.xpos[self.torso, 2], (h, np.inf), margin=h / 2)
        upright = (1 + data.xmat[self.torso, ZZ]) / 2
        stand = (3 * standing + upright) / 4
        if self.move_speed == 0:
            return stand
        v = self.move_speed
        move = tolerance(
            data.sensordata[self.speed], (v, np.inf), margin=v / 2, value_at_margin=0.5,
            sigmoid="linear",
        )  # fmt: skip
        return divide(stand * (5 * move + 1), 6)


class WalkerStand(Walker):
    """Stand a planar biped up and keep it upright."""

    gymnasium_id = reference_id("walker", "stand")
    dm_task, move_speed = "stand", 0.0


class WalkerWalk(Walker):
    """Walk a planar biped forward at 1 m/s or more, upright."""

    gymnasium_id = reference_id("walker", "walk")
    dm_task, move_speed = "walk", 1.0


class WalkerRun(Walker):
    """Run a planar biped forward at 8 m/s or more, upright."""

    gymnasium_id = reference_id("walker", "run")
    dm_task, move_speed = "run", 8.0


class Hopper(DmcTask):
    """A planar one-legged hopper: stand its torso 0.6 m above its foot, or hop forward."""

    domain = "hopper"
    substeps = 4
    data_fields = ("xipos", "sensordata")
    hopping: ClassVar[bool]
    STAND_HEIGHT, HOP_SPEED = 0.6, 2.0

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.torso, self.foot = self.body("torso"), self.body("foot")
        self.speed = self.sensor("torso_subtreelinvel").start
        self.touch = jnp.array([self.sensor("touch_toe").start, self.sensor("touch_heel").start])

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return InitialState(qpos=self.randomize_joints(key, self.qpos0()))

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        return {
            "position": data.qpos[1:],
            "velocity": data.qvel,
            "touch": jnp.log1p(data.sensordata[self.touch]),
        }

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        height = data.xipos[self.torso, 2] - data.xipos[self.foot, 2]
        standing = tolerance(height, (self.STAND_HEIGHT, 2.0))
        if self.hopping:
            v = self.HOP_SPEED
            hopping = tolerance(
                data.sensordata[self.speed], (v, np.inf), margin=v / 2, value_at_margin=0.5,
                sigmoid="linear",
            )  # fmt: skip
            return standing * hopping
        return standing * divide(jnp.mean(quadratic_control(action)) + 4, 5)


class HopperStand(Hopper):
    """Stand a planar one-legged hopper up, with little control."""

    gymnasium_id = reference_id("hopper", "stand")
    dm_task, hopping = "stand", False


class HopperHop(Hopper):
    """Hop a planar one-legged hopper forward at 2 m/s or more, standing."""

    gymnasium_id = reference_id("hopper", "hop")
    dm_task, hopping = "hop", True
