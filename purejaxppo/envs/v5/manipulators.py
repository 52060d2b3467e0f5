"""Reacher-v5 and Pusher-v5 (gymnasium's reacher_v5.py, pusher_v5.py).

Both draw part of their reset by rejection sampling, reproduced here with a ``while_loop`` so
the distribution is Gymnasium's (Reacher's target: uniform in the square, kept inside the disc
of radius 0.2; Pusher's object: uniform in its box, kept farther than 0.17 from the goal).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.task import Outcome
from purejaxppo.envs.v5.task import V5Task
from purejaxppo.types import Array


def _rejection_sample(
    key: Array, draw: Callable[[Array], Array], accept: Callable[[Array], Array]
) -> Array:
    """Draws ``draw(key)`` until ``accept`` holds, splitting the key each time."""

    def body(carry):
        key, _ = carry
        key, sub = jax.random.split(key)
        return key, draw(sub)

    key, sub = jax.random.split(key)
    return jax.lax.while_loop(lambda c: ~accept(c[1]), body, (key, draw(sub)))[1]


class Reacher(V5Task):
    """Move the fingertip to a target: reward ``-|fingertip - target| - sum(a^2)``; 50 steps."""

    gymnasium_id = "Reacher-v5"
    xml_file = "reacher.xml"
    frame_skip = 2
    max_episode_steps = 50
    data_fields = ("xpos",)
    info_keys = ("reward_dist", "reward_ctrl")

    def __init__(
        self, reward_dist_weight: float = 1.0, reward_control_weight: float = 1.0, **physics
    ):
        super().__init__(**physics)
        self.reward_dist_weight = reward_dist_weight
        self.reward_control_weight = reward_control_weight
        self._fingertip = self.mj_model.body("fingertip").id
        self._target = self.mj_model.body("target").id

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        k_pos, k_goal, k_vel = jax.random.split(key, 3)
        nq, nv = self.mj_model.nq, self.mj_model.nv
        goal = _rejection_sample(
            k_goal, lambda k: self._uniform(k, 0.2, 2), lambda g: jnp.linalg.norm(g) < 0.2
        )
        qpos = (self._uniform(k_pos, 0.1, nq) + self.init_qpos).at[-2:].set(goal)
        qvel = (self.init_qvel + self._uniform(k_vel, 0.005, nv)).at[-2:].set(0.0)
        return InitialState(qpos=qpos, qvel=qvel)

    def observation(self, data: SimData, task: object = ()) -> Array:  # noqa: D102
        theta = data.qpos[:2]
        to_target = data.xpos[self._fingertip] - data.xpos[self._target]
        return jnp.concatenate(
            [jnp.cos(theta), jnp.sin(theta), data.qpos[2:], data.qvel[:2], to_target[:2]]
        )

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:  # noqa: D102
        vec = after.xpos[self._fingertip] - after.xpos[self._target]
        dist = -jnp.linalg.norm(vec) * self.reward_dist_weight
        ctrl = -jnp.sum(jnp.square(action)) * self.reward_control_weight
        return Outcome(dist + ctrl, jnp.zeros((), bool), {"reward_dist": dist, "reward_ctrl": ctrl})


class Pusher(V5Task):
    """Push an object to a goal: ``-0.5 |obj - tip| - |obj - goal| - 0.1 sum(a^2)``; 100 steps."""

    gymnasium_id = "Pusher-v5"
    xml_file = "pusher_v5.xml"
    frame_skip = 5
    max_episode_steps = 100
    data_fields = ("xpos",)
    info_keys = ("reward_dist", "reward_ctrl", "reward_near")

    def __init__(
        self,
        reward_near_weight: float = 0.5,
        reward_dist_weight: float = 1.0,
        reward_control_weight: float = 0.1,
        **physics,
    ):
        super().__init__(**physics)
        self.reward_near_weight = reward_near_weight
        self.reward_dist_weight = reward_dist_weight
        self.reward_control_weight = reward_control_weight
        self._tips, self._object, self._goal = (
            self.mj_model.body(n).id for n in ("tips_arm", "object", "goal")
        )

    def initial_state(self, key: Array) -> InitialState:  # noqa: D102
        k_obj, k_vel = jax.random.split(key)
        dtype = self.init_qpos.dtype

        def draw(k: Array) -> Array:
            kx, ky = jax.random.split(k)
            return jnp.concatenate(
                [
                    jax.random.uniform(kx, (1,), dtype, -0.3, 0.0),
                    jax.random.uniform(ky, (1,), dtype, -0.2, 0.2),
                ]
            )

        goal = jnp.zeros(2, dtype)
        obj = _rejection_sample(k_obj, draw, lambda c: jnp.linalg.norm(c - goal) > 0.17)
        qpos = self.init_qpos.at[-4:-2].set(obj).at[-2:].set(goal)
        qvel = (self.init_qvel + self._uniform(k_vel, 0.005, self.mj_model.nv)).at[-4:].set(0.0)
        return InitialState(qpos=qpos, qvel=qvel)

    def observation(self, data: SimData, task: object = ()) -> Array:  # noqa: D102
        return jnp.concatenate(
            [
                data.qpos[:7],
                data.qvel[:7],
                data.xpos[self._tips],
                data.xpos[self._object],
                data.xpos[self._goal],
            ]
        )

    def reward(self, before: SimData, after: SimData, action: Array, task: object = ()) -> Outcome:  # noqa: D102
        obj = after.xpos[self._object]
        near = -jnp.linalg.norm(obj - after.xpos[self._tips]) * self.reward_near_weight
        dist = -jnp.linalg.norm(obj - after.xpos[self._goal]) * self.reward_dist_weight
        ctrl = -jnp.sum(jnp.square(action)) * self.reward_control_weight
        info = {"reward_dist": dist, "reward_ctrl": ctrl, "reward_near": near}
        return Outcome(dist + ctrl + near, jnp.zeros((), bool), info)
