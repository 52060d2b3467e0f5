"""The suite's small tasks: pendulum, acrobot, cartpole, point_mass, reacher, ball_in_cup."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.dmc.rewards import tolerance
from purejaxppo.envs.dmc.task import DmcTask, norm, reference_id
from purejaxppo.envs.v5.task import divide
from purejaxppo.types import Array

XX, XZ, ZX, ZY, ZZ = 0, 2, 6, 7, 8
"""Entries of a row-major rotation matrix in ``xmat [nbody, 9]`` (dm_control's names)."""


def quadratic_control(action: Array) -> Array:
    """dm_control's small-control term per actuator, ``[nu]``.

    ``tolerance(ctrl, margin=1, value_at_margin=0, sigmoid="quadratic")``: 1 at zero control,
    0 at the control range's ends.
    """
    return tolerance(action, margin=1, value_at_margin=0, sigmoid="quadratic")


class PendulumSwingup(DmcTask):
    """Swing a pendulum up and hold it within 8 degrees of vertical (reward 1 there, else 0)."""

    gymnasium_id = reference_id("pendulum", "swingup")
    domain, dm_task = "pendulum", "swingup"
    data_fields = ("xmat",)
    COSINE_BOUND = float(np.cos(np.deg2rad(8)))

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.pole, self.hinge = self.body("pole"), self.joint_qpos("hinge")

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return InitialState(qpos=self.qpos0().at[self.hinge].set(self.uniform(key, -np.pi, np.pi)))

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        return {"orientation": data.xmat[self.pole, jnp.array([ZZ, XZ])], "velocity": data.qvel}

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        return tolerance(data.xmat[self.pole, ZZ], (self.COSINE_BOUND, 1.0))


class AcrobotSwingup(DmcTask):
    """Swing a two-link arm's tip into a target above it (smooth reward, margin 1)."""

    gymnasium_id = reference_id("acrobot", "swingup")
    domain, dm_task = "acrobot", "swingup"
    data_fields = ("xmat", "site_xpos")

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.arms = jnp.array([self.body("upper_arm"), self.body("lower_arm")])
        self.tip, self.target = self.site("tip"), self.site("target")
        self.joints = jnp.array([self.joint_qpos("shoulder"), self.joint_qpos("elbow")])
        self.target_radius = float(self.mj_model.site_size[self.target, 0])

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        angles = self.uniform(key, -np.pi, np.pi, (2,))
        return InitialState(qpos=self.qpos0().at[self.joints].set(angles))

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        arms = data.xmat[self.arms]
        return {"orientations": jnp.concatenate([arms[:, XZ], arms[:, ZZ]]), "velocity": data.qvel}

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        distance = norm(data.site_xpos[self.target] - data.site_xpos[self.tip])
        return tolerance(distance, bounds=(0, self.target_radius), margin=1)


class Cartpole(DmcTask):
    """Move a cart to swing up (or keep up) a pole; dense or sparse reward."""

    domain = "cartpole"
    data_fields = ("xmat",)
    swing_up: ClassVar[bool]
    sparse: ClassVar[bool]

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.slider, self.hinge = self.joint_qpos("slider"), self.joint_qpos("hinge_1")

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        k_pos, k_rest, k_vel = jax.random.split(key, 3)
        nv = self.mj_model.nv
        qpos = self.qpos0()
        if self.swing_up:
            noise = jax.random.normal(k_pos, (2,), self.dtype)
            qpos = qpos.at[self.slider].set(0.01 * noise[0])
            qpos = qpos.at[self.hinge].set(np.pi + 0.01 * noise[1])
            qpos = qpos.at[2:].set(0.1 * jax.random.normal(k_rest, (nv - 2,), self.dtype))
        else:
            qpos = qpos.at[self.slider].set(self.uniform(k_pos, -0.1, 0.1))
            qpos = qpos.at[1:].set(self.uniform(k_rest, -0.034, 0.034, (nv - 1,)))
        return InitialState(qpos=qpos, qvel=0.01 * jax.random.normal(k_vel, (nv,), self.dtype))

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        poles = data.xmat[2:][:, jnp.array([ZZ, XZ])].ravel()
        return {
            "position": jnp.concatenate([data.qpos[self.slider][None], poles]),
            "velocity": data.qvel,
        }

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        cart, cosines = data.qpos[self.slider], data.xmat[2:, ZZ]
        if self.sparse:
            in_range = tolerance(cart, (-0.25, 0.25))
            return in_range * jnp.prod(tolerance(cosines, (0.995, 1.0)))
        upright = (cosines + 1) / 2
        centered = (1 + tolerance(cart, margin=2)) / 2
        small_control = divide(4 + quadratic_control(action)[0], 5)
        small_velocity = (1 + jnp.min(tolerance(data.qvel[1:], margin=5))) / 2
        return jnp.mean(upright) * small_control * small_velocity * centered


class CartpoleBalance(Cartpole):
    """Keep a pole up on a cart from near upright: smooth reward."""

    gymnasium_id = reference_id("cartpole", "balance")
    dm_task, swing_up, sparse = "balance", False, False


class CartpoleBalanceSparse(Cartpole):
    """Keep a pole up on a cart from near upright: reward 1 inside the bounds, else 0."""

    gymnasium_id = reference_id("cartpole", "balance_sparse")
    dm_task, swing_up, sparse = "balance_sparse", False, True


class CartpoleSwingup(Cartpole):
    """Swing a hanging pole up on a cart and keep it there: smooth reward."""

    gymnasium_id = reference_id("cartpole", "swingup")
    dm_task, swing_up, sparse = "swingup", True, False


class CartpoleSwingupSparse(Cartpole):
    """Swing a hanging pole up on a cart: reward 1 inside the bounds, else 0."""

    gymnasium_id = reference_id("cartpole", "swingup_sparse")
    dm_task, swing_up, sparse = "swingup_sparse", True, True


class PointMassEasy(DmcTask):
    """Push a point mass in a plane to a target at the centre, with little control."""

    gymnasium_id = reference_id("point_mass", "easy")
    domain, dm_task = "point_mass", "easy"
    data_fields = ("geom_xpos",)

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.mass, self.target = self.geom("pointmass"), self.geom("target")
        self.target_size = float(self.mj_model.geom_size[self.target, 0])

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        return InitialState(qpos=self.randomize_joints(key, self.qpos0()))

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        return {"position": data.qpos, "velocity": data.qvel}

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        distance = norm(data.geom_xpos[self.target] - data.geom_xpos[self.mass])
        size = self.target_size
        near = tolerance(distance, bounds=(0, size), margin=size)
        return near * divide(jnp.mean(quadratic_control(action)) + 4, 5)


class Reacher(DmcTask):
    """Reach a target drawn per episode with a two-link arm's fingertip (reward 1 on it)."""

    domain = "reacher"
    data_fields = ("geom_xpos",)
    target_size: ClassVar[float]

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.finger = self.geom("finger")
        sizes = self.mj_model.geom_size[[self.geom("target"), self.finger], 0]
        self.radii = float(sizes.sum())

    def edit_model(self, model: Any) -> None:  # noqa: D102
        import mujoco

        model.geom_size[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "target"), 0] = (
            self.target_size
        )

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        k_joints, k_angle, k_radius = jax.random.split(key, 3)
        angle = self.uniform(k_angle, 0, 2 * np.pi)
        radius = self.uniform(k_radius, 0.05, 0.2)
        target = jnp.stack([radius * jnp.sin(angle), radius * jnp.cos(angle)])
        return InitialState(qpos=self.randomize_joints(k_joints, self.qpos0()), task=target)

    def task_from_reference(self, physics: Any) -> np.ndarray:
        """The target's xy (dm_control moves the target geom)."""
        return np.array(physics.named.model.geom_pos["target", :2])

    def observations(self, data: SimData, task: Array) -> dict[str, Array]:  # noqa: D102
        to_target = task - data.geom_xpos[self.finger, :2]
        return {"position": data.qpos, "to_target": to_target, "velocity": data.qvel}

    def score(self, data: SimData, action: Array, task: Array) -> Array:  # noqa: D102
        distance = norm(task - data.geom_xpos[self.finger, :2])
        return tolerance(distance, (0, self.radii))


