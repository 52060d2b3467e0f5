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
import os
import sys
import tempfile
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from purejaxppo.envs.base import EnvError, broadcast_unbatched
from purejaxppo.envs.c.physics import CData
from purejaxppo.types import Array

_STATE = ("qpos", "qvel", "act", "qacc_warmstart", "time")
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


class WarpData(CData):
    """One env's state on the Warp engine and the fields its task reads.

    Attributes:
        state: ``qpos [nq]``, ``qvel [nv]``, ``act [na]``, ``qacc_warmstart [nv]``, ``time []``
            (float32) and ``overflow []`` (int32, MuJoCo Warp's bitmask of exhausted
            capacities; 0 when none ran out).
        fields: the mjData fields the task reads, by name (``data.xpos``, ...).
    """

    state: dict[str, Array]  # type: ignore[assignment]


class WarpPhysics:
    """A task's physics in MuJoCo Warp (float32).

    Args:
        mj_model: the task's model, with the settings MJX needs already applied (Newton).
        frame_skip: ``mj_step`` calls per env step.
        fields: mjData fields the task reads besides qpos and qvel.
        naconmax_per_env: contacts allocated per env of a batch (default: MuJoCo Warp's
            estimate for one world).
        njmax: constraint rows allocated per env (default: MuJoCo Warp's estimate).

    Raises:
        EnvError: warp-lang is missing, float64 was asked for, or a capacity is not positive.
    """

    name = "warp"

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        frame_skip: int,
        fields: tuple[str, ...],
        naconmax_per_env: int | None = None,
        njmax: int | None = None,
    ):
        from purejaxppo.envs.warp import why_unavailable

        why = why_unavailable()
        if why is not None:
            raise EnvError(why)
        if jnp.result_type(float) == jnp.float64:
            raise EnvError("physics='warp' runs in float32: build the env outside jax.enable_x64")
        from mujoco.mjx.third_party.mujoco_warp._src import io as warp_io

        _init_warp()

        for name, value in (("naconmax_per_env", naconmax_per_env), ("njmax", njmax)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise EnvError(f"{name} must be a positive integer, got {value!r}")
        self.mj_model = mj_model
        self.frame_skip = int(frame_skip)
        self.fields = tuple(f for f in fields if f not in ("qpos", "qvel"))
        self.naconmax_per_env = naconmax_per_env or warp_io._default_nconmax(mj_model)
        self.njmax = njmax or warp_io._default_njmax(mj_model)
        self.dtype = jnp.float32
        self.device = jax.devices()[0]
        model = mjx.put_model(mj_model, impl="warp", device=self.device)
        impl = model.opt._impl.replace(
            run_rne_postconstraint="cfrc_ext" in self.fields,  # as Gymnasium's rnePostConstraint
            warn_overflow=False,  # reported through the state instead
        )
        self.model = model.replace(opt=model.opt.replace(_impl=impl))

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

    def _read(self, d: Any) -> WarpData:
        """The light state and the task's fields of one world's ``Data`` (under ``vmap``)."""
        state = {name: getattr(d, name) for name in _STATE}
        overflow = jnp.asarray(d._impl.overflow, jnp.int32).reshape(()) & _CAPACITY
        state["qpos"] = jnp.where(overflow == 0, state["qpos"], jnp.nan)
        state["overflow"] = overflow
        fields = {name: _field(d, name) for name in ("qpos", "qvel", *self.fields)}
        fields["qpos"] = state["qpos"]
        return WarpData(state=state, fields=fields)

    def _batched(self, fn: Any, *args: Array) -> WarpData:
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

    def reset(self, qpos: Array, qvel: Array) -> WarpData:
        """``mj_resetData``, set qpos and qvel, ``mj_forward``: Gymnasium's ``set_state``.

        Args:
            qpos: ``[nq]``.
            qvel: ``[nv]``.
        """

        def batch(size: int, qpos: Array, qvel: Array) -> WarpData:
            template = self._template(size)
            d = jax.vmap(lambda q, v: template.replace(qpos=q, qvel=v))(
                qpos.astype(jnp.float32), qvel.astype(jnp.float32)
            )
            d = jax.vmap(lambda d: mjx.forward(self.model, d))(d)
            out = jax.vmap(self._read)(d)
            # mj_forward leaves rnePostConstraint's outputs as mj_resetData zeroed them; Warp's
            # forward computes them when the model asks for them in steps
            zeroed = {k: jnp.zeros_like(v) if k in _RNE_POST else v for k, v in out.fields.items()}
            return out.replace(fields=zeroed)

        return self._batched(batch, qpos, qvel)

    def step(self, data: WarpData, action: Array) -> WarpData:
        """``frame_skip`` physics steps with ``ctrl = action`` (what ``do_simulation`` does)."""

        def batch(size: int, state: dict, ctrl: Array) -> WarpData:
            template = self._template(size)
            d = jax.vmap(lambda s, c: template.replace(**{k: s[k] for k in _STATE}, ctrl=c))(
                state, ctrl.astype(jnp.float32)
            )
            step = jax.vmap(lambda d: mjx.step(self.model, d))
            d = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: step(d), d)
            out = jax.vmap(self._read)(d)
            previous = state["overflow"]  # once exhausted, stays flagged
            return out.replace(state={**out.state, "overflow": out.state["overflow"] | previous})

        return self._batched(batch, data.state, action)  # type: ignore[arg-type]


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


def _field(d: Any, name: str) -> Array:
    """The mjData field ``name`` of a Warp ``Data`` (public, or kept in its implementation)."""
    impl = d._impl  # first: reading a private field as public is deprecated, with a warning
    return getattr(impl, name) if hasattr(impl, name) else getattr(d, name)


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
