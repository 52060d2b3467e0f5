"""MuJoCo Warp as a physics engine: ``mjx.step`` with ``impl="warp"``, one call per batched step.

MuJoCo Warp's ``Data`` holds buffers shared by every world of a batch (the contact pool), which
``vmap`` must not batch and our wrappers (auto-reset, the seed folding) would. So the scan carries
a light state of plain per-env arrays (:class:`WarpData`: the integration state and the fields
the task reads), and each batched step rebuilds a ``Data`` from a template made for that batch
size, steps it ``frame_skip`` times and reads the state back. Carrying the whole ``Data`` instead
gives the same values.

Capacity: MuJoCo Warp allocates ``naconmax`` contacts for the whole batch and ``njmax``
constraint rows per world. Both are sized here from the batch the step is traced for (the envs,
with seeds and sweep points folded in): ``naconmax_per_env`` times the batch, and ``njmax``, by
default MuJoCo Warp's own estimate for one world. A step that runs out of either is flagged in
the state (``WarpData.state["overflow"]``, MuJoCo Warp's bitmask) and its positions set to NaN,
so a run cannot go on with dropped contacts (its loss turns NaN and the run stops, the newest
checkpoint kept); :func:`overflow_message` says which capacity to raise.

Float32 only (MuJoCo Warp's kernels); no gradients.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import tempfile
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from purejaxppo.batching import broadcast_unbatched
from purejaxppo.envs.base import EnvError
from purejaxppo.envs.data import (
    ACCELERATION,
    CONTACT,
    RNE_SENSORS,
    FieldSpec,
    InitialState,
    SimData,
    contact_pad,
    read_field,
    why_not,
)
from purejaxppo.types import Array

_STATE = ("qpos", "qvel", "act", "mocap_pos", "mocap_quat", "qacc_warmstart", "time")
"""What a step carries from one env step to the next (what ``mj_step`` reads of mjData here)."""

_RNE_POST = ("cacc", "cfrc_int", "cfrc_ext")
"""What ``mj_rnePostConstraint`` computes: zero after a reset in C MuJoCo."""

_CAPACITY = 1 | 2 | 4 | 8 | 16
"""The bits of MuJoCo Warp's ``overflow`` that mean a buffer ran out (the others report e.g. a
solver that reached its iteration limit, which C MuJoCo also allows)."""

_OVERFLOWS = {1: "constraint rows (njmax)", 2: "constraint Jacobian non-zeros (njmax)",
              4: "contacts (naconmax_per_env)", 8: "contacts (naconmax_per_env)",
              16: "contacts (naconmax_per_env)"}  # fmt: skip
"""MuJoCo Warp's overflow bits (``OverflowType``) and the capacity each asks to raise."""


def why_unavailable() -> str | None:
    """None when the Warp engine can run here, else what to do."""
    try:
        found = importlib.util.find_spec("warp") is not None
    except ValueError:  # a module entry of None: import warp is made to fail
        found = False
    if not found:
        return (
            "physics='warp' needs warp-lang: install the warp extra (`uv sync --extra warp`; "
            "with pip: `pip install '<the purejaxppo wheel>[warp]'`)"
        )
    return None


class WarpData(SimData):
    """One env's state on the Warp engine and the fields its task reads.

    Attributes:
        state: ``qpos [nq]``, ``qvel [nv]``, ``act [na]``, ``mocap_pos [nmocap, 3]``,
            ``mocap_quat [nmocap, 4]``, ``qacc_warmstart [nv]``, ``time []`` (float32) and
            ``overflow []`` (int32, MuJoCo Warp's bitmask of exhausted capacities; 0 when none
            ran out).
        fields: the mjData fields the task reads, by name (see :class:`SimData`).
    """

    state: dict[str, Array]