class ReacherEasy(Reacher):
    """Reach a 5 cm target with a two-link arm's fingertip."""

    gymnasium_id = reference_id("reacher", "easy")
    dm_task, target_size = "easy", 0.05


class ReacherHard(Reacher):
    """Reach a 1.5 cm target with a two-link arm's fingertip."""

    gymnasium_id = reference_id("reacher", "hard")
    dm_task, target_size = "hard", 0.015


class BallInCupCatch(DmcTask):
    """Swing a ball on a string into a cup: reward 1 while it is in.

    The ball's start is drawn again until it touches nothing (no cap, as dm_control).
    """

    gymnasium_id = reference_id("ball_in_cup", "catch")
    domain, dm_task = "ball_in_cup", "catch"
    substeps = 10
    data_fields = ("xpos", "site_xpos", "ncon")
    reset_tries = None

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        m = self.mj_model
        self.ball_x, self.ball_z = self.joint_qpos("ball_x"), self.joint_qpos("ball_z")
        self.ball, self.target = self.body("ball"), self.site("target")
        xz = np.array([0, 2])
        self.room = jnp.asarray(m.site_size[self.target, xz] - m.geom_size[self.geom("ball"), 0])

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        k_x, k_z = jax.random.split(key)
        qpos = self.qpos0().at[self.ball_x].set(self.uniform(k_x, -0.2, 0.2))
        return InitialState(qpos=qpos.at[self.ball_z].set(self.uniform(k_z, 0.2, 0.5)))

    def accept_initial(self, data: SimData, initial: InitialState) -> Array:  # noqa: D102
        return data.ncon == 0

    def observations(self, data: SimData, task: Any) -> dict[str, Array]:  # noqa: D102
        return {"position": data.qpos, "velocity": data.qvel}

    def score(self, data: SimData, action: Array, task: Any) -> Array:  # noqa: D102
        xz = jnp.array([0, 2])
        offset = data.site_xpos[self.target, xz] - data.xpos[self.ball, xz]
        return jnp.all(jnp.abs(offset) < self.room).astype(data.qpos.dtype)
