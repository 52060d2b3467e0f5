"""A task of a user's own, for the tests: a point mass reaching a target drawn per episode.

``PointReach`` is written as the tutorial (docs/tasks.md) teaches: its own MJCF, a target drawn
per episode into the task's values, a reset that draws again until nothing touches (the mass
may be drawn inside a post), a stage chosen by the task (``step1`` by default). ``TwinReach``
is its NumPy twin, written with the ``mujoco`` bindings as a Gymnasium ``MujocoEnv``: the
reference the cross-check runs a trained policy in, registered as ``tests/PointReach-v0``.
"""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from gymnasium.envs.mujoco import MujocoEnv

from purejaxppo.envs import InitialState, MujocoTask, Outcome

XML = """
<mujoco model="point_reach">
  <option timestep="0.01"/>
  <worldbody>
    <light pos="0 0 3"/>
    <camera name="top" pos="0 0 2.2"/>
    <geom name="floor" type="plane" size="0.7 0.7 0.05" contype="0" conaffinity="0"/>
    <geom name="post_a" type="cylinder" pos="0.25 0.2 0.05" size="0.1 0.05" rgba=".7 .3 .3 1"/>
    <geom name="post_b" type="cylinder" pos="-0.2 -0.25 0.05" size="0.12 0.05" rgba=".7 .3 .3 1"/>
    <geom name="wall_n" type="box" pos="0 0.6 0.05" size="0.62 0.02 0.05"/>
    <geom name="wall_s" type="box" pos="0 -0.6 0.05" size="0.62 0.02 0.05"/>
    <geom name="wall_e" type="box" pos="0.6 0 0.05" size="0.02 0.62 0.05"/>
    <geom name="wall_w" type="box" pos="-0.6 0 0.05" size="0.02 0.62 0.05"/>
    <body name="target" mocap="true" pos="0 0 0.05">
      <geom type="sphere" size="0.03" contype="0" conaffinity="0" rgba=".2 .8 .2 .7"/>
    </body>
    <body name="mass" pos="0 0 0.05">
      <joint name="x" type="slide" axis="1 0 0" damping="2"/>
      <joint name="y" type="slide" axis="0 1 0" damping="2"/>
      <geom name="ball" type="sphere" size="0.05" mass="0.5" rgba=".2 .4 .8 1"/>
      <site name="tip" size="0.01"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="x" ctrlrange="-1 1"/>
    <motor joint="y" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""

POSTS = np.array([[0.25, 0.2, 0.1], [-0.2, -0.25, 0.12]])
"""The posts' (x, y, radius): a target inside one could not be reached."""


class PointReach(MujocoTask):
    """Drive a point mass to a target drawn each episode: reward ``-|tip - target| - c |a|^2``.

    Observation (6): the tip's position, the mass's velocity, the target minus the tip.
    """

    gymnasium_id = "tests/PointReach-v0"
    reset_tries = 100

    def __init__(self, ctrl_cost: float = 0.01, stage: str = "step1", **engine):
        super().__init__(
            XML,
            frame_skip=5,
            episode_length=100,
            stage=stage,
            fields=("site_xpos", "ncon", "contact.dist"),
            max_contacts=4,
            **engine,
        )
        self.ctrl_cost = ctrl_cost
        self.tip = self.mj_model.site("tip").id

    def initial_state(self, key):
        k_pos, k_target = jax.random.split(key)
        qpos = jax.random.uniform(k_pos, (2,), minval=-0.5, maxval=0.5)
        target = jax.random.uniform(k_target, (2,), minval=-0.5, maxval=0.5)
        marker = jnp.append(target, 0.05)[None]  # the green ball, where the target is
        return InitialState(qpos=qpos, mocap_pos=marker, task={"target": target})

    def accept_initial(self, data, initial):
        target = initial.task["target"]
        clear = jnp.linalg.norm(target - POSTS[:, :2], axis=1) > POSTS[:, 2] + 0.05
        return (data.ncon == 0) & jnp.all(clear)

    def observation(self, data, task):
        tip = data.site_xpos[self.tip, :2]
        return jnp.concatenate([tip, data.qvel, task["target"] - tip])

    def reward(self, before, after, action, task):
        distance = jnp.linalg.norm(task["target"] - after.site_xpos[self.tip, :2])
        ctrl = self.ctrl_cost * jnp.sum(jnp.square(action))
        touching = (after.ncon > 0).astype(distance.dtype)
        info = {"distance": distance, "touching": touching}
        return Outcome(-distance - ctrl, jnp.zeros((), bool), info)


class TwinReach(MujocoEnv):
    """PointReach in NumPy on C MuJoCo, as a Gymnasium ``MujocoEnv``: same steps, same stage."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 20}  # noqa: RUF012

    def __init__(self, ctrl_cost: float = 0.01, stage: str = "step1", **kwargs):
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
            f.write(XML)
        space = gym.spaces.Box(-np.inf, np.inf, (6,), np.float64)
        super().__init__(f.name, 5, observation_space=space, **kwargs)
        self.ctrl_cost, self.stage = ctrl_cost, stage
        self.target = np.zeros(2)

    def _step_mujoco_simulation(self, ctrl, n_frames):
        self.data.ctrl[:] = ctrl
        mujoco.mj_step(self.model, self.data, nstep=n_frames)
        if self.stage == "rne_post":
            mujoco.mj_rnePostConstraint(self.model, self.data)
        elif self.stage == "step1":
            mujoco.mj_step1(self.model, self.data)
        elif self.stage == "forward":
            mujoco.mj_forward(self.model, self.data)

    def _tip(self) -> np.ndarray:
        return self.data.site_xpos[self.model.site("tip").id, :2]

    def _get_obs(self) -> np.ndarray:
        tip = self._tip()
        return np.concatenate([tip, self.data.qvel, self.target - tip])

    def start(self, qpos: np.ndarray, target: np.ndarray) -> np.ndarray:
        """A new episode at ``qpos`` (at rest) and ``target``: its first observation."""
        mujoco.mj_resetData(self.model, self.data)
        self.target = np.asarray(target, np.float64)
        self.data.mocap_pos[0] = [*self.target, 0.05]
        self.set_state(qpos, np.zeros(2))
        return self._get_obs()

    def reset_model(self) -> np.ndarray:
        for _ in range(100):
            qpos = self.np_random.uniform(-0.5, 0.5, 2)
            target = self.np_random.uniform(-0.5, 0.5, 2)
            obs = self.start(qpos, target)
            clear = np.linalg.norm(target - POSTS[:, :2], axis=1) > POSTS[:, 2] + 0.05
            if self.data.ncon == 0 and clear.all():
                break
        return obs

    def step(self, action):
        self.do_simulation(action, self.frame_skip)
        distance = np.linalg.norm(self.target - self._tip())
        reward = -distance - self.ctrl_cost * np.sum(np.square(action))
        info = {"distance": distance, "touching": float(self.data.ncon > 0)}
        return self._get_obs(), reward, False, False, info


if "tests/PointReach-v0" not in gym.registry:
    gym.register("tests/PointReach-v0", entry_point=TwinReach, max_episode_steps=100)
