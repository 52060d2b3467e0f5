"""V5Task: the base of the Gymnasium v5 tasks, a :class:`~purejaxppo.envs.task.MujocoTask`.

Each task loads Gymnasium's own XML from the installed gymnasium package and reproduces the
task's ``reset_model``, ``step``, ``_get_obs`` and ``_get_rew`` as pure JAX. One env step is what
Gymnasium's ``do_simulation`` does: ``frame_skip`` calls of ``mj_step`` with ``ctrl`` set to the
action, then ``mj_rnePostConstraint`` (the ``rne_post`` stage, here only for the tasks that read
``cfrc_ext``, the one quantity it feeds).
"""

from __future__ import annotations

from importlib import resources
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from purejaxppo.envs.base import State
from purejaxppo.envs.data import InitialState
from purejaxppo.envs.task import MujocoTask
from purejaxppo.types import Array


def gymnasium_xml_path(xml_file: str) -> str:
    """Path of an XML shipped in the installed gymnasium package (``envs/mujoco/assets``)."""
    path = resources.files("gymnasium.envs.mujoco") / "assets" / xml_file
    if not path.is_file():
        raise FileNotFoundError(f"{xml_file} is not in gymnasium's MuJoCo assets ({path})")
    return str(path)


class V5Task(MujocoTask):
    """A MuJoCo model from Gymnasium's assets, stepped by the engine ``physics`` names.

    Subclasses set ``xml_file``, ``frame_skip``, ``max_episode_steps``, ``data_fields`` and
    ``gymnasium_id`` and implement ``initial_state``, ``observation`` and ``reward``.

    Args:
        **engine: ``physics``, ``threads``, ``solver_iterations``, ``ls_iterations``,
            ``solver_loops``, ``naconmax_per_env``, ``njmax``: the engine and its settings
            (:class:`purejaxppo.envs.engines.EngineSettings`).

    Raises:
        EnvError: a bad engine name or setting, or a setting the engine does not have.
        CEngineUnavailableError: ``physics="c"`` where the C engine is not built.
        MjxVersionError: ``physics="mjx"`` with a mujoco-mjx our changes were not written for.
    """

    xml_file: ClassVar[str]
    frame_skip: int
    """Physics steps per env step: each subclass sets Gymnasium's."""
    max_episode_steps: ClassVar[int] = 1000
    data_fields: ClassVar[tuple[str, ...]] = ()
    """mjData fields the task reads besides qpos and qvel (``cfrc_ext`` costs an extra pass)."""

    def __init__(self, **engine: Any):
        rne = "cfrc_ext" in self.data_fields
        super().__init__(
            gymnasium_xml_path(self.xml_file),
            frame_skip=type(self).frame_skip,
            episode_length=self.max_episode_steps,
            stage="rne_post" if rne else "none",
            fields=self.data_fields,
            **engine,
        )
        self.init_qpos = jnp.asarray(self.mj_model.qpos0, self.engine.dtype)
        self.init_qvel = jnp.zeros(self.mj_model.nv, self.init_qpos.dtype)

    def state_from(self, qpos: Array, qvel: Array, rng: Array) -> State:
        """The state Gymnasium's ``set_state(qpos, qvel)`` gives: a new episode at (qpos, qvel).

        Args:
            qpos: ``[nq]``.
            qvel: ``[nv]``.
            rng: key kept for the next reset.
        """
        return self.begin(self.place(InitialState(qpos=qpos, qvel=qvel)), (), rng)

    # ---- helpers shared by the tasks ----
    def _noisy_init(self, key: Array, scale: float, qvel_noise: str) -> InitialState:
        """Gymnasium's common reset noise on ``init_qpos`` and ``init_qvel``.

        qpos gets ``U(-scale, scale)``; qvel gets ``U(-scale, scale)`` (``qvel_noise="uniform"``)
        or ``scale * N(0, 1)`` (``"normal"``).
        """
        k_pos, k_vel = jax.random.split(key)
        m = self.mj_model
        vel = self._uniform if qvel_noise == "uniform" else self._normal
        return InitialState(
            qpos=self.init_qpos + self._uniform(k_pos, scale, m.nq),
            qvel=self.init_qvel + vel(k_vel, scale, m.nv),
        )

    def _uniform(self, key: Array, scale: float, size: int) -> Array:
        return jax.random.uniform(key, (size,), self.init_qpos.dtype, -scale, scale)

    def _normal(self, key: Array, scale: float, size: int) -> Array:
        return scale * jax.random.normal(key, (size,), self.init_qpos.dtype)


def divide(a: Array, b: Array | float) -> Array:
    """``a / b`` rounded once, as NumPy (and so Gymnasium) computes it.

    XLA turns a division by a broadcast scalar into a multiplication by its reciprocal, which
    rounds twice; a divisor that depends on ``a`` stays a division. ``b + 0 * a`` equals ``b``
    wherever ``a`` is finite.
    """
    return a / (b + 0.0 * a)
