"""DmcTask: the base of the DeepMind Control Suite's tasks, a :class:`MujocoTask`.

Each task compiles dm_control's own MJCF (read from the installed dm-control package, with its
common assets) and reproduces the task's ``initialize_episode``, ``get_observation`` and
``get_reward`` as pure JAX. One env step is dm_control's ``Physics.step`` with ``legacy_step``:
the substeps, then ``mj_step1`` (the ``step1`` stage), so position- and velocity-dependent
fields are those of the new state and acceleration-stage sensors (touch, force) those of the
last substep. Episodes are 1000 control steps and end only there (truncation).

The observation is dm_control's dict flattened in sorted key order, as Gymnasium's
``dm_control/<domain>-<task>-v0`` wrappers with ``FlattenObservation`` give it, so a policy
trained here runs unchanged there.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from collections.abc import Iterator
from importlib import resources
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from purejaxppo.envs.base import EnvError
from purejaxppo.envs.data import InitialState, SimData
from purejaxppo.envs.task import MujocoTask, Outcome
from purejaxppo.types import Array

EPISODE_STEPS = 1000
"""Control steps per episode in every task of the suite (``time_limit / control_timestep``)."""

REFERENCE_NAMESPACE = "purejaxppo-dmc"
"""Gymnasium namespace of the reference environments (dm_control's own, flattened)."""


def reference_id(domain: str, task: str) -> str:
    """The Gymnasium id of dm_control's own task, flattened (the cross-check's twin)."""
    return f"{REFERENCE_NAMESPACE}/{domain}-{task}-v0"


def reference_owner(gymnasium_id: str) -> str:
    """Whose environment a cross-check's twin is: ``dm_control`` for the suite, else Gymnasium."""
    return "dm_control" if gymnasium_id.startswith(f"{REFERENCE_NAMESPACE}/") else "Gymnasium"


def suite_id(domain: str, task: str) -> str:
    """The id users know from Gymnasium's dm_control wrappers: ``dm_control/cheetah-run-v0``."""
    return f"dm_control/{domain}-{task}-v0"


@contextlib.contextmanager
def quiet_dm_control() -> Iterator[None]:
    """Keeps dm_control's import-time and load-time chatter off the user's screen.

    Importing it probes for an OpenGL backend (GLFW warns on a machine with no display, which
    rendering here does not use), and its model loader logs MuJoCo's deprecation of
    ``settotalmass`` (cheetah.xml): neither is something a user of ours can act on.
    """
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="glfw")
            yield
    finally:
        absl.setLevel(level)


def dm_control_module(name: str) -> Any:
    """``dm_control.<name>``, imported quietly, or a clear error where dm-control is missing."""
    try:
        with quiet_dm_control():
            return importlib.import_module(f"dm_control.{name}")
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in ("dm_control", "labmaze"):
            raise
        raise EnvError(
            f"the DeepMind Control Suite needs dm-control ({e}): it is installed with purejaxppo "
            "on CPython 3.11 and 3.12 (its labmaze dependency has no wheels for newer versions)"
        ) from None


def suite_file(name: str) -> bytes:
    """A file of dm_control's suite (``cheetah.xml``, ``common/materials.xml``) as bytes."""
    try:
        root = resources.files("dm_control")
    except ModuleNotFoundError:
        dm_control_module("suite")  # raises the error that says what to do
        raise
    return (root / "suite" / name).read_bytes()


def suite_assets() -> dict[str, bytes]:
    """dm_control's ``common.ASSETS``: the materials, skybox and visual files models include."""
    names = ("materials.xml", "skybox.xml", "visual.xml")
    return {f"./common/{n}": suite_file(f"common/{n}") for n in names}


