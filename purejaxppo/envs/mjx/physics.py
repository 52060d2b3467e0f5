"""MJX as a physics engine: the step traced into the program, with our scoped changes to MJX.

The changes (:func:`purejaxppo.envs.mjx.fixes.patched`) make MJX compute what C MuJoCo does and
run fast; they are active only while this engine's functions are traced. The task reads the
fields it asked for by their mjData names, MJX's private ones (``cfrc_ext``, ``cinert``,
``subtree_linvel``, the contacts) included; ``ncon`` and the contact fields list the contacts
with ``dist < includemargin`` (those that exert force; C MuJoCo's ``ncon`` also counts those in
a geom's ``gap``, which is 0 unless the model sets it) in MJX's order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx
from mujoco.mjx._src import forward as mjx_forward
from mujoco.mjx._src import sensor as mjx_sensor

from purejaxppo.envs.base import EnvError
from purejaxppo.envs.data import CONTACT, FieldSpec, InitialState, SimData
from purejaxppo.envs.mjx import fixes
from purejaxppo.types import Array

_C_ONLY = ("ne", "nf", "nl", "nefc", "energy")
"""Fields MJX has no per-step value of (it sizes its constraints when the model is made)."""


class MjxPhysics:
    """A task's physics in MJX; float64 when built inside ``jax.enable_x64(True)``.

    Args:
        mj_model: the task's model (with the settings MJX needs already applied).
        frame_skip: ``mjx.step`` calls per env step.
        stage: what runs after them (:data:`purejaxppo.envs.data.STAGES`).
        fields: the fields the task reads.
        contacts: contacts per env that ``contact.<name>`` fields hold.
        solver_loops: the constraint solver's loops, early exit or fixed length
            (:data:`purejaxppo.envs.mjx.speed.SOLVER_LOOPS`; the same values).

    Raises:
        EnvError: a model feature MJX does not implement, or a field it does not compute.
    """

    name = "mjx"

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        frame_skip: int,
        stage: str,
        fields: tuple[FieldSpec, ...],
        contacts: int = 0,
        solver_loops: str = "auto",
    ):
        self.mj_model = mj_model
        self.solver_loops = solver_loops
        try:
            self.model = mjx.put_model(mj_model)
        except (NotImplementedError, ValueError) as e:
            raise EnvError(
                f"MJX cannot run this model (unsupported: {e}); C MuJoCo can: physics='c'"
            ) from None
        self.frame_skip = int(frame_skip)
        self.stage = stage
        self.fields = fields
        self.contacts = contacts
        self.dtype = self.model.opt.timestep.dtype
        template = mjx.make_data(self.model)
        for f in fields:
            why = _why_not(template, f)
            if why:
                raise EnvError(
                    f"the MJX engine cannot give mjData.{f.name}: {why}; physics='c' can"
                )

    def _run(self, fn, *args):
        with fixes.patched(self.solver_loops):
            return fn(*args)

    def reset(self, initial: InitialState) -> mjx.Data:
        """``mj_resetData``, the initial state's parts set, ``mj_forward``.

        Args:
            initial: a completed :class:`InitialState` (every part given).
        """
        parts = {p: getattr(initial, p).astype(self.dtype) for p in InitialState.PARTS}
        data = mjx.make_data(self.model).replace(**parts)
        data = self._run(mjx.forward, self.model, data)
        # MJX writes normalised quaternions back into qpos; C keeps the given values, which the
        # first observation shows (and C normalises them when integrating anyway).
        return data.replace(qpos=parts["qpos"])

    def step(self, data: mjx.Data, action: Array) -> mjx.Data:
        """``frame_skip`` physics steps with ``ctrl = action``, then the stage."""
        data = data.replace(ctrl=action.astype(data.ctrl.dtype))
        return self._run(self._step, data)

    def _step(self, data: mjx.Data) -> mjx.Data:
        m = self.model
        data = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: mjx.step(m, d), data)
        if self.stage == "rne_post":
            data = mjx.rne_postconstraint(m, data)
        elif self.stage == "step1":  # mj_step1: position and velocity stages of the new state
            data = mjx_forward.fwd_position(m, data)
            data = mjx_sensor.sensor_pos(m, data)
            data = mjx_forward.fwd_velocity(m, data)
            data = mjx_sensor.sensor_vel(m, data)
        elif self.stage == "forward":
            data = mjx.forward(m, data)
        return data

    def settle(self, data: mjx.Data, steps: int, from_default_pose: bool = False) -> mjx.Data:
        """``steps`` zero-control steps, the time kept, then ``mj_forward``.

        ``from_default_pose`` (dm_control's first step after a reset) is C MuJoCo's alone: here
        every step is a whole ``mjx.step``.
        """
        del from_default_pose
        m = self.model

        def settle(d: mjx.Data) -> mjx.Data:
            zero = d.replace(ctrl=jnp.zeros_like(d.ctrl))
            out = jax.lax.fori_loop(0, steps, lambda _, d: mjx.step(m, d), zero)
            return mjx.forward(m, out.replace(time=d.time))

        return self._run(settle, data)

    def view(self, data: mjx.Data) -> SimData:
        """The fields the task reads, by their mjData names."""
        out = {}
        contact = data._impl.contact
        active = contact.dist < contact.includemargin
        order = jnp.argsort(jnp.where(active, 0, 1), stable=True)[: self.contacts]
        for f in self.fields:
            if f.name == "ncon":
                out[f.name] = jnp.sum(active).astype(jnp.int32)
            elif f.name.startswith("contact."):
                out[f.name] = _contact_field(contact, active, order, f, self.contacts)
            else:
                out[f.name] = _get(data, f.name)
        return SimData(fields=out)


def _get(data: mjx.Data, name: str) -> Array:
    impl = data._impl  # first: reading a private field as public is deprecated, with a warning
    return getattr(impl, name) if hasattr(impl, name) else getattr(data, name)


def _why_not(template: mjx.Data, f: FieldSpec) -> str | None:
    if f.name in _C_ONLY:
        return "MJX has no per-step value of it"
    if f.name == "ncon" or f.name.startswith("contact."):
        return None
    try:
        value = _get(template, f.name)
    except AttributeError:
        return "MJX does not compute it"
    if tuple(np.shape(value)) != f.shape:
        return f"MJX keeps it in another layout ({np.shape(value)}, not {f.shape})"
    return None


def _contact_field(contact, active: Array, order: Array, f: FieldSpec, capacity: int) -> Array:
    """One contact field, the active contacts first, padded to ``capacity`` as C pads it."""
    part = f.name.removeprefix("contact.")
    width, is_int = CONTACT[part]
    values = getattr(contact, part)
    values = jnp.reshape(values, (values.shape[0], width))
    pad = jnp.inf if part == "dist" else (-1 if part == "geom" else 0)
    values = jnp.where(active[:, None], values, pad)[order]
    missing = capacity - values.shape[0]
    if missing > 0:
        values = jnp.concatenate([values, jnp.full((missing, width), pad, values.dtype)])
    values = values.astype(jnp.int32) if is_int else values
    return values.reshape(f.shape)
