"""MjxEnv: the base of the Gymnasium v5 tasks, stepped in MJX.

Each task loads Gymnasium's own XML from the installed gymnasium package, and reproduces the
task's ``reset_model``, ``step``, ``_get_obs`` and ``_get_rew`` as pure JAX. One env step is
what Gymnasium's ``do_simulation`` does: ``frame_skip`` calls of ``mj_step`` with ``ctrl`` set to
the action (MuJoCo clamps it to ``ctrlrange``), then ``mj_rnePostConstraint`` (here only for the
tasks that read ``cfrc_ext``, the one quantity it feeds).

The physics is exact by default (the XML's solver settings). ``solver_iterations`` and
``ls_iterations`` cap the constraint solver for speed; the README gives what that costs.
Build an env inside ``jax.enable_x64(True)`` to simulate in float64.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import ClassVar

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from purejaxppo.envs import mjx_fixes
from purejaxppo.envs.base import Array, Env, State


def gymnasium_xml_path(xml_file: str) -> str:
    """Path of an XML shipped in the installed gymnasium package (``envs/mujoco/assets``)."""
    path = resources.files("gymnasium.envs.mujoco") / "assets" / xml_file
    if not path.is_file():
        raise FileNotFoundError(f"{xml_file} is not in gymnasium's MuJoCo assets ({path})")
    return str(path)


class MjxEnv(Env):
    """A MuJoCo model from Gymnasium's assets, stepped in MJX.

    Subclasses set ``xml_file``, ``frame_skip``, ``max_episode_steps`` and ``info_keys`` and
    implement ``_reset_qpos_qvel``, ``_get_obs`` and ``_reward``.

    Args:
        solver_iterations: cap on the constraint solver's iterations (None: the XML's).
        ls_iterations: cap on its line-search iterations (None: the XML's).
    """

    xml_file: ClassVar[str]
    frame_skip: ClassVar[int]
    max_episode_steps: ClassVar[int] = 1000
    info_keys: ClassVar[tuple[str, ...]] = ()
    needs_cfrc_ext: ClassVar[bool] = False  # run rne_postconstraint after stepping

    def __init__(self, solver_iterations: int | None = None, ls_iterations: int | None = None):
        self.mj_model = mujoco.MjModel.from_xml_path(gymnasium_xml_path(self.xml_file))
        self._adjust_model(self.mj_model)
        for name, value in (("iterations", solver_iterations), ("ls_iterations", ls_iterations)):
            if value is not None:
                if int(value) < 1:
                    raise ValueError(f"{name} must be a positive integer, got {value}")
                setattr(self.mj_model.opt, name, int(value))
        self.model = mjx.put_model(self.mj_model)
        self.init_qpos = jnp.asarray(self.mj_model.qpos0, self.model.opt.timestep.dtype)
        self.init_qvel = jnp.zeros(self.mj_model.nv, self.init_qpos.dtype)

    def _adjust_model(self, mj_model: mujoco.MjModel) -> None:
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
        data = self.data_from(qpos, qvel)
        zero = jnp.zeros((), data.qpos.dtype)
        return State.create(data, self._get_obs(data), rng, {k: zero for k in self.info_keys})

    def data_from(self, qpos: Array, qvel: Array) -> mjx.Data:
        """``mj_resetData``, set qpos and qvel, ``mj_forward`` — as Gymnasium's set_state."""
        dtype = self.init_qpos.dtype
        data = mjx.make_data(self.model).replace(qpos=qpos.astype(dtype), qvel=qvel.astype(dtype))
        with mjx_fixes.patched():
            data = mjx.forward(self.model, data)
        # MJX writes normalised quaternions back into qpos; C keeps the sampled values, which
        # Gymnasium's reset observation shows (and C normalises them when integrating anyway).
        return data.replace(qpos=qpos.astype(dtype))

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        data = self.simulate(state.data, action)
        reward, terminated, info = self._reward(state.data, data, action)
        return state.replace(
            data=data,
            obs=self._get_obs(data),
            reward=reward.astype(state.reward.dtype),
            terminated=terminated.astype(jnp.float32),
            info=info,
        )

    def simulate(self, data: mjx.Data, action: Array) -> mjx.Data:
        """``frame_skip`` physics steps with ``ctrl = action`` (what ``do_simulation`` does)."""
        data = data.replace(ctrl=action.astype(data.ctrl.dtype))
        with mjx_fixes.patched():
            data = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: mjx.step(self.model, d), data)
            if self.needs_cfrc_ext:
                data = mjx.rne_postconstraint(self.model, data)
        return data

    # ---- the task ----
    def _reset_qpos_qvel(self, key: Array) -> tuple[Array, Array]:
        raise NotImplementedError

    def _get_obs(self, data: mjx.Data) -> Array:
        raise NotImplementedError

    def _reward(
        self, before: mjx.Data, after: mjx.Data, action: Array
    ) -> tuple[Array, Array, dict[str, Array]]:
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
        return f"{type(self).__name__}(obs={self.observation_size}, act={self.action_size})"


def cfrc_ext(data: mjx.Data) -> Array:
    """External contact forces per body, ``[nbody, 6]`` (kept in MJX's implementation data)."""
    return data._impl.cfrc_ext


def cinert(data: mjx.Data) -> Array:
    """Com-based body inertias, ``[nbody, 10]``."""
    return data._impl.cinert
