"""V5Task: the base of the Gymnasium v5 tasks, one definition stepped by either physics engine.

Each task loads Gymnasium's own XML from the installed gymnasium package and reproduces the
task's ``reset_model``, ``step``, ``_get_obs`` and ``_get_rew`` as pure JAX. One env step is what
Gymnasium's ``do_simulation`` does: ``frame_skip`` calls of ``mj_step`` with ``ctrl`` set to the
action (MuJoCo clamps it to ``ctrlrange``), then ``mj_rnePostConstraint`` (here only for the
tasks that read ``cfrc_ext``, the one quantity it feeds).

The engine that computes those steps is a choice (``physics``):

* ``"c"``: C MuJoCo, the library Gymnasium itself steps, called from inside the compiled program
  (:mod:`purejaxppo.envs.c`); float64 and exact by construction; the engine for a CPU.
* ``"mjx"``: MJX, traced into the program (:mod:`purejaxppo.envs.mjx`); the engine for GPUs and
  TPUs. Build the env inside ``jax.enable_x64(True)`` to simulate in float64.
* ``"warp"``: MuJoCo Warp (:mod:`purejaxppo.envs.warp`, the ``warp`` extra); float32; for
  NVIDIA GPUs (it also runs, slowly, on the CPU).
* ``"auto"``: ``"c"`` when JAX's default backend is the CPU (``"mjx"`` if the C engine is not
  built there), ``"mjx"`` on a GPU or TPU.

The task code reads the simulation through ``data`` (``data.qpos``, ``data.xpos``, ...,
:func:`cfrc_ext`, :func:`cinert`); ``data_fields`` names what it reads besides qpos and qvel.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator
from importlib import resources
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import mujoco

from purejaxppo.envs import c as c_engine
from purejaxppo.envs import mjx as mjx_engine
from purejaxppo.envs import warp as warp_engine
from purejaxppo.envs.base import Env, EnvError, State
from purejaxppo.envs.mjx.speed import SOLVER_LOOPS
from purejaxppo.types import Array

PHYSICS = ("auto", "c", "mjx", "warp")

SimData = Any
"""What a task reads the simulation from: ``mjx.Data``, or the C or Warp engine's ``CData``."""


def gymnasium_xml_path(xml_file: str) -> str:
    """Path of an XML shipped in the installed gymnasium package (``envs/mujoco/assets``)."""
    path = resources.files("gymnasium.envs.mujoco") / "assets" / xml_file
    if not path.is_file():
        raise FileNotFoundError(f"{xml_file} is not in gymnasium's MuJoCo assets ({path})")
    return str(path)


@contextlib.contextmanager
def quiet_model_compiler() -> Iterator[None]:
    """Drops MuJoCo's deprecation warning about ``settotalmass`` while models compile.

    Gymnasium's half_cheetah.xml sets it; MuJoCo 4 still honours it and warns on every load,
    which no user of ours can act on. Other warnings pass through.
    """
    previous = mujoco.get_mju_user_warning()

    def warn(message: str) -> None:
        if "settotalmass" in message:
            return
        if previous is not None:
            previous(message)
        else:
            print(f"WARNING: {message}")

    mujoco.set_mju_user_warning(warn)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def load_model(xml_file: str) -> mujoco.MjModel:
    """Gymnasium's model of a task, compiled from its XML."""
    with quiet_model_compiler():
        return mujoco.MjModel.from_xml_path(gymnasium_xml_path(xml_file))


def resolve_physics(physics: str) -> str:
    """The engine that ``physics`` names here: ``"c"`` or ``"mjx"`` (see the module doc).

    Raises:
        EnvError: an unknown name, or ``"c"`` where the program would not run on the CPU.
    """
    if physics not in PHYSICS:
        raise EnvError(f"physics={physics!r}: choose one of {', '.join(PHYSICS)}")
    backend = jax.default_backend()
    if physics == "auto":
        if backend != "cpu":
            return "mjx"
        why = c_engine.why_unavailable()
        if why is not None:
            _say_once(f"purejaxppo: physics='auto' runs MJX on this CPU: {why}")
        return "mjx" if why else "c"
    if physics == "warp":
        why = warp_engine.why_unavailable()
        if why is not None:
            raise EnvError(why)
    if physics == "c" and backend != "cpu":
        raise EnvError(
            f"physics='c' runs in programs on the CPU, and JAX's default backend here is "
            f"{backend}: use physics='mjx' (or run with JAX_PLATFORMS=cpu)"
        )
    return physics


@functools.cache
def _say_once(message: str) -> None:
    print(message, file=sys.stderr)


