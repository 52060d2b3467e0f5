"""The suite's swimmers in a viscous fluid: fish (3-D) and swimmer6 (a planar six-link chain)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.dmc.classic import ZZ
from purejaxppo.envs.dmc.rewards import tolerance
from purejaxppo.envs.dmc.task import (
    DmcTask,
    dm_control_module,
    gaussian_quaternion,
    norm,
    reference_id,
    vector_times_matrix,
)
from purejaxppo.types import Array


class FishSwim(DmcTask):
    """Swim a fish's mouth to a target drawn per episode, upright (7:1 weights).

    The target's position is the episode's value (dm_control moves the target geom).
    """

    gymnasium_id = reference_id("fish", "swim")
    domain, dm_task = "fish", "swim"
    substeps = 10
    data_fields = ("xmat", "geom_xpos", "geom_xmat")
    JOINTS = (
        "tail1", "tail_twist", "tail2", "finright_roll", "finright_pitch", "finleft_roll",
        "finleft_pitch",
    )  # fmt: skip

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.joints = jnp.array([self.joint_qpos(j) for j in self.JOINTS])
        self.root = self.joint_qpos("root")
        self.torso, self.mouth = self.body("torso"), self.geom("mouth")
        sizes = self.mj_model.geom_size[[self.mouth, self.geom("target")], 0]
        self.radii = float(sizes.sum())

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        k_quat, k_joints, k_target = jax.random.split(key, 3)
        qpos = (
            self.qpos0()
            .at[self.root + 3 : self.root + 7]
            .set(gaussian_quaternion(k_quat, self.dtype))
        )
        qpos = qpos.at[self.joints].set(self.uniform(k_joints, -0.2, 0.2, (len(self.JOINTS),)))
        low, high = np.array([-0.4, -0.4, 0.1]), np.array([0.4, 0.4, 0.3])
        return InitialState(qpos=qpos, task=self.uniform(k_target, low, high, (3,)))

    def task_from_reference(self, physics: Any) -> np.ndarray:
        """The target geom's position."""
        return np.array(physics.named.model.geom_pos["target"])

    def mouth_to_target(self, data: SimData, task: Array) -> Array:
        """The target in the mouth's frame, ``[3]``."""
        return vector_times_matrix(
            task - data.geom_xpos[self.mouth], data.geom_xmat[self.mouth].reshape(3, 3)
        )

    def observations(self, data: SimData, task: Array) -> dict[str, Array]:  # noqa: D102
        return {
            "joint_angles": data.qpos[self.joints],
            "upright": data.xmat[self.torso, ZZ],
            "target": self.mouth_to_target(data, task),
            "velocity": data.qvel,
        }

    def score(self, data: SimData, action: Array, task: Array) -> Array:  # noqa: D102
        distance = norm(self.mouth_to_target(data, task))
        in_target = tolerance(distance, (0, self.radii), margin=2 * self.radii)
        upright = 0.5 * (data.xmat[self.torso, ZZ] + 1)
        return (7 * in_target + upright) / 8


class Swimmer6(DmcTask):
    """Swim a six-link planar chain's nose to a target drawn per episode (long-tailed reward).

    The model is dm_control's, generated for six links; the target's position is the episode's
    value (one target in five is drawn close, within 0.3 m).
    """

    gymnasium_id = reference_id("swimmer", "swimmer6")
    domain, dm_task = "swimmer", "swimmer6"
    substeps = 15
    data_fields = ("xmat", "geom_xpos", "sensordata")
    LINKS = 6

    def __init__(self, **engine: Any):
        super().__init__(**engine)
        self.nose, self.head = self.geom("nose"), self.body("head")
        target = self.geom("target")
        self.target_size = float(self.mj_model.geom_size[target, 0])
        self.target_z = float(self.mj_model.geom_pos[target, 2])
        speeds = np.arange(12, self.mj_model.nsensordata).reshape(-1, 6)[:, [0, 1, 5]]
        self.velocities = jnp.asarray(speeds.ravel())

    @classmethod
    def model_xml(cls) -> bytes:
        """dm_control's swimmer generated for six links (``swimmer.get_model_and_assets``)."""
        return dm_control_module("suite.swimmer").get_model_and_assets(cls.LINKS)[0]

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        k_joints, k_close, k_target = jax.random.split(key, 3)
        box = jnp.where(jax.random.uniform(k_close, (), self.dtype) < 0.2, 0.3, 2.0)
        xy = self.uniform(k_target, -box, box, (2,))
        target = jnp.concatenate([xy, jnp.full((1,), self.target_z, self.dtype)])
        return InitialState(qpos=self.randomize_joints(k_joints, self.qpos0()), task=target)

    def task_from_reference(self, physics: Any) -> np.ndarray:
        """The target geom's position."""
        return np.array(physics.named.model.geom_pos["target"])

    def nose_to_target(self, data: SimData, task: Array) -> Array:
        """The target in the head's frame, xy, ``[2]``."""
        return vector_times_matrix(
            task - data.geom_xpos[self.nose], data.xmat[self.head].reshape(3, 3)
        )[:2]

    def observations(self, data: SimData, task: Array) -> dict[str, Array]:  # noqa: D102
        return {
            "joints": data.qpos[3:],
            "to_target": self.nose_to_target(data, task),
            "body_velocities": data.sensordata[self.velocities],
        }

    def score(self, data: SimData, action: Array, task: Array) -> Array:  # noqa: D102
        size = self.target_size
        distance = norm(self.nose_to_target(data, task))
        return tolerance(distance, (0, size), margin=5 * size, sigmoid="long_tail")