class WarpPhysics:
    """A task's physics in MuJoCo Warp (float32).

    Args:
        mj_model: the task's model, with the settings MJX needs already applied (Newton).
        frame_skip: ``mj_step`` calls per env step.
        stage: what runs after them (:data:`purejaxppo.envs.data.STAGES`).
        fields: the fields the task reads.
        contacts: contacts per env that ``contact.<name>`` fields hold.
        naconmax_per_env: contacts allocated per env of a batch (default: MuJoCo Warp's
            estimate for one world).
        njmax: constraint rows allocated per env (default: MuJoCo Warp's estimate).

    Raises:
        EnvError: warp-lang is missing, float64 was asked for, or a model feature or field
            MuJoCo Warp does not have.
    """

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        frame_skip: int,
        stage: str,
        fields: tuple[FieldSpec, ...],
        contacts: int = 0,
        naconmax_per_env: int | None = None,
        njmax: int | None = None,
    ):
        why = why_unavailable()
        if why is not None:
            raise EnvError(why)
        if jnp.result_type(float) == jnp.float64:
            raise EnvError("physics='warp' runs in float32: build the env outside jax.enable_x64")
        from mujoco.mjx.third_party.mujoco_warp._src import io as warp_io

        _init_warp()

        names = {f.name for f in fields}
        unsupported = []
        if mj_model.nhistory or mj_model.nplastic:  # the light state does not carry them
            unsupported.append("actuator or sensor delays, or plastic joints")
        if stage == "rne_post" and names & {"cacc", "cfrc_int"}:  # C's: after integrating
            unsupported.append("cacc and cfrc_int after the step (it computes them before)")
        if unsupported:
            raise EnvError(
                f"the Warp engine cannot run this task (unsupported: {'; '.join(unsupported)}); "
                "C MuJoCo can: physics='c'"
            )
        self.mj_model = mj_model
        self.frame_skip = int(frame_skip)
        self.stage = stage
        self.fields = fields
        self.contacts = contacts
        self.naconmax_per_env = naconmax_per_env or warp_io._default_nconmax(mj_model)
        self.njmax = njmax or warp_io._default_njmax(mj_model)
        self.dtype = jnp.float32
        self.device = jax.devices()[0]
        sensing = not mj_model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_SENSOR
        # a reset's mj_forward leaves them as mj_resetData zeroed them, unless sensors need them
        self._zero_rne = not (sensing and set(mj_model.sensor_type.tolist()) & RNE_SENSORS)
        try:
            model = mjx.put_model(mj_model, impl="warp", device=self.device)
        except (NotImplementedError, ValueError) as e:
            raise EnvError(
                f"MuJoCo Warp cannot run this model (unsupported: {e}); C MuJoCo can: physics='c'"
            ) from None
        impl = model.opt._impl.replace(
            run_rne_postconstraint=bool(names & set(_RNE_POST)),  # as rnePostConstraint
            warn_overflow=False,  # reported through the state instead
        )
        self.model = model.replace(opt=model.opt.replace(_impl=impl))
        template = self._template(1)
        for f in fields:
            why = why_not(template, f, "MuJoCo Warp")
            if why:
                raise EnvError(
                    f"the Warp engine cannot give mjData.{f.name}: {why}; physics='c' can"
                )
        sensors = [(a, d) for a, d, s in zip(
            mj_model.sensor_adr, mj_model.sensor_dim, mj_model.sensor_needstage, strict=True
        ) if s == mujoco.mjtStage.mjSTAGE_ACC]  # fmt: skip
        self._acc_sensors = np.concatenate(
            [np.arange(a, a + d) for a, d in sensors] or [np.zeros(0, int)]
        )

    @functools.cache  # noqa: B019 (one template per batch size, for the life of the engine)
    def _template(self, batch: int) -> Any:
        """A zero ``Data`` with capacity for ``batch`` worlds (concrete arrays, made once)."""
        with jax.ensure_compile_time_eval():  # traced first inside a program: keep no tracer
            return mjx.make_data(
                self.mj_model,
                impl="warp",
                device=self.device,
                naconmax=self.naconmax_per_env * batch,
                njmax=self.njmax,
            )

    def _read(self, d: Any, size: int) -> WarpData:
        """The light state and the task's fields of a batch's ``Data`` (``size`` worlds)."""

        def one(d: Any) -> WarpData:
            state = {name: getattr(d, name) for name in _STATE}
            overflow = jnp.asarray(d._impl.overflow, jnp.int32).reshape(()) & _CAPACITY
            state["qpos"] = jnp.where(overflow == 0, state["qpos"], jnp.nan)
            state["overflow"] = overflow
            fields = {f.name: read_field(d, f) for f in self.fields if not _pooled(f.name)}
            fields["qpos"] = state["qpos"]
            return WarpData(state=state, fields=fields)

        out = jax.vmap(one)(d)
        if any(_pooled(f.name) for f in self.fields):
            pooled = _contacts(d, size, self.contacts, self.fields)
            out = out.replace(fields={**out.fields, **pooled})
        return out

    def _batched(self, fn: Any, *args: Any) -> WarpData:
        """``fn(batch, *args)`` over a batch axis, the batch size read from ``vmap``."""

        @jax.custom_batching.custom_vmap
        def one(*args: Any) -> WarpData:
            out = fn(1, *jax.tree.map(lambda x: x[None], args))
            return jax.tree.map(lambda x: x[0], out)

        @one.def_vmap
        def rule(axis_size: int, in_batched: list, *args: Any) -> tuple[WarpData, Any]:
            args = tuple(
                jax.tree.map(functools.partial(broadcast_unbatched, axis_size), a, b)
                for a, b in zip(args, in_batched, strict=True)
            )
            out = fn(axis_size, *args)
            return out, jax.tree.map(lambda _: True, out)

        return one(*args)

    def _data(self, size: int, state: dict, ctrl: Array | None = None) -> Any:
        template = self._template(size)

        def one(s: dict, c: Array | None) -> Any:
            parts = {k: s[k].astype(jnp.float32) for k in _STATE}
            return template.replace(**parts) if c is None else template.replace(**parts, ctrl=c)

        return jax.vmap(one)(state, ctrl)

    def reset(self, initial: InitialState) -> WarpData:
        """``mj_resetData``, the initial state's parts set, ``mj_forward``.

        Args:
            initial: a completed :class:`InitialState` (every part given).
        """
        parts = {p: getattr(initial, p) for p in InitialState.PARTS}

        def batch(size: int, parts: dict) -> WarpData:
            d = self._data(size, parts)
            d = jax.vmap(lambda d: mjx.forward(self.model, d))(d)
            out = self._read(d, size)
            return out.replace(fields=self._zeroed(out.fields))

        return self._batched(batch, parts)

    def step(self, data: WarpData, action: Array) -> WarpData:
        """``frame_skip`` physics steps with ``ctrl = action``, then the stage."""

        def batch(size: int, state: dict, ctrl: Array) -> WarpData:
            d = self._data(size, state, ctrl.astype(jnp.float32))
            step = jax.vmap(lambda d: mjx.step(self.model, d))
            d = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: step(d), d)
            stepped = self._read(d, size)
            if self.stage in ("step1", "forward"):
                d = jax.vmap(lambda d: mjx.forward(self.model, d))(d)
            out = self._read(d, size) if self.stage in ("step1", "forward") else stepped
            if self.stage == "step1":  # the acceleration stage as the last substep left it
                out = out.replace(fields=self._splice(out.fields, stepped))
            previous = state["overflow"]  # once exhausted, stays flagged
            return out.replace(state={**out.state, "overflow": out.state["overflow"] | previous})

        return self._batched(batch, data.state, action)

    def _splice(self, new: dict[str, Array], old: WarpData) -> dict[str, Array]:
        out = dict(new)
        for name in new:
            if name in ACCELERATION:
                out[name] = old.fields[name]
            elif name == "sensordata" and self._acc_sensors.size:
                idx = self._acc_sensors
                out[name] = new[name].at[..., idx].set(old.fields[name][..., idx])
        return out

    def settle(self, data: WarpData, steps: int, from_default_pose: bool = False) -> WarpData:
        """``steps`` zero-control steps, the time kept, then ``mj_forward``.

        ``from_default_pose`` (dm_control's first step after a reset) is C MuJoCo's alone: here
        every step is a whole ``mjx.step``.
        """
        del from_default_pose

        def batch(size: int, state: dict) -> WarpData:
            d = self._data(size, state)
            step = jax.vmap(lambda d: mjx.step(self.model, d))
            d = jax.lax.fori_loop(0, steps, lambda _, d: step(d), d)
            d = d.replace(time=state["time"].astype(jnp.float32))
            d = jax.vmap(lambda d: mjx.forward(self.model, d))(d)
            out = self._read(d, size)
            zeroed = self._zeroed(out.fields)
            return out.replace(
                fields=zeroed,
                state={**out.state, "overflow": state["overflow"] | out.state["overflow"]},
            )

        return self._batched(batch, data.state)

    def view(self, data: WarpData) -> WarpData:
        """What the task reads of ``data``: the data itself."""
        return data

    def _zeroed(self, fields: dict[str, Array]) -> dict[str, Array]:
        """``fields`` after a reset's ``mj_forward``: rnePostConstraint's outputs as C leaves them.

        MuJoCo Warp's forward computes them whenever the model asks for them in steps; C's
        ``mj_forward`` only for the sensors that read them (else ``mj_resetData``'s zeros).
        """
        if not self._zero_rne:
            return fields
        return {k: jnp.zeros_like(v) if k in _RNE_POST else v for k, v in fields.items()}