class V5Task(Env):
    """A MuJoCo model from Gymnasium's assets, stepped by the engine ``physics`` names.

    Subclasses set ``xml_file``, ``frame_skip``, ``max_episode_steps``, ``info_keys`` and
    ``data_fields`` and implement ``_reset_qpos_qvel``, ``_get_obs`` and ``_reward``.

    Args:
        physics: ``"auto"`` (default), ``"c"``, ``"mjx"`` or ``"warp"``.
        threads: the C engine's threads per batched step (default: this process's CPUs); any
            count gives the same values.
        solver_iterations: cap on MJX's constraint-solver iterations (None: the XML's).
        ls_iterations: cap on MJX's line-search iterations (None: the XML's).
        naconmax_per_env: the Warp engine's contacts per env of a batch (None: its estimate).
        njmax: the Warp engine's constraint rows per env (None: its estimate).
        solver_loops: MJX's solver loops: ``"auto"`` (early exit in a program for the CPU,
            a fixed-length line search for a GPU or TPU), ``"early_exit"`` or ``"fixed"``; the
            same values (see :mod:`purejaxppo.envs.mjx.speed`).

    Raises:
        EnvError: a bad engine name or setting, or a setting the engine does not have.
        CEngineUnavailableError: ``physics="c"`` where the C engine is not built.
        MjxVersionError: ``physics="mjx"`` with a mujoco-mjx our changes were not written for.
    """

    xml_file: ClassVar[str]
    frame_skip: ClassVar[int]
    max_episode_steps: ClassVar[int] = 1000
    info_keys: ClassVar[tuple[str, ...]] = ()
    data_fields: ClassVar[tuple[str, ...]] = ()
    """mjData fields the task reads besides qpos and qvel (``cfrc_ext`` costs an extra pass)."""

    def __init__(
        self,
        physics: str = "auto",
        threads: int | None = None,
        solver_iterations: int | None = None,
        ls_iterations: int | None = None,
        solver_loops: str | None = None,
        naconmax_per_env: int | None = None,
        njmax: int | None = None,
    ):
        self.physics = resolve_physics(physics)
        self.mj_model = load_model(self.xml_file)
        caps = {"iterations": solver_iterations, "ls_iterations": ls_iterations}
        capacity = {"naconmax_per_env": naconmax_per_env, "njmax": njmax}
        if self.physics != "warp" and any(v is not None for v in capacity.values()):
            raise EnvError("naconmax_per_env and njmax size the Warp engine (physics='warp')")
        if self.physics == "warp":
            if threads is not None or solver_loops is not None:
                raise EnvError("threads and solver_loops are not settings of the Warp engine")
            if any(v is not None for v in caps.values()):
                raise EnvError("solver_iterations and ls_iterations cap MJX's JAX solver only")
            mjx_engine.check_version()
            self._adjust_model_for_mjx(self.mj_model)
            self.engine: Any = warp_engine.WarpPhysics(
                self.mj_model, self.frame_skip, self.data_fields, naconmax_per_env, njmax
            )
        elif self.physics == "mjx":
            if threads is not None:
                raise EnvError("threads is a setting of the C engine (physics='c')")
            mjx_engine.check_version()
            self._adjust_model_for_mjx(self.mj_model)
            for name, value in caps.items():
                if value is not None:
                    if int(value) < 1:
                        raise EnvError(f"{name} must be a positive integer, got {value}")
                    setattr(self.mj_model.opt, name, int(value))
            loops = solver_loops or "auto"
            if loops not in SOLVER_LOOPS:
                raise EnvError(f"solver_loops={loops!r}: choose one of {', '.join(SOLVER_LOOPS)}")
            rne = "cfrc_ext" in self.data_fields
            self.engine = mjx_engine.MjxPhysics(self.mj_model, self.frame_skip, rne, loops)
        else:
            if any(v is not None for v in caps.values()) or solver_loops is not None:
                raise EnvError(
                    "solver_iterations, ls_iterations and solver_loops are settings of MJX's "
                    "solver (physics='mjx'); the C engine runs the XML's solver settings, as "
                    "Gymnasium does"
                )
            self.engine = c_engine.CPhysics(
                self.mj_model,
                self.frame_skip,
                self.data_fields,
                threads,
                dtype=jnp.result_type(float),
            )
        self.init_qpos = jnp.asarray(self.mj_model.qpos0, self.engine.dtype)
        self.init_qvel = jnp.zeros(self.mj_model.nv, self.init_qpos.dtype)

    def _adjust_model_for_mjx(self, mj_model: mujoco.MjModel) -> None:
        """Hook for settings MJX needs changed (e.g. an unsupported solver)."""

    # ---- spaces ----
    @functools.cached_property
    def observation_size(self) -> int:  # noqa: D102
        return int(jax.eval_shape(self.reset, jax.random.PRNGKey(0)).obs.shape[-1])

    @property
    def action_size(self) -> int:  # noqa: D102
        return int(self.mj_model.nu)

    @property
    def action_low(self) -> Array:  # noqa: D102
        return jnp.asarray(self.mj_model.actuator_ctrlrange[:, 0], jnp.float32)

    @property
    def action_high(self) -> Array:  # noqa: D102
        return jnp.asarray(self.mj_model.actuator_ctrlrange[:, 1], jnp.float32)

    @property
    def episode_length(self) -> int:  # noqa: D102
        return self.max_episode_steps

    @property
    def dt(self) -> float:
        """Seconds of simulated time per env step: timestep x frame_skip."""
        return float(self.mj_model.opt.timestep) * self.frame_skip

    # ---- the contract ----
    def reset(self, key: Array) -> State:  # noqa: D102
        k_noise, k_rng = jax.random.split(key)
        qpos, qvel = self._reset_qpos_qvel(k_noise)
        return self.state_from(qpos, qvel, k_rng)

    def state_from(self, qpos: Array, qvel: Array, rng: Array) -> State:
        """The state Gymnasium's ``set_state(qpos, qvel)`` gives: a new episode at (qpos, qvel).

        Args:
            qpos: ``[nq]``.
            qvel: ``[nv]``.
            rng: key kept for the next reset.
        """
        data = self.engine.reset(qpos, qvel)
        zero = jnp.zeros((), self.engine.dtype)
        return State.create(data, self._get_obs(data), rng, {k: zero for k in self.info_keys})

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        data = self.engine.step(state.data, action)
        reward, terminated, info = self._reward(state.data, data, action)
        return state.replace(
            data=data,
            obs=self._get_obs(data),
            reward=reward.astype(state.reward.dtype),
            terminated=terminated.astype(jnp.float32),
            info=info,
        )

    # ---- the task ----
    def _reset_qpos_qvel(self, key: Array) -> tuple[Array, Array]:
        raise NotImplementedError

    def _get_obs(self, data: Any) -> Array:
        raise NotImplementedError

    def _reward(self, before: Any, after: Any, action: Array) -> tuple[Array, Array, dict]:
        """(reward, terminated, info) of the step from ``before`` to ``after``."""
        raise NotImplementedError

    # ---- helpers shared by the tasks ----
    def _noisy_init(self, key: Array, scale: float, qvel_noise: str) -> tuple[Array, Array]:
        """Gymnasium's common reset noise on ``init_qpos`` and ``init_qvel``.

        qpos gets ``U(-scale, scale)``; qvel gets ``U(-scale, scale)`` (``qvel_noise="uniform"``)
        or ``scale * N(0, 1)`` (``"normal"``).
        """
        k_pos, k_vel = jax.random.split(key)
        m = self.mj_model
        vel = self._uniform if qvel_noise == "uniform" else self._normal
        return (
            self.init_qpos + self._uniform(k_pos, scale, m.nq),
            self.init_qvel + vel(k_vel, scale, m.nv),
        )

    def _uniform(self, key: Array, scale: float, size: int) -> Array:
        return jax.random.uniform(key, (size,), self.init_qpos.dtype, -scale, scale)

    def _normal(self, key: Array, scale: float, size: int) -> Array:
        return scale * jax.random.normal(key, (size,), self.init_qpos.dtype)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(physics={self.physics}, obs={self.observation_size}, "
            f"act={self.action_size})"
        )


def divide(a: Array, b: Array | float) -> Array:
    """``a / b`` rounded once, as NumPy (and so Gymnasium) computes it.

    XLA turns a division by a broadcast scalar into a multiplication by its reciprocal, which
    rounds twice; a divisor that depends on ``a`` stays a division. ``b + 0 * a`` equals ``b``
    wherever ``a`` is finite.
    """
    return a / (b + 0.0 * a)


def cfrc_ext(data: Any) -> Array:
    """External contact forces per body, ``[nbody, 6]`` (MJX keeps them in its implementation)."""
    return data.cfrc_ext if isinstance(data, c_engine.CData) else data._impl.cfrc_ext


def cinert(data: Any) -> Array:
    """Com-based body inertias, ``[nbody, 10]``."""
    return data.cinert if isinstance(data, c_engine.CData) else data._impl.cinert
