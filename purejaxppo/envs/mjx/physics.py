"""MJX as a physics engine: the step traced into the program, with our scoped changes to MJX.

The changes (:func:`purejaxppo.envs.mjx.fixes.patched`) make MJX compute what C MuJoCo does and
run fast; they are active only while this engine's functions are traced. The task reads the
fields it asked for by their mjData names, MJX's private ones (``cfrc_ext``, ``cinert``,
``subtree_linvel``, the contacts) included; ``ncon`` and the contact fields list the contacts
with ``dist < includemargin`` (those that exert force; C MuJoCo's ``ncon`` also counts those in
a geom's ``gap``, which is 0 unless the model sets it) in MJX's order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx
from mujoco.mjx._src import forward as mjx_forward
from mujoco.mjx._src import sensor as mjx_sensor

from purejaxppo.envs.base import EnvError
from purejaxppo.envs.data import (
    CONTACT,
    FieldSpec,
    InitialState,
    SimData,
    contact_pad,
    read_field,
    why_not,
)
from purejaxppo.envs.mjx import fixes
from purejaxppo.types import Array


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

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        frame_skip: int,
        stage: str,
        fields: tuple[FieldSpec, ...],
        contacts: int = 0,
        solver_loops: str = "auto",
    ):
        if mj_model.nhistory or mj_model.nplastic:
            raise EnvError(
                "MJX cannot run this model (unsupported: actuator or sensor delays, or plastic "
                "joints: mjModel.nhistory, nplastic); C MuJoCo can: physics='c'"
            )
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
            why = why_not(template, f, "MJX")
            if why:
                raise EnvError(
                    f"the MJX engine cannot give mjData.{f.name}: {why}; physics='c' can"
                )
        # MJX's forward returns before the acceleration-stage sensors when there are no
        # constraint rows; C MuJoCo computes them (and the rne outputs they need) anyway
        acc = mj_model.sensor_needstage == mujoco.mjtStage.mjSTAGE_ACC
        self._sensor_acc = template._impl.efc_J.size == 0 and bool(acc.any())

    def _run(self, fn: Callable[..., mjx.Data], *args: Any) -> mjx.Data:
        with fixes.patched(self.solver_loops):
            return fn(*args)

    def _forward(self, m: mjx.Model, d: mjx.Data) -> mjx.Data:
        """``mj_forward``: MJX's, and the acceleration-stage sensors it can leave out."""
        d = mjx.forward(m, d)
        return mjx_sensor.sensor_acc(m, d) if self._sensor_acc else d

    def _physics_step(self, m: mjx.Model, d: mjx.Data) -> mjx.Data:
        """``mj_step``: MJX's, or its forward pass and integration when sensors need more."""
        if not self._sensor_acc:
            return mjx.step(m, d)
        d = self._forward(m, d)
        integrate = {
            mujoco.mjtIntegrator.mjINT_EULER: mjx_forward.euler,
            mujoco.mjtIntegrator.mjINT_RK4: mjx_forward.rungekutta4,
            mujoco.mjtIntegrator.mjINT_IMPLICITFAST: mjx_forward.implicit,
        }[mujoco.mjtIntegrator(self.mj_model.opt.integrator)]
        return integrate(m, d)

    def reset(self, initial: InitialState) -> mjx.Data:
        """``mj_resetData``, the initial state's parts set, ``mj_forward``.

        Args:
            initial: a completed :class:`InitialState` (every part given).
        """
        parts = {p: getattr(initial, p).astype(self.dtype) for p in InitialState.PARTS}
        data = mjx.make_data(self.model).replace(**parts)
        data = self._run(self._forward, self.model, data)
        # MJX writes normalised quaternions back into qpos; C keeps the given values, which the
        # first observation shows (and C normalises them when integrating anyway).
        return data.replace(qpos=parts["qpos"])

    def step(self, data: mjx.Data, action: Array) -> mjx.Data:
        """``frame_skip`` physics steps with ``ctrl = action``, then the stage.

        Args:
            data: the env's state.
            action: ``[nu]``; MuJoCo clamps it to ``ctrlrange``.
        """
        data = data.replace(ctrl=action.astype(data.ctrl.dtype))
        return self._run(self._step, data)

    def _step(self, data: mjx.Data) -> mjx.Data:
        m = self.model
        data = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: self._physics_step(m, d), data)
        if self.stage == "rne_post":
            data = mjx.rne_postconstraint(m, data)
        elif self.stage == "step1":  # mj_step1: position and velocity stages of the new state
            data = mjx_forward.fwd_position(m, data)
            data = mjx_sensor.sensor_pos(m, data)
            data = mjx_forward.fwd_velocity(m, data)
            data = mjx_sensor.sensor_vel(m, data)
        elif self.stage == "forward":
            data = self._forward(m, data)
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
            out = jax.lax.fori_loop(0, steps, lambda _, d: self._physics_step(m, d), zero)
            return self._forward(m, out.replace(time=d.time))

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
                out[f.name] = read_field(data, f)
        return SimData(fields=out)


def _contact_field(contact: Any, active: Array, order: Array, f: FieldSpec, capacity: int) -> Array:
    """One contact field, the active contacts first, padded to ``capacity`` as C pads it.

    Args:
        contact: MJX's contacts (``mjx.Contact``), ``[candidates, ...]`` each.
        active: ``[candidates]`` bool.
        order: the candidates' indices, active first, ``[min(candidates, capacity)]``.
        f: the field.
        capacity: contacts per env the field holds.

    Returns:
        ``f.shape``.
    """
    part = f.name.removeprefix("contact.")
    width, is_int = CONTACT[part]
    values = getattr(contact, part)
    values = jnp.reshape(values, (values.shape[0], width))
    pad = contact_pad(part)
    values = jnp.where(active[:, None], values, pad)[order]
    missing = capacity - values.shape[0]
    if missing > 0:
        values = jnp.concatenate([values, jnp.full((missing, width), pad, values.dtype)])
    values = values.astype(jnp.int32) if is_int else values
    return values.reshape(f.shape)
