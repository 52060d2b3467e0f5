"""``purejaxppo render``: a video of a saved policy in the task's Gymnasium twin (C MuJoCo).

Frames come from Gymnasium's renderer (dm_control's for the DeepMind Control Suite, whose twin
is dm_control's own environment), which needs OpenGL; a task with no Gymnasium twin is
stepped by the run's own engine and drawn by MuJoCo's renderer. The camera is the XML's ``track``
camera (it follows the robot's centre of mass) where the task has one, else Gymnasium's
default. Without a display, MuJoCo renders off-screen through EGL (GPU or Mesa's software EGL)
or OSMesa, chosen by the ``MUJOCO_GL`` environment variable; the CLI sets ``MUJOCO_GL=egl``
when there is no display and the variable is unset.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import imageio.v2 as imageio
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from gymnasium.envs.mujoco.mujoco_rendering import MujocoRenderer

from purejaxppo.envs.c import CData
from purejaxppo.envs.task import MujocoTask, quiet_model_compiler
from purejaxppo.envs.wrappers import ClipAction, TimeLimit
from purejaxppo.runs.policy import engine_name, env_of, gymnasium_kwargs, load_policy

GL_HELP = (
    "MuJoCo could not create an OpenGL context (MUJOCO_GL={gl}): {err}\n"
    "  Off-screen rendering needs one of:\n"
    "  - EGL (NVIDIA driver, or Mesa: apt install libegl1 libgl1-mesa-dri): MUJOCO_GL=egl\n"
    "  - OSMesa, software (apt install libosmesa6): MUJOCO_GL=osmesa\n"
    "  - a display (X11/Wayland, or xvfb-run): MUJOCO_GL=glfw"
)


class RenderError(RuntimeError):
    """Rendering is not possible here (no OpenGL, or an env that is not a MuJoCo task)."""


def render(
    run: Path,
    out: Path,
    seed: int = 0,
    episodes: int = 1,
    width: int = 640,
    height: int = 480,
    camera: str | None = None,
) -> tuple[Path, int, list[float], str]:
    """Writes ``episodes`` deterministic episodes of one seed's policy to ``out`` (mp4, gif...).

    Returns:
        (the file, frames written, the return of each episode, the engine that stepped them).
    """
    policy = load_policy(run, seed)
    gid = policy.gymnasium_id
    env: Any
    if gid is None:
        task = env_of(policy.spec).unwrapped
        if not isinstance(task, MujocoTask):
            raise RenderError(f"{policy.spec.env} is not a MuJoCo task: render draws MuJoCo tasks")
        env = TaskEpisodes(task, policy.spec.config.episode_length, width, height, camera)
    else:
        kwargs = gymnasium_kwargs(policy.spec)
        with quiet_model_compiler():
            if camera is None:
                model = gym.make(gid, **kwargs).unwrapped.model  # type: ignore[attr-defined]
                camera = "track" if _has_camera(model, "track") else "default"
            view: dict[str, Any] = {} if camera == "default" else {"camera_name": camera}
            env = gym.make(gid, render_mode="rgb_array", width=width, height=height, **view,
                           **kwargs)  # fmt: skip
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env.reset(seed=0)
    first = _frame(env)  # fails here, before a file is made, if there is no OpenGL
    fps = env.metadata.get("render_fps", 30)
    # the gif writer takes milliseconds a frame; ffmpeg (mp4, ...) frames a second
    gif = out.suffix.lower() == ".gif"
    options: dict[str, Any] = {"duration": 1000 / fps} if gif else {"fps": fps}
    if out.suffix == ".mp4":
        options["macro_block_size"] = 1
    # imageio starts ffmpeg with fork + exec; JAX warns about any fork in its process, but this
    # child runs no Python and no JAX: it execs ffmpeg at once
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        writer = imageio.get_writer(out, **options)
        frames, returns = _write(env, policy, writer, first, episodes)
    engine = "C MuJoCo" if gid is not None else engine_name(env.task)
    return out, frames, returns, engine


def _has_camera(model: mujoco.MjModel, name: str) -> bool:
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, name) >= 0


class TaskEpisodes:
    """One env of a task on the run's engine, drawn by MuJoCo's renderer, as ``_write`` steps it.

    Gymnasium's interface, as far as rendering uses it: ``reset(seed)``, ``step(action)``,
    ``render()``, ``close()``, ``metadata``. A frame shows the state after the step: the whole
    integration state on the C engine, ``qpos`` (and the mocap poses, where the task reads them)
    on the others.
    """

    def __init__(
        self,
        task: MujocoTask,
        episode_length: int | None,
        width: int,
        height: int,
        camera: str | None,
    ):
        self.task = task
        env = TimeLimit(ClipAction(task), episode_length)
        self._reset, self._step = jax.jit(env.reset), jax.jit(env.step)
        self.data = mujoco.MjData(task.mj_model)
        if camera in (None, "default"):
            camera = "track" if _has_camera(task.mj_model, "track") else None
        elif not _has_camera(task.mj_model, camera):
            raise RenderError(f"the model has no camera {camera!r}")
        # Gymnasium's renderer: it picks the OpenGL backend MUJOCO_GL names when it starts
        self.renderer = MujocoRenderer(
            task.mj_model, self.data, width=width, height=height, camera_name=camera,
            camera_id=None if camera else -1,
        )  # fmt: skip
        self.metadata = {"render_fps": max(1, round(1 / task.dt))}

    def reset(self, seed: int = 0) -> tuple[np.ndarray, dict]:  # noqa: D102
        self.state = self._reset(jax.random.PRNGKey(seed))
        return np.asarray(self.state.obs), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:  # noqa: D102
        s = self.state = self._step(self.state, jnp.asarray(action, jnp.float32))
        return np.asarray(s.obs), float(s.reward), bool(s.terminated), bool(s.truncated), {}

    def render(self) -> np.ndarray:  # noqa: D102
        m, data = self.task.mj_model, self.state.data
        if isinstance(data, CData):  # the float64 row the engine carries, to the bit
            row = np.asarray(data.state).view(np.float64)
            mujoco.mj_setState(m, self.data, row, mujoco.mjtState.mjSTATE_INTEGRATION)
        else:
            view = self.task.engine.view(data)
            for name in ("qpos", "mocap_pos", "mocap_quat"):
                if name in view.fields:
                    getattr(self.data, name)[:] = np.asarray(view.fields[name], np.float64)
        mujoco.mj_forward(m, self.data)
        return self.renderer.render("rgb_array")

    def close(self) -> None:  # noqa: D102
        self.renderer.close()


def _write(
    env: Any, policy: Callable, writer: Any, first: np.ndarray, episodes: int
) -> tuple[int, list[float]]:
    """Streams the episodes' frames into ``writer``; (frames written, each episode's return)."""
    frames, returns = 0, []
    with writer:
        try:
            for i in range(episodes):
                obs, _ = env.reset(seed=i)
                writer.append_data(first if i == 0 else _frame(env))
                total, done, frames = 0.0, False, frames + 1
                while not done:
                    obs, reward, terminated, truncated, _ = env.step(policy(obs))
                    total += float(reward)
                    done = terminated or truncated
                    writer.append_data(_frame(env))
                    frames += 1
                returns.append(total)
        finally:
            env.close()
    return frames, returns


def _frame(env: Any) -> np.ndarray:
    try:
        return np.asarray(env.render())
    except Exception as e:  # MuJoCo raises several kinds when no GL context can be made
        raise RenderError(GL_HELP.format(gl=os.environ.get("MUJOCO_GL", "unset"), err=e)) from e