class DmcTask(MujocoTask):
    """A task of the DeepMind Control Suite on dm_control's model, stepped by any engine.

    Subclasses set ``domain``, ``dm_task``, ``substeps`` and ``data_fields`` and implement
    :meth:`observations` (dm_control's dict) and :meth:`score` (its reward); those with
    per-episode values implement :meth:`task_from_reference` too.

    Args:
        **engine: ``physics`` and the engine's settings
            (:class:`purejaxppo.envs.engines.EngineSettings`).
    """

    domain: ClassVar[str]
    dm_task: ClassVar[str]
    substeps: ClassVar[int] = 1
    """Physics steps per control step: ``control_timestep / timestep`` in dm_control."""
    data_fields: ClassVar[tuple[str, ...]] = ()
    max_contacts: ClassVar[int] = 0

    def __init__(self, **engine: Any):
        super().__init__(
            self.compiled_model(),
            frame_skip=self.substeps,
            episode_length=EPISODE_STEPS,
            stage="step1",
            fields=self.data_fields,
            max_contacts=self.max_contacts,
            **engine,
        )
        self.dtype = self.engine.dtype

    # ---- the model ----
    @classmethod
    def model_xml(cls) -> bytes:
        """dm_control's MJCF for the domain (``<domain>.xml``; generated ones override this)."""
        return suite_file(f"{cls.domain}.xml")

    def edit_model(self, model: mujoco.MjModel) -> None:
        """The task's constant edits of the compiled model (a target's size, a damping)."""

    def prepare_model(self, mj_model: mujoco.MjModel, physics: str) -> None:
        """What MJX and Warp lack, turned off where the task does not use it.

        Energy: acrobot, cartpole and pendulum enable it for dm_control's viewer; no task reads
        it. Collision pairs where contacts or constraints are off (fish, swimmer, reacher,
        ...): they make no force, no task reads them, and MJX refuses some of their geom pairs
        (ellipsoid-box) even so.
        """
        del physics
        opt = mj_model.opt
        opt.enableflags &= ~int(mujoco.mjtEnableBit.mjENBL_ENERGY)
        off = mujoco.mjtDisableBit.mjDSBL_CONTACT | mujoco.mjtDisableBit.mjDSBL_CONSTRAINT
        if opt.disableflags & off and mj_model.npair == 0:
            opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
            mj_model.geom_contype[:] = 0
            mj_model.geom_conaffinity[:] = 0

    def compiled_model(self) -> mujoco.MjModel:
        """dm_control's model for this task, compiled with its assets and edited."""
        from purejaxppo.envs.task import load_model

        xml = self.model_xml()
        model = load_model(xml.decode() if isinstance(xml, bytes) else xml, suite_assets())
        self.edit_model(model)
        return model

    # ---- names ----
    def body(self, name: str) -> int:
        """The id of body ``name``."""
        return self._id(mujoco.mjtObj.mjOBJ_BODY, name)

    def geom(self, name: str) -> int:
        """The id of geom ``name``."""
        return self._id(mujoco.mjtObj.mjOBJ_GEOM, name)

    def site(self, name: str) -> int:
        """The id of site ``name``."""
        return self._id(mujoco.mjtObj.mjOBJ_SITE, name)

    def sensor(self, name: str) -> slice:
        """Where sensor ``name``'s values are in ``sensordata``."""
        m = self.mj_model
        i = self._id(mujoco.mjtObj.mjOBJ_SENSOR, name)
        return slice(int(m.sensor_adr[i]), int(m.sensor_adr[i] + m.sensor_dim[i]))

    def joint_qpos(self, name: str) -> int:
        """Where joint ``name``'s first coordinate is in ``qpos``."""
        return int(self.mj_model.jnt_qposadr[self._id(mujoco.mjtObj.mjOBJ_JOINT, name)])

    def joint_dof(self, name: str) -> int:
        """Where joint ``name``'s first coordinate is in ``qvel``."""
        return int(self.mj_model.jnt_dofadr[self._id(mujoco.mjtObj.mjOBJ_JOINT, name)])

    def _id(self, kind: mujoco.mjtObj, name: str) -> int:
        i = mujoco.mj_name2id(self.mj_model, kind, name)
        if i < 0:
            raise EnvError(f"{self.domain}.xml has no {kind.name[6:].lower()} named {name!r}")
        return int(i)

    # ---- the task: what subclasses write ----
    def observations(self, data: SimData, task: Any) -> dict[str, Array]:
        """dm_control's observation dict (each entry any shape; scalars become one element)."""
        raise NotImplementedError

    def score(self, data: SimData, action: Array, task: Any) -> Array:
        """dm_control's ``get_reward`` on the state after a step, ``[]``.

        Args:
            data: the fields after the step.
            action: ``[act]``, what was written to ``ctrl`` (dm_control's ``physics.control()``).
            task: the episode's values.
        """
        raise NotImplementedError

    def task_from_reference(self, physics: Any) -> Any:
        """The episode's values (a target, say) read from a dm_control ``Physics`` (default ())."""
        del physics
        return ()

    # ---- the MujocoTask contract ----
    def observation(self, data: SimData, task: Any) -> Array:  # noqa: D102
        obs = self.observations(data, task)
        return jnp.concatenate([jnp.ravel(obs[k]) for k in sorted(obs)])

    def reward(self, before: SimData, after: SimData, action: Array, task: Any) -> Outcome:  # noqa: D102
        del before
        reward = self.score(after, action, task)
        return Outcome(reward, jnp.zeros((), bool), {})

    # ---- dm_control's state ----
    def reference_state(self, physics: Any) -> InitialState:
        """The state of a dm_control ``Physics``: integration state and the episode's values.

        Placing it (:meth:`place`) and stepping both under the same controls gives the same
        trajectory (the exactness tests do this).
        """
        d = physics.data

        def array(value: Any) -> Array:
            return jnp.asarray(value, self.dtype)

        return InitialState(
            qpos=array(d.qpos),
            qvel=array(d.qvel),
            act=array(d.act),
            qacc_warmstart=array(d.qacc_warmstart),
            time=array(d.time),
            task=jax.tree.map(array, self.task_from_reference(physics)),
        )

    # ---- helpers shared by the tasks ----
    def uniform(self, key: Array, low: Any, high: Any, shape: tuple[int, ...] = ()) -> Array:
        """``U(low, high)`` in the engine's dtype (NumPy's ``random.uniform``)."""
        return jax.random.uniform(key, shape, self.dtype, low, high)

    def randomize_joints(self, key: Array, qpos: Array) -> Array:
        """dm_control's ``randomize_limited_and_rotational_joints`` on ``qpos [nq]``.

        Limited hinges and slides ``U(range)``; unlimited hinges ``U(-pi, pi)``; limited balls a
        rotation of ``U(0, range)`` about a random axis; unlimited balls a normalised Gaussian
        quaternion; free joints a normalised ``U(0, 1)^4`` quaternion (position kept).
        """
        m = self.mj_model
        keys = jax.random.split(key, max(m.njnt, 1))
        for j in range(m.njnt):
            kind, adr = int(m.jnt_type[j]), int(m.jnt_qposadr[j])
            lo, hi = (float(v) for v in m.jnt_range[j])
            limited = bool(m.jnt_limited[j])
            k = keys[j]
            if kind in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE) and limited:
                qpos = qpos.at[adr].set(self.uniform(k, lo, hi))
            elif kind == mujoco.mjtJoint.mjJNT_HINGE:
                qpos = qpos.at[adr].set(self.uniform(k, -np.pi, np.pi))
            elif kind == mujoco.mjtJoint.mjJNT_BALL:
                qpos = qpos.at[adr : adr + 4].set(
                    limited_quaternion(k, hi, self.dtype)
                    if limited
                    else gaussian_quaternion(k, self.dtype)
                )
            elif kind == mujoco.mjtJoint.mjJNT_FREE:
                q = jax.random.uniform(k, (4,), self.dtype)
                qpos = qpos.at[adr + 3 : adr + 7].set(q / jnp.linalg.norm(q))
        return qpos

    def qpos0(self) -> Array:
        """The model's ``qpos0`` in the engine's dtype (where ``mj_resetData`` puts it)."""
        return jnp.asarray(self.mj_model.qpos0, self.dtype)


