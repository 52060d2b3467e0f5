"""dm_control's own environment as a Gymnasium env: the reference a trained policy is scored in.

The observation is dm_control's dict flattened in sorted key order (as Gymnasium's
``dm_control/...`` wrappers with ``FlattenObservation``); ``reset(seed=s)`` reseeds the task's
NumPy generator with ``s`` (as those wrappers do); episodes are truncated at dm_control's time
limit and never terminate.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from purejaxppo.envs.base import EnvError
from purejaxppo.envs.dmc.task import dm_control_module, quiet_dm_control


def flatten(observation: dict[str, Any]) -> np.ndarray:
    """dm_control's observation dict as one float64 vector, keys sorted."""
    return np.concatenate([np.ravel(observation[k]) for k in sorted(observation)]).astype(
        np.float64
    )


class ReferenceEnv(gym.Env):
    """``dm_control.suite.load(domain, task)`` behind Gymnasium's API.

    Args:
        domain: the suite's domain (``cheetah``).
        task: the domain's task (``run``).
        render_mode: None or ``"rgb_array"`` (dm_control's renderer).
        width, height: the rendered frame's size.
        camera_name: the camera rendered, by name or index (default: the model's first).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}  # noqa: RUF012

    def __init__(
        self,
        domain: str,
        task: str,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
        camera_name: str | int = 0,
    ):
        suite = dm_control_module("suite")
        with quiet_dm_control():
            self._env = suite.load(domain, task)
        self.render_mode, self._size, self._camera = render_mode, (height, width), camera_name
        self._name = f"{domain}-{task}"
        self._physics_error = dm_control_module("rl.control").PhysicsError
        spec = self._env.action_spec()
        self.action_space = gym.spaces.Box(spec.minimum, spec.maximum, dtype=np.float64)
        size = sum(int(np.prod(s.shape)) for s in self._env.observation_spec().values())
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float64)
        self.metadata = {**self.metadata, "render_fps": round(1 / self._env.control_timestep())}

    @property
    def physics(self) -> Any:
        """dm_control's ``Physics`` of the environment."""
        return self._env.physics

    @property
    def model(self) -> Any:
        """The task's ``mujoco.MjModel``."""
        return self._env.physics.model.ptr

    @property
    def task(self) -> Any:
        """dm_control's task object."""
        return self._env.task

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        """A new episode; ``seed`` reseeds the task's generator."""
        super().reset(seed=seed)
        if seed is not None:
            self._env.task._random = np.random.RandomState(seed)
        return flatten(self._env.reset().observation), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One control step: (obs, reward, terminated, truncated, info)."""
        try:
            step = self._env.step(action)
        except self._physics_error as e:
            raise EnvError(
                f"dm_control's {self._name} diverged and raised PhysicsError ({e}); dm_control "
                "ends such an episode with this error, so it has no return to score"
            ) from None
        ended = step.last() and step.discount == 0  # a termination (no task of the 26 has one)
        return flatten(step.observation), float(step.reward), ended, step.last() and not ended, {}

    def render(self) -> np.ndarray | None:
        """The camera's frame (``render_mode="rgb_array"``), else None."""
        if self.render_mode != "rgb_array":
            return None
        height, width = self._size
        return self._env.physics.render(height=height, width=width, camera_id=self._camera)
