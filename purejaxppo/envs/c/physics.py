"""C MuJoCo as a physics engine of the compiled program: one FFI call per batched env step.

The scan carries each env's complete C state, MuJoCo's ``mjSTATE_INTEGRATION`` row (time,
qpos, qvel, act, controls, applied forces, mocap poses, warm start, ...), as the raw bits of its
float64 numbers (``uint32 [2 * nstate]``: JAX runs with x64 off, and rounding the state to
float32 would leave the reference's trajectory after one step). Beside it ride the mjData fields
the task reads, float fields in the program's float dtype, integer fields as int32. So the same
key gives the same run, resume is bit for bit, and the host's mjData are scratch.

Under ``vmap`` (the env batch, and seeds or sweep points folded into it by ``Vmap``) the call
receives the whole batch: one call steps every env on MuJoCo's batch thread pool.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from purejaxppo.envs.c import native
from purejaxppo.envs.data import STAGES, FieldSpec, InitialState, SimData
from purejaxppo.types import Array


class CData(SimData):
    """One env's C state and the fields its task reads.

    Attributes:
        state: ``uint32 [2 * nstate]``, the bits of the float64 ``mjSTATE_INTEGRATION`` row.
        fields: the mjData fields the task reads, by name (see :class:`SimData`).
    """

    state: Array


class CPhysics:
    """A task's physics in C MuJoCo (the reference's own engine): float64, exact by construction.

    Args:
        mj_model: the task's model.
        frame_skip: ``mj_step`` calls per env step.
        stage: what runs after them (:data:`purejaxppo.envs.data.STAGES`).
        fields: the fields the task reads (:func:`purejaxppo.envs.data.field_specs`).
        contacts: contacts per env that ``contact.<name>`` fields hold.
        threads: threads that step a batch, this one included (default: this process's CPUs).
            Any count gives the same values.
        dtype: float dtype of the fields handed to the task.

    Raises:
        CEngineUnavailableError: the native library is missing, not loadable, or mismatched.
        EnvError: a field the engine does not offer.
    """

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        frame_skip: int,
        stage: str,
        fields: tuple[FieldSpec, ...],
        contacts: int = 0,
        threads: int | None = None,
        dtype: Any = jnp.float32,
    ):
        self.mj_model = mj_model
        self.frame_skip = int(frame_skip)
        self.threads = threads or native.default_threads()
        self.dtype = jnp.dtype(dtype)
        self.fields = fields
        self.nstate = mujoco.mj_stateSize(mj_model, mujoco.mjtState.mjSTATE_INTEGRATION)
        names = tuple(f.name for f in fields)
        settings = (self.frame_skip, stage, self.threads, names, contacts)
        self.key = _content_key(mj_model, *settings)
        got = native.register(
            self.key, mj_model, self.frame_skip, STAGES.index(stage), self.threads, names, contacts
        )
        expected = [(int(np.prod(f.shape)), f.is_int) for f in fields]
        if got != expected:  # a library built for another mjData layout
            raise native.CEngineUnavailableError(
                f"the C engine's fields {got} differ from mujoco's {expected}: {native.REBUILD}"
            )

    def _results(self) -> tuple[jax.ShapeDtypeStruct, ...]:
        state = jax.ShapeDtypeStruct((2 * self.nstate,), jnp.uint32)
        fields = (
            jax.ShapeDtypeStruct(f.shape, jnp.int32 if f.is_int else self.dtype)
            for f in self.fields
        )
        return (state, *fields)

    def _call(self, target: str, *args: Array, **attrs: Any) -> CData:
        call = jax.ffi.ffi_call(target, self._results(), vmap_method="broadcast_all")
        out = call(*args, engine=np.int64(self.key), **attrs)
        names = (f.name for f in self.fields)
        return CData(state=out[0], fields=dict(zip(names, out[1:], strict=True)))

    def reset(self, initial: InitialState) -> CData:
        """``mj_resetData``, the initial state's parts set, ``mj_forward``.

        Args:
            initial: a completed :class:`InitialState` (every part given).
        """
        parts = [jnp.ravel(getattr(initial, p)).astype(self.dtype) for p in InitialState.PARTS]
        return self._call(native.RESET_TARGET, jnp.concatenate(parts))

    def step(self, data: CData, action: Array) -> CData:
        """``frame_skip`` calls of ``mj_step`` with ``ctrl = action``, then the stage.

        Args:
            data: the env's state.
            action: ``[nu]``; MuJoCo clamps it to ``ctrlrange``.
        """
        return self._call(native.STEP_TARGET, data.state, action.astype(self.dtype))

    def settle(self, data: CData, steps: int, from_default_pose: bool = False) -> CData:
        """``steps`` zero-control ``mj_step`` calls, the time kept, then ``mj_forward``.

        Args:
            data: the env's state.
            steps: how many.
            from_default_pose: the first step is an ``mj_step2`` on data computed for the
                model's default pose with this state set (dm_control's order after a reset).
        """
        return self._call(
            native.SETTLE_TARGET,
            data.state,
            steps=np.int64(steps),
            from_default=bool(from_default_pose),
        )

    def view(self, data: CData) -> CData:
        """What the task reads of ``data``: the data itself."""
        return data


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
