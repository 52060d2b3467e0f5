"""MujocoTask: the public base of every MuJoCo task, one definition stepped by any engine.

A task is a model and four pure JAX functions over what the simulation computes::

    class Reach(MujocoTask):
        def __init__(self, ctrl_cost: float = 0.1, **engine):
            super().__init__(XML, frame_skip=4, episode_length=200, fields=("site_xpos",),
                             **engine)
            self.ctrl_cost = ctrl_cost

        def initial_state(self, key) -> InitialState: ...      # qpos, qvel, ..., task values
        def observation(self, data, task) -> Array: ...         # [obs]
        def reward(self, before, after, action, task) -> Outcome: ...

One env step is ``frame_skip`` calls of ``mj_step`` with ``ctrl`` set to the action (MuJoCo
clamps it to ``ctrlrange``), then the task's ``stage`` (:data:`purejaxppo.envs.data.STAGES`). A
reset is ``mj_resetData``, the initial state's parts set, ``mj_forward``; drawn again while
``accept_initial`` refuses it (at most ``reset_tries`` draws), then ``settle_steps`` zero-control
steps. The engine (:mod:`purejaxppo.envs.engines`) is the ``physics`` keyword; the task's code
is the same on all of them.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeAlias, TypeVar

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from purejaxppo.envs import engines
from purejaxppo.envs.base import Env, EnvError, State
from purejaxppo.envs.data import InitialState, SimData, field_specs
from purejaxppo.types import Array

ModelSource: TypeAlias = str | os.PathLike | mujoco.MjModel
"""An MJCF file's path, an MJCF document as a string (it starts with ``<``), or an MjModel."""

T = TypeVar("T")


class Outcome(NamedTuple):
    """What a step did: ``reward []``, ``terminated []`` (bool) and ``info`` (scalars by name)."""

    reward: Array
    terminated: Array
    info: dict[str, Array] = {}  # noqa: RUF012 (never mutated: a fresh dict per step)


def load_model(model: ModelSource, assets: dict[str, bytes] | None = None) -> mujoco.MjModel:
    """The compiled model: a copy of an MjModel, or compiled from an MJCF string or file.

    Args:
        model: the source (see :data:`ModelSource`).
        assets: files the MJCF refers to (meshes, textures, included XML), by name.

    Raises:
        EnvError: a file that does not exist, or MuJoCo's message for a model that does not
            compile (with the file it came from).
    """
    if isinstance(model, mujoco.MjModel):
        return copy.copy(model)
    text = os.fspath(model)
    inline = text.lstrip().startswith("<")
    where = "the MJCF string" if inline else text
    if not inline and not Path(text).is_file():
        raise EnvError(f"{text}: no such MJCF file")
    try:
        with quiet_model_compiler():
            if inline:
                return mujoco.MjModel.from_xml_string(text, assets or {})
            return mujoco.MjModel.from_xml_path(text, assets or {})
    except ValueError as e:
        raise EnvError(f"{where}: MuJoCo could not compile the model: {e}") from None


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


def redraw(
    key: Array, draw: Callable[[Array, Array], T], accept: Callable[[T], Array], tries: int | None
) -> T:
    """``draw(key, 0)``, then ``draw(fold_in(key, i), i)`` for i = 1, 2, ... until ``accept`` holds.

    All inside the program (a ``while_loop``). The attempt ``i`` (int32) lets a draw change
    with the attempt rather than at random (dm_control's quadruped raises its body 1 cm a try).

    Args:
        key: the draws' key.
        draw: one draw from a key and the attempt's index.
        accept: whether a draw is kept, a bool scalar.
        tries: at most this many draws (None: no cap); when every one is refused, the last.

    Returns:
        The first accepted draw (under ``vmap``, each element's own).
    """
    first = draw(key, jnp.zeros((), jnp.int32))
    if tries == 1:
        return first

    def again(carry: tuple[Array, T]) -> Array:
        i, value = carry
        more = jnp.logical_not(accept(value))
        return more if tries is None else jnp.logical_and(more, i < tries)

    def body(carry: tuple[Array, T]) -> tuple[Array, T]:
        i, _ = carry
        return i + 1, draw(jax.random.fold_in(key, i), i)

    return jax.lax.while_loop(again, body, (jnp.ones((), jnp.int32), first))[1]


