"""C MuJoCo as a physics engine of the compiled program: one FFI call per batched env step.

The scan carries each env's complete C state, MuJoCo's ``mjSTATE_INTEGRATION`` row (time,
qpos, qvel, act, controls, applied forces, warm start, ...), as the raw bits of its float64
numbers (``uint32 [2 * nstate]``: JAX runs with x64 off, and rounding the state to float32
would leave Gymnasium's trajectory after one step). Beside it ride the mjData fields the task
reads (qpos, qvel, and e.g. xpos, cfrc_ext), in the program's float dtype. So the same key gives
the same run, resume is bit for bit, and the host's mjData are scratch.

Under ``vmap`` (the env batch, and seeds or sweep points folded into it by ``Vmap``) the call
receives the whole batch: one call steps every env on MuJoCo's batch thread pool.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from flax import struct

from purejaxppo.envs.base import EnvError
from purejaxppo.envs.c import native
from purejaxppo.types import Array


class CData(struct.PyTreeNode):
    """One env's C state and the fields its task reads.

    Attributes:
        state: ``uint32 [2 * nstate]``, the bits of the float64 ``mjSTATE_INTEGRATION`` row.
        fields: mjData fields by name, each in mjData's shape (``qpos [nq]``, ``xpos
            [nbody, 3]``, ...), float32 (float64 under ``jax.enable_x64``); read them as
            attributes: ``data.qpos``.
    """

    state: Array
    fields: dict[str, Array]

    def __getattr__(self, name: str) -> Array:
        fields = object.__getattribute__(self, "fields")
        if name in fields:
            return fields[name]
        raise AttributeError(
            f"the C engine does not fetch mjData.{name} for this task (it fetches "
            f"{sorted(fields)}): add {name!r} to the task's data_fields"
        )


class CPhysics:
    """A task's physics in C MuJoCo (Gymnasium's own engine): float64, exact by construction.

    Args:
        mj_model: the task's model, as Gymnasium builds it.
        frame_skip: ``mj_step`` calls per env step.
        fields: mjData fields the task reads besides qpos and qvel (``cfrc_ext`` makes each
            step end with ``mj_rnePostConstraint``, as Gymnasium's does).
        threads: threads that step a batch, this one included (default: this process's CPUs).
            Any count gives the same values.
        dtype: float dtype of the fields handed to the task.

    Raises:
        CEngineUnavailableError: the native part is not built or not loadable.
        EnvError: a bad thread count or field name.
    """

    name = "c"

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        frame_skip: int,
        fields: tuple[str, ...] = (),
        threads: int | None = None,
        dtype: Any = jnp.float32,
    ):
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise EnvError(f"threads must be a positive integer, got {threads!r}")
        self.mj_model = mj_model
        self.frame_skip = int(frame_skip)
        self.threads = threads or native.default_threads()
        self.dtype = jnp.dtype(dtype)
        self.fields = ("qpos", "qvel", *(f for f in fields if f not in ("qpos", "qvel")))
        rne = "cfrc_ext" in self.fields
        self.nstate = mujoco.mj_stateSize(mj_model, mujoco.mjtState.mjSTATE_INTEGRATION)
        template = mujoco.MjData(mj_model)
        self.shapes = {f: np.shape(getattr(template, f)) for f in self.fields}
        self.key = _content_key(mj_model, self.frame_skip, rne, self.threads, self.fields)
        sizes = native.register(self.key, mj_model, self.frame_skip, rne, self.threads, self.fields)
        expected = [math.prod(self.shapes[f]) for f in self.fields]
        if sizes != expected:  # a library built for another mjData layout
            raise native.CEngineUnavailableError(
                f"the C engine's field sizes {sizes} differ from mujoco's {expected}: "
                f"rebuild it: `{native.REBUILD}`"
            )

    def _results(self) -> tuple[jax.ShapeDtypeStruct, ...]:
        state = jax.ShapeDtypeStruct((2 * self.nstate,), jnp.uint32)
        fields = (jax.ShapeDtypeStruct(self.shapes[f], self.dtype) for f in self.fields)
        return (state, *fields)

    def _data(self, out: tuple[Array, ...]) -> CData:
        return CData(state=out[0], fields=dict(zip(self.fields, out[1:], strict=True)))

    def reset(self, qpos: Array, qvel: Array) -> CData:
        """Gymnasium's ``set_state`` after ``mj_resetData``: a new episode at (qpos, qvel).

        Args:
            qpos: ``[nq]`` (leading batch axes allowed under vmap).
            qvel: ``[nv]``.
        """
        call = jax.ffi.ffi_call(native.RESET_TARGET, self._results(), vmap_method="broadcast_all")
        out = call(qpos.astype(self.dtype), qvel.astype(self.dtype), engine=np.int64(self.key))
        return self._data(tuple(out))

    def step(self, data: CData, action: Array) -> CData:
        """``frame_skip`` calls of ``mj_step`` with ``ctrl = action`` (``do_simulation``).

        Args:
            data: the env's state.
            action: ``[nu]``; MuJoCo clamps it to ``ctrlrange``.
        """
        call = jax.ffi.ffi_call(native.STEP_TARGET, self._results(), vmap_method="broadcast_all")
        out = call(data.state, action.astype(self.dtype), engine=np.int64(self.key))
        return self._data(tuple(out))


def _content_key(model: mujoco.MjModel, *settings: object) -> int:
    """A signed 64-bit hash of the compiled model and the settings: the engine's name.

    Programs name their engine by it, so a program from JAX's persistent cache finds the same
    physics in a new process (the key is the same only if the model and settings are).
    """
    buffer = np.zeros(mujoco.mj_sizeModel(model), np.uint8)
    mujoco.mj_saveModel(model, None, buffer)
    digest = hashlib.blake2b(buffer.tobytes(), digest_size=8)
    digest.update(repr(settings).encode())
    return int.from_bytes(digest.digest(), "little", signed=True)
