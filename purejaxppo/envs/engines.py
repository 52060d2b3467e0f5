"""The physics engines: their names, settings, checks and construction, in one place.

A task's simulation runs on one engine, chosen by ``physics``:

* ``"c"``: C MuJoCo, the library Gymnasium and dm_control step, called from inside the compiled
  program (:mod:`purejaxppo.envs.c`); float64 and exact by construction; the engine for a CPU.
* ``"mjx"``: MJX, traced into the program (:mod:`purejaxppo.envs.mjx`); the engine for GPUs and
  TPUs. Build the task inside ``jax.enable_x64(True)`` to simulate in float64.
* ``"warp"``: MuJoCo Warp (:mod:`purejaxppo.envs.warp`, the ``warp`` extra); float32; for
  NVIDIA GPUs (it also runs, slowly, on the CPU).
* ``"auto"``: ``"c"`` when JAX's default backend is the CPU (``"mjx"`` if the C engine is not
  built there), ``"mjx"`` on a GPU or TPU; ``"warp"`` or ``"mjx"`` when only that engine's
  settings are given.

The tasks and the command line build and check settings with :class:`EngineSettings`;
``load_policy``, the reports and the benchmarks take the names (:data:`ENGINES`,
:data:`KEYWORDS`, :func:`display_name`) and :func:`resolve` from here.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import mujoco

from purejaxppo.envs.base import EnvError
from purejaxppo.envs.data import FieldSpec, InitialState, SimData
from purejaxppo.types import Array

ENGINES = ("auto", "c", "mjx", "warp")
"""The names ``physics`` takes."""

DISPLAY = {"c": "C MuJoCo", "mjx": "MJX", "warp": "MuJoCo Warp"}
"""Each engine's name in reports."""

MJX_SETTINGS = ("solver_iterations", "ls_iterations", "solver_loops")
WARP_SETTINGS = ("naconmax_per_env", "njmax")


class Physics(Protocol):
    """What every engine offers a task: its data of one env, carried by the program.

    Attributes:
        mj_model: the model the engine was built from.
        dtype: the float dtype of the fields it hands the task.
    """

    mj_model: mujoco.MjModel
    dtype: Any

    def reset(self, initial: InitialState) -> Any:
        """``mj_resetData``, the (completed) initial state's parts set, ``mj_forward``."""

    def step(self, data: Any, action: Array) -> Any:
        """``frame_skip`` physics steps with ``ctrl = action`` ``[nu]``, then the stage."""

    def settle(self, data: Any, steps: int, from_default_pose: bool = False) -> Any:
        """``steps`` zero-control physics steps, the time kept, then ``mj_forward``."""

    def view(self, data: Any) -> SimData:
        """The fields the task reads of ``data``."""


@dataclasses.dataclass(frozen=True)
class EngineSettings:
    """Which engine steps a task, and that engine's settings (None: its default).

    Attributes:
        physics: ``"auto"``, ``"c"``, ``"mjx"`` or ``"warp"`` (see the module doc).
        threads: the C engine's threads per batched step (default: this process's CPUs); any
            count gives the same values.
        solver_iterations: cap on MJX's constraint-solver iterations (None: the model's).
        ls_iterations: cap on MJX's line-search iterations (None: the model's).
        solver_loops: MJX's solver loops: ``"auto"`` (early exit in a program for the CPU,
            a fixed-length line search for a GPU or TPU), ``"early_exit"`` or ``"fixed"``; the
            same values (see :mod:`purejaxppo.envs.mjx.speed`).
        naconmax_per_env: the Warp engine's contacts per env of a batch (None: its estimate).
        njmax: the Warp engine's constraint rows per env (None: its estimate).
    """

    physics: str = "auto"
    threads: int | None = None
    solver_iterations: int | None = None
    ls_iterations: int | None = None
    solver_loops: str | None = None
    naconmax_per_env: int | None = None
    njmax: int | None = None

    def to_kwargs(self) -> dict:
        """The settings given, as keywords (``physics`` always)."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return out | {"physics": self.physics}

    def resolved(self) -> EngineSettings:
        """These settings with ``physics`` named and everything checked.

        Raises:
            EnvError: an unknown engine, a setting the engine does not have, or one out of
                range; ``physics="c"`` off the CPU, an engine that is not installed.
        """
        physics = self.physics
        if physics not in ENGINES:
            raise EnvError(f"physics={physics!r}: choose one of {', '.join(ENGINES)}")
        given = {k for k, v in dataclasses.asdict(self).items() if v is not None} - {"physics"}
        if physics == "auto" and given & set(WARP_SETTINGS):
            physics = "warp"  # these are the Warp engine's settings
        elif physics == "auto" and given & set(MJX_SETTINGS):
            physics = "mjx"  # these are MJX's settings
        physics = resolve(physics)
        if physics != "warp" and given & set(WARP_SETTINGS):
            raise EnvError("naconmax_per_env and njmax size the Warp engine (physics='warp')")
        if physics == "warp" and given & {"threads", "solver_loops"}:
            raise EnvError("threads and solver_loops are not settings of the Warp engine")
        if physics == "warp" and given & {"solver_iterations", "ls_iterations"}:
            raise EnvError("solver_iterations and ls_iterations cap MJX's JAX solver only")
        if physics == "mjx" and "threads" in given:
            raise EnvError("threads is a setting of the C engine (physics='c')")
        if physics == "c" and given & set(MJX_SETTINGS):
            raise EnvError(
                "solver_iterations, ls_iterations and solver_loops are settings of MJX's solver "
                "(physics='mjx'); the C engine runs the model's solver settings, as Gymnasium "
                "and dm_control do"
            )
        for name in ("threads", "solver_iterations", "ls_iterations", *WARP_SETTINGS):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):  # fmt: skip
                raise EnvError(f"{name} must be a positive integer, got {value!r}")
        from purejaxppo.envs.mjx.speed import SOLVER_LOOPS

        if self.solver_loops is not None and self.solver_loops not in SOLVER_LOOPS:
            raise EnvError(
                f"solver_loops={self.solver_loops!r}: choose one of {', '.join(SOLVER_LOOPS)}"
            )
        return dataclasses.replace(self, physics=physics)


KEYWORDS = tuple(f.name for f in dataclasses.fields(EngineSettings))
"""The engine's constructor keywords, which every MuJoCo task takes besides its own."""