class _Shapes(NamedTuple):
    obs: jax.ShapeDtypeStruct
    info: dict[str, jax.ShapeDtypeStruct]


class MujocoTask(Env):
    """A MuJoCo model and a task over it, stepped by the engine ``physics`` names.

    Subclasses call ``super().__init__(model, ...)`` and implement :meth:`observation` and
    :meth:`reward`; :meth:`initial_state` defaults to the model's ``qpos0`` at rest. They must
    be pure JAX functions of their arguments (no Python side effects, no host round trips) with
    the same shapes every call; on the C engine the simulation runs in float64 and the fields
    arrive in the program's float dtype.

    Args:
        model: the MJCF file's path, an MJCF string, or an ``MjModel`` (copied).
        assets: files an MJCF string refers to, by name.
        frame_skip: ``mj_step`` calls per env step (the control period is ``frame_skip x
            timestep``).
        episode_length: the time limit in env steps (the episode is truncated there).
        stage: what runs after the substeps (:data:`purejaxppo.envs.data.STAGES`).
        fields: mjData fields the task reads besides qpos and qvel (``"xpos"``, ``"ncon"``,
            ``"contact.dist"``, ...); a field the stage would not compute is refused here.
        max_contacts: contacts per env that ``contact.<name>`` fields hold.
        physics, threads, solver_iterations, ls_iterations, solver_loops, naconmax_per_env,
            njmax: the engine and its settings (:class:`purejaxppo.envs.engines.EngineSettings`).

    Raises:
        EnvError: a model that does not compile, a feature the engine cannot run, an actuator
            without a control range, a field the task cannot read, a bad engine setting.
    """

    gymnasium_id: ClassVar[str | None] = None
    """The task's twin in Gymnasium (registered with ``gymnasium.register`` when the task's
    module is imported, taking the task's keywords), which the cross-check runs the trained
    policy in; None: no twin. Not inherited: each class names its own."""
    reset_tries: ClassVar[int | None] = 1
    """Draws of the initial state until :meth:`accept_initial` holds (None: no cap)."""
    settle_steps: ClassVar[int] = 0
    """Zero-control physics steps after the reset's draw (the episode's clock starts after)."""
    settle_from_default_pose: ClassVar[bool] = False
    """dm_control's order: the first settling step completes one begun at the default pose
    (C MuJoCo only)."""

    def __init__(
        self,
        model: ModelSource,
        *,
        assets: dict[str, bytes] | None = None,
        frame_skip: int = 1,
        episode_length: int = 1000,
        stage: str = "none",
        fields: tuple[str, ...] | str = (),
        max_contacts: int = 0,
        physics: str = "auto",
        threads: int | None = None,
        solver_iterations: int | None = None,
        ls_iterations: int | None = None,
        solver_loops: str | None = None,
        naconmax_per_env: int | None = None,
        njmax: int | None = None,
    ):
        name = type(self).__name__
        counts = {"frame_skip": frame_skip, "episode_length": episode_length}
        if self.reset_tries is not None:
            counts[f"{name}.reset_tries"] = self.reset_tries
        for what, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EnvError(f"{what} must be a positive integer, got {value!r}")
        if not isinstance(self.settle_steps, int) or self.settle_steps < 0:
            raise EnvError(f"{name}.settle_steps must be 0 or more, got {self.settle_steps!r}")
        settings = engines.EngineSettings(
            physics, threads, solver_iterations, ls_iterations, solver_loops, naconmax_per_env,
            njmax,
        ).resolved()  # fmt: skip
        self.physics = settings.physics
        self.mj_model = load_model(model, assets)
        self.frame_skip = int(frame_skip)
        self._episode_length = int(episode_length)
        self.stage = stage
        _check_actuators(self.mj_model)
        names = (fields,) if isinstance(fields, str) else tuple(fields)
        specs = field_specs(self.mj_model, names, stage, int(max_contacts))
        self.fields = tuple(f.name for f in specs)
        self.engine: engines.Physics = engines.build(
            settings, self.mj_model, frame_skip, stage, specs, int(max_contacts),
            self.prepare_model,
        )  # fmt: skip

    # ---- the task: what subclasses write ----
    def prepare_model(self, mj_model: mujoco.MjModel, physics: str) -> None:
        """Changes the model for MJX or Warp (``physics``) where they lack what it asks for.

        Called once, before the model is handed to either (not for C MuJoCo); e.g. a model
        asking for the PGS solver, which MJX lacks, can switch to Newton here.
        """

    def initial_state(self, key: Array) -> InitialState:
        """The state an episode starts from, drawn with ``key`` (default: ``qpos0`` at rest)."""
        del key
        return InitialState()

    def accept_initial(self, data: SimData, initial: InitialState) -> Array:
        """Whether a drawn initial state is kept (e.g. ``data.ncon == 0``); see ``reset_tries``.

        Args:
            data: the simulation after ``mj_forward`` at the drawn state.
            initial: the draw.

        Returns:
            A bool scalar: keep the draw.
        """
        del data, initial
        return jnp.ones((), bool)

    def observation(self, data: SimData, task: Any) -> Array:
        """The observation of ``data``, ``[obs]``.

        Args:
            data: the fields the task reads (``data.qpos``, ...) after the step's stage.
            task: the episode's values from :meth:`initial_state`.
        """
        raise NotImplementedError(f"{type(self).__name__} must define observation()")

    def reward(
        self, before: SimData, after: SimData, action: Array, task: Any
    ) -> Outcome | tuple[Array, Array, dict[str, Array]]:
        """The step from ``before`` to ``after`` under ``action``: (reward, terminated, info).

        Args:
            before: the fields before the step.
            after: the fields after it.
            action: ``[act]``, as given (MuJoCo clamps ``ctrl`` to ``ctrlrange`` when it uses
                it; the training stack clips actions to the action bounds first).
            task: the episode's values from :meth:`initial_state`.

        Returns:
            ``reward []``, ``terminated []`` (bool: an end with no future reward) and ``info``,
            scalars by name (the same names every step).
        """
        raise NotImplementedError(f"{type(self).__name__} must define reward()")

    # ---- spaces ----
    @property
    def observation_size(self) -> int:  # noqa: D102
        return int(self._shapes.obs.shape[0])

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
        return self._episode_length

    @property
    def dt(self) -> float:
        """Seconds of simulated time per env step: timestep x frame_skip."""
        return float(self.mj_model.opt.timestep) * self.frame_skip

    # ---- the contract ----
    def reset(self, key: Array) -> State:  # noqa: D102
        k_draw, k_rng = jax.random.split(key)
        data, initial = self.draw(k_draw)
        if self.settle_steps:
            data = self.engine.settle(data, self.settle_steps, self.settle_from_default_pose)
        return self.begin(data, initial.task, k_rng)

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        data = self.engine.step(state.data, action)
        after = self.engine.view(data)
        reward, terminated, info = self._outcome(
            self.engine.view(state.data), after, action, state.task
        )
        info = {k: v.astype(self._shapes.info[k].dtype) for k, v in info.items()}
        return state.replace(
            data=data,
            obs=self.observation(after, state.task),
            reward=reward.astype(state.reward.dtype),
            terminated=terminated.astype(jnp.float32),
            info=info,
        )

    # ---- building blocks of a reset ----
    def place(self, initial: InitialState) -> Any:
        """The engine's data for ``initial``: ``mj_resetData``, its parts set, ``mj_forward``."""
        return self.engine.reset(initial.complete(self.mj_model, self.engine.dtype))

    def draw(self, key: Array) -> tuple[Any, InitialState]:
        """(data, initial state) of the first draw that :meth:`accept_initial` keeps.

        At most ``reset_tries`` draws: the first with ``key``, the next with keys folded from it.
        """

        def one(k: Array, attempt: Array) -> tuple[Any, InitialState]:
            del attempt
            initial = self.initial_state(k).complete(self.mj_model, self.engine.dtype)
            return self.engine.reset(initial), initial

        def accept(drawn: tuple[Any, InitialState]) -> Array:
            return self.accept_initial(self.engine.view(drawn[0]), drawn[1])

        return redraw(key, one, accept, self.reset_tries)

    def begin(self, data: Any, task: Any, rng: Array) -> State:
        """The first state of an episode at ``data`` with the task's values ``task``."""
        obs = self.observation(self.engine.view(data), task)
        info = {k: jnp.zeros(v.shape, v.dtype) for k, v in self._shapes.info.items()}
        return State.create(data, obs, rng, info).replace(task=task)

    # ---- checks ----
    @functools.cached_property
    def _shapes(self) -> _Shapes:
        """The observation's and the info's shapes, checked once (shapes only: nothing runs)."""

        def probe(key: Array) -> tuple[Array, Array, tuple[Array, Array, dict]]:
            data, initial = self.draw(key)
            first = self.observation(self.engine.view(data), initial.task)
            action = jnp.zeros(self.action_size, self.engine.dtype)
            nxt = self.engine.step(data, action)
            view = self.engine.view(nxt)
            outcome = self._outcome(self.engine.view(data), view, action, initial.task)
            return first, self.observation(view, initial.task), outcome

        first, after, (reward, terminated, info) = jax.eval_shape(probe, jax.random.PRNGKey(0))
        name = type(self).__name__
        if first.ndim != 1 or not jnp.issubdtype(first.dtype, jnp.floating):
            raise EnvError(
                f"{name}.observation must return a 1-D float array; at reset it returned "
                f"{first.dtype}{list(first.shape)}"
            )
        if after.shape != first.shape:
            raise EnvError(
                f"{name}.observation changes shape: {list(first.shape)} at reset, "
                f"{list(after.shape)} after a step"
            )
        if reward.shape != ():
            raise EnvError(f"{name}.reward must give a scalar reward, not shape {reward.shape}")
        if terminated.shape != ():
            raise EnvError(f"{name}.reward must give a scalar terminated, not {terminated.shape}")
        bad = [k for k, v in info.items() if v.shape != ()]
        if bad:
            raise EnvError(f"{name}.reward's info must hold scalars, not: {', '.join(bad)}")
        return _Shapes(first, info)

    def _outcome(
        self, before: SimData, after: SimData, action: Array, task: Any
    ) -> tuple[Array, Array, dict[str, Array]]:
        out = self.reward(before, after, action, task)
        if not isinstance(out, tuple) or len(out) not in (2, 3):
            what = "one value" if not isinstance(out, tuple) else f"{len(out)} values"
            raise EnvError(
                f"{type(self).__name__}.reward must return Outcome(reward, terminated, info) "
                f"(or a tuple of the three), not {what}"
            )
        reward, terminated, info = (*out, {}) if len(out) == 2 else out
        info = {k: jnp.asarray(v) for k, v in dict(info).items()}
        return jnp.asarray(reward), jnp.asarray(terminated), info

    def check(self) -> None:
        """Every check: shapes (as construction-time use does) and a finite first observation.

        Runs one reset (compiled) on this engine. The command line runs it before anything is
        written.

        Raises:
            EnvError: what is wrong, and where.
        """
        _ = self._shapes
        obs = np.asarray(jax.jit(self.reset)(jax.random.PRNGKey(0)).obs)
        bad = np.flatnonzero(~np.isfinite(obs))
        if bad.size:
            raise EnvError(
                f"{type(self).__name__}.observation is not finite at reset: entries "
                f"{bad[:10].tolist()} are {obs[bad[:10]].tolist()}"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(physics={self.physics}, obs={self.observation_size}, "
            f"act={self.action_size})"
        )


def _check_actuators(model: mujoco.MjModel) -> None:
    """An :class:`EnvError` naming the actuators without a control range (bounds [0, 0])."""
    free = [
        model.actuator(i).name or f"#{i}"
        for i in range(model.nu)
        if not model.actuator_ctrllimited[i]
    ]
    if free:
        raise EnvError(
            f"actuators without a control range: {', '.join(free)}. Actions are bounded by "
            "each actuator's ctrlrange: give it one (ctrlrange='-1 1') in the model"
        )