def _pooled(name: str) -> bool:
    return name == "ncon" or name.startswith("contact.")


def _contacts(d: Any, size: int, capacity: int, fields: tuple[FieldSpec, ...]) -> dict:
    """``ncon`` and the contact fields per world, from MuJoCo Warp's contacts of the batch.

    The batch's contacts sit in one pool (``naconmax`` rows, the first ``nacon`` in use, each
    with its world's index), filled in no fixed order; sorting by world, geom pair and distance
    gives each world's contacts in an order that does not change from run to run.
    """
    impl = d._impl
    pool = impl.contact__worldid.shape[0]
    used = jnp.arange(pool) < jnp.reshape(impl.nacon, (-1,))[0]
    world = jnp.where(used, impl.contact__worldid, size)
    geom = impl.contact__geom.reshape(pool, 2)
    order = jnp.lexsort((impl.contact__dist.reshape(pool), geom[:, 1], geom[:, 0], world))
    counts = jnp.zeros(size + 1, jnp.int32).at[world].add(1)[:size]
    starts = jnp.cumsum(counts) - counts
    slot = starts[:, None] + jnp.arange(capacity)[None, :]  # [size, capacity]
    valid = jnp.arange(capacity)[None, :] < counts[:, None]
    rows = order[jnp.clip(slot, 0, pool - 1)]
    out = {}
    for f in fields:
        if f.name == "ncon":
            out["ncon"] = counts
        elif f.name.startswith("contact."):
            part = f.name.removeprefix("contact.")
            width, is_int = CONTACT[part]
            values = getattr(impl, f"contact__{part}").reshape(pool, width)[rows]
            values = jnp.where(valid[..., None], values, contact_pad(part))
            values = values.astype(jnp.int32) if is_int else values.astype(jnp.float32)
            out[f.name] = values.reshape((size, *f.shape))
    return out


def _init_warp() -> None:
    """Initialises Warp quietly: no banner, no line per kernel module loaded.

    Nor, on a machine without an NVIDIA driver (where the CPU is the device asked for), its
    note that CUDA is unavailable; any other message passes through.
    """
    import warp

    warp.config.log_level = warp.LOG_WARNING
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)  # the note is printed by Warp's C++ side
        try:
            warp.init()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        caught.seek(0)
        text = caught.read().decode(errors="replace")
    for line in text.splitlines():
        if "Could not find or load the NVIDIA CUDA driver" not in line:
            print(line, file=sys.stderr)


def overflow_message(overflow: np.ndarray) -> str | None:
    """What ran out, from the ``overflow`` bitmasks of a batch of states; None when nothing did."""
    bits = int(np.bitwise_or.reduce(np.asarray(overflow, np.int64).ravel(), initial=0))
    if bits == 0:
        return None
    names = sorted({what for bit, what in _OVERFLOWS.items() if bits & bit} or {f"bits {bits}"})
    return (
        f"the Warp engine ran out of {', '.join(names)}: its states were set to NaN; raise the "
        "capacity named (--naconmax-per-env N, --njmax N; default: MuJoCo Warp's estimate)"
    )
