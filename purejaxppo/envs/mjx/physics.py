"""MJX as a physics engine: the step traced into the program, with our scoped changes to MJX.

The changes (:func:`purejaxppo.envs.mjx.fixes.patched`) make MJX compute what C MuJoCo does and
run fast; they are active only while this engine's functions are traced.
"""

from __future__ import annotations

import jax
import mujoco
from mujoco import mjx

from purejaxppo.envs.mjx import fixes
from purejaxppo.types import Array


class MjxPhysics:
    """A task's physics in MJX; float64 when built inside ``jax.enable_x64(True)``.

    Args:
        mj_model: the task's model (with the settings MJX needs already applied).
        frame_skip: ``mjx.step`` calls per env step.
        rne: end each env step with ``rne_postconstraint`` (``cfrc_ext``), as Gymnasium does.
        solver_loops: the constraint solver's loops, early exit or fixed length
            (:data:`purejaxppo.envs.mjx.speed.SOLVER_LOOPS`; the same values).
    """

    name = "mjx"

    def __init__(
        self, mj_model: mujoco.MjModel, frame_skip: int, rne: bool, solver_loops: str = "auto"
    ):
        self.mj_model = mj_model
        self.solver_loops = solver_loops
        self.model = mjx.put_model(mj_model)
        self.frame_skip = int(frame_skip)
        self.rne = rne
        self.dtype = self.model.opt.timestep.dtype

    def reset(self, qpos: Array, qvel: Array) -> mjx.Data:
        """``mj_resetData``, set qpos and qvel, ``mj_forward``: Gymnasium's ``set_state``.

        Args:
            qpos: ``[nq]``.
            qvel: ``[nv]``.
        """
        data = mjx.make_data(self.model).replace(
            qpos=qpos.astype(self.dtype), qvel=qvel.astype(self.dtype)
        )
        with fixes.patched(self.solver_loops):
            data = mjx.forward(self.model, data)
        # MJX writes normalised quaternions back into qpos; C keeps the sampled values, which
        # Gymnasium's reset observation shows (and C normalises them when integrating anyway).
        return data.replace(qpos=qpos.astype(self.dtype))

    def step(self, data: mjx.Data, action: Array) -> mjx.Data:
        """``frame_skip`` physics steps with ``ctrl = action`` (what ``do_simulation`` does)."""
        data = data.replace(ctrl=action.astype(data.ctrl.dtype))
        with fixes.patched(self.solver_loops):
            data = jax.lax.fori_loop(0, self.frame_skip, lambda _, d: mjx.step(self.model, d), data)
            if self.rne:
                data = mjx.rne_postconstraint(self.model, data)
        return data