def vector_times_matrix(v: Array, m: Array) -> Array:
    """``v @ m`` for ``v [..., 3]`` and ``m [3, 3]``, rounded as NumPy's ``v.dot(m)``.

    The products are rounded before they are summed left to right: XLA would otherwise fuse
    them into fused multiply-adds, which round once and so differ in the last bit.
    """
    products = jax.lax.optimization_barrier(v[..., :, None] * m)
    return (products[..., 0, :] + products[..., 1, :]) + products[..., 2, :]


def norm(v: Array) -> Array:
    """The Euclidean norm of ``v [n]`` (n <= 3), rounded as NumPy's ``linalg.norm``.

    The squares are rounded before they are summed left to right (see
    :func:`vector_times_matrix`).
    """
    squares = jax.lax.optimization_barrier(v * v)
    total = squares[0]
    for i in range(1, v.shape[0]):
        total = total + squares[i]
    return jnp.sqrt(total)


def gaussian_quaternion(key: Array, dtype: Any) -> Array:
    """A unit quaternion from a normalised ``N(0, 1)^4`` draw: uniform over rotations."""
    q = jax.random.normal(key, (4,), dtype)
    return q / jnp.linalg.norm(q)


def limited_quaternion(key: Array, limit: float, dtype: Any) -> Array:
    """A rotation by ``U(0, limit)`` about a uniformly random axis (``mju_axisAngle2Quat``)."""
    k_axis, k_angle = jax.random.split(key)
    axis = jax.random.normal(k_axis, (3,), dtype)
    axis = axis / jnp.linalg.norm(axis)
    half = jax.random.uniform(k_angle, (), dtype) * limit / 2
    return jnp.concatenate([jnp.cos(half)[None], jnp.sin(half) * axis])