def resolve(physics: str) -> str:
    """The engine ``physics`` names here (``auto`` chosen by the backend; see the module doc).

    Raises:
        EnvError: an unknown name, an engine that cannot run here (and what to do).
    """
    from purejaxppo.envs import c as c_engine
    from purejaxppo.envs import warp as warp_engine

    if physics not in ENGINES:
        raise EnvError(f"physics={physics!r}: choose one of {', '.join(ENGINES)}")
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


def installed() -> list[str]:
    """One line per engine: whether this install runs it here, and why not (and what to do)."""
    from purejaxppo.envs import mjx as mjx_engine
    from purejaxppo.envs import warp as warp_engine
    from purejaxppo.envs.c import native

    c_why = native.why_unavailable()  # the library itself: loads, and matches this install
    built = native.built_with() if c_why is None else {}
    why = {"c": c_why, "warp": warp_engine.why_unavailable(), "mjx": None}
    try:
        mjx_engine.check_version()
    except EnvError as e:
        why["mjx"] = str(e)
        why["warp"] = why["warp"] or str(e)  # the Warp engine is mujoco-mjx's too
    backend = jax.default_backend()
    if why["c"] is None and backend != "cpu":
        why["c"] = f"it runs in programs on the CPU, and JAX's backend here is {backend}"
    has = {
        "c": "built against MuJoCo {mujoco} and the XLA FFI {ffi_api} of jaxlib {jaxlib}",
        "mjx": f"mujoco-mjx {mjx_engine.MJX_VERSION}",
        "warp": "warp-lang installed",
    }
    lines = [
        f"{DISPLAY[name]} (physics={name!r}): "
        + (
            f"yes, {has[name].format(**built)}" if why[name] is None else f"no: {why[name]}"
        ).replace("\n", " ")
        for name in ("c", "mjx", "warp")
    ]
    auto = "mjx" if why["c"] is not None else "c"
    return [*lines, f"physics='auto' runs {DISPLAY[auto]} here (JAX's backend: {backend})"]


def display_name(physics: str) -> str:
    """The engine's name in reports ("C MuJoCo", "MJX", "MuJoCo Warp"; else "JAX")."""
    return DISPLAY.get(physics, "JAX")


def build(
    settings: EngineSettings,
    mj_model: mujoco.MjModel,
    frame_skip: int,
    stage: str,
    fields: tuple[FieldSpec, ...],
    contacts: int,
    prepare: Callable[[mujoco.MjModel, str], None] | None = None,
) -> Physics:
    """The physics of one task on the engine ``settings`` names (resolved first).

    Args:
        settings: the engine and its settings.
        mj_model: the task's model (changed in place for MJX and Warp: solver caps, and what
            ``prepare`` changes).
        frame_skip: physics steps per env step.
        stage: what runs after them (:data:`purejaxppo.envs.data.STAGES`).
        fields: the fields the task reads.
        contacts: contacts per env that ``contact.<name>`` fields hold.
        prepare: ``prepare(mj_model, engine)`` adapts the model to MJX or Warp (e.g. a solver
            they lack); not called for C MuJoCo.

    Returns:
        A ``CPhysics``, ``MjxPhysics`` or ``WarpPhysics`` (:class:`Physics`).
    """
    from purejaxppo.envs import c as c_engine
    from purejaxppo.envs import mjx as mjx_engine
    from purejaxppo.envs import warp as warp_engine

    s = settings.resolved()
    if s.physics == "c":
        return c_engine.CPhysics(
            mj_model, frame_skip, stage, fields, contacts, s.threads, jnp.result_type(float)
        )
    mjx_engine.check_version()
    if prepare is not None:
        prepare(mj_model, s.physics)
    if s.physics == "warp":
        return warp_engine.WarpPhysics(
            mj_model, frame_skip, stage, fields, contacts, s.naconmax_per_env, s.njmax
        )
    if s.solver_iterations is not None:
        mj_model.opt.iterations = s.solver_iterations
    if s.ls_iterations is not None:
        mj_model.opt.ls_iterations = s.ls_iterations
    return mjx_engine.MjxPhysics(
        mj_model, frame_skip, stage, fields, contacts, s.solver_loops or "auto"
    )


@functools.cache
def _say_once(message: str) -> None:
    print(message, file=sys.stderr)
