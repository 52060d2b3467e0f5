"""``purejaxppo render``: a video of a saved policy in Gymnasium's own task (C MuJoCo).

Frames come from Gymnasium's renderer, which needs OpenGL. The camera is the XML's ``track``
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
import mujoco
import numpy as np

from purejaxppo.envs.v5.task import quiet_model_compiler
from purejaxppo.runs.policy import gymnasium_id, gymnasium_kwargs, load_policy

GL_HELP = (
    "MuJoCo could not create an OpenGL context (MUJOCO_GL={gl}): {err}\n"
    "  Off-screen rendering needs one of:\n"
    "  - EGL (NVIDIA driver, or Mesa: apt install libegl1 libgl1-mesa-dri): MUJOCO_GL=egl\n"
    "  - OSMesa, software (apt install libosmesa6): MUJOCO_GL=osmesa\n"
    "  - a display (X11/Wayland, or xvfb-run): MUJOCO_GL=glfw"
)


class RenderError(RuntimeError):
    """Rendering is not possible here (no OpenGL, or an env without a Gymnasium twin)."""


def render(
    run: Path,
    out: Path,
    seed: int = 0,
    episodes: int = 1,
    width: int = 640,
    height: int = 480,
    camera: str | None = None,
) -> tuple[Path, int, list[float]]:
    """Writes ``episodes`` deterministic episodes of one seed's policy to ``out`` (mp4, gif...).

    Returns:
        (the file, frames written, the return of each episode).
    """
    policy = load_policy(run, seed)
    gid = gymnasium_id(policy.spec)
    if gid is None:
        raise RenderError(
            f"{policy.spec.env} has no Gymnasium twin; render draws the Gymnasium v5 tasks"
        )
    kwargs = gymnasium_kwargs(policy.spec)
    with quiet_model_compiler():
        if camera is None:
            model = getattr(gym.make(gid, **kwargs).unwrapped, "model")  # noqa: B009 (MujocoEnv)
            has_track = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "track") >= 0
            camera = "track" if has_track else "default"
        view: dict[str, Any] = {} if camera == "default" else {"camera_name": camera}
        env = gym.make(gid, render_mode="rgb_array", width=width, height=height, **view, **kwargs)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env.reset(seed=0)
    first = _frame(env)  # fails here, before a file is made, if there is no OpenGL
    fps = env.metadata.get("render_fps", 30)
    options: dict[str, Any] = {"macro_block_size": 1} if out.suffix == ".mp4" else {}
    # imageio starts ffmpeg with fork + exec; JAX warns about any fork in its process, but this
    # child runs no Python and no JAX: it execs ffmpeg at once
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        writer = imageio.get_writer(out, fps=fps, **options)
        frames, returns = _write(env, policy, writer, first, episodes)
    return out, frames, returns


def _write(
    env: gym.Env, policy: Callable, writer: Any, first: np.ndarray, episodes: int
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


def _frame(env: gym.Env) -> np.ndarray:
    try:
        return np.asarray(env.render())
    except Exception as e:  # MuJoCo raises several kinds when no GL context can be made
        raise RenderError(GL_HELP.format(gl=os.environ.get("MUJOCO_GL", "unset"), err=e)) from e
