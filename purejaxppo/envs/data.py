"""What a task reads: the simulation's fields by MuJoCo's names, the same on every engine.

:class:`SimData` holds the mjData fields a task asked for (``data.qpos``, ``data.xpos``,
``data.ncon``, ``data.contact.dist``, ...), each in mjData's shape, float fields in the
program's float dtype and integer fields as int32. Which names exist, and which a task may read
after the stage it chose, is decided here (:func:`field_specs`) once, when the task is built;
a name it did not ask for is an error that says how to ask for it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import mujoco
import numpy as np
from flax import struct

from purejaxppo.envs.base import EnvError
from purejaxppo.types import Array

STAGES = ("none", "rne_post", "step1", "forward")
"""What the engine runs after an env step's substeps, before the task reads the data:

* ``none``: nothing. Position-dependent fields (``xpos``, ...) are those ``mj_step`` computed
  at the start of its last substep, one substep behind ``qpos``.
* ``rne_post``: ``mj_rnePostConstraint`` (``cacc``, ``cfrc_int``, ``cfrc_ext``), as Gymnasium.
* ``step1``: ``mj_step1``, as dm_control's ``legacy_step``: position- and velocity-dependent
  fields of the new state; acceleration-dependent ones (``qacc``, touch and force sensors) of
  the last substep.
* ``forward``: ``mj_forward``: every field of the new state.
"""

_RNE = frozenset({"cacc", "cfrc_int", "cfrc_ext"})
RNE_SENSORS = frozenset(
    {
        mujoco.mjtSensor.mjSENS_ACCELEROMETER,
        mujoco.mjtSensor.mjSENS_FORCE,
        mujoco.mjtSensor.mjSENS_TORQUE,
        mujoco.mjtSensor.mjSENS_FRAMELINACC,
        mujoco.mjtSensor.mjSENS_FRAMEANGACC,
    }
)
_SUBTREE_VEL = frozenset({"subtree_linvel", "subtree_angmom"})
_SUBTREE_SENSORS = frozenset(
    {mujoco.mjtSensor.mjSENS_SUBTREELINVEL, mujoco.mjtSensor.mjSENS_SUBTREEANGMOM}
)

ARRAYS = frozenset(
    {
        # the state and the inputs
        "qpos", "qvel", "act", "qacc_warmstart", "ctrl", "qfrc_applied", "xfrc_applied",
        "mocap_pos", "mocap_quat", "userdata",
        # position-dependent
        "xpos", "xquat", "xmat", "xipos", "xiquat", "ximat", "xanchor", "xaxis", "geom_xpos",
        "geom_xquat", "geom_xmat", "site_xpos", "site_xquat", "site_xmat", "cam_xpos",
        "cam_xmat", "light_xpos", "light_xdir", "subtree_com", "cinert", "cdof", "ten_length",
        "actuator_length",
        # velocity-dependent
        "cvel", "cdof_dot", "qfrc_bias", "qfrc_passive", "qfrc_spring", "qfrc_damper",
        "qfrc_gravcomp", "qfrc_fluid", "ten_velocity", "actuator_velocity", *_SUBTREE_VEL,
        # acceleration-dependent
        "qacc", "act_dot", "qacc_smooth", "qfrc_smooth", "qfrc_actuator", "actuator_force",
        "qfrc_constraint", "sensordata", *_RNE,
    }
)  # fmt: skip
"""The mjData arrays a task may read; the rest are solver internals whose layout or whether they
are computed at all depends on the engine and the model's options."""

SCALARS = {"time": False, "ncon": True, "ne": True, "nf": True, "nl": True, "nefc": True}
"""Scalars a task may read (True: an integer)."""

CONTACT = {
    "dist": (1, False),
    "pos": (3, False),
    "frame": (9, False),
    "includemargin": (1, False),
    "friction": (5, False),
    "dim": (1, True),
    "geom": (2, True),
}
"""The fields of each contact a task may read as ``contact.<name>``: (width, integer)."""

ENGINE_INTERNAL = ("ne", "nf", "nl", "nefc", "energy")
"""Fields only C MuJoCo hands to tasks (MJX sizes its constraints when the model is made; MuJoCo
Warp keeps these per world as internals)."""

ACCELERATION = frozenset(
    {"qacc", "act_dot", "qacc_smooth", "qfrc_smooth", "qfrc_actuator", "actuator_force",
     "qfrc_constraint", *_RNE}
)  # fmt: skip
"""Fields that ``step1`` leaves as the last substep computed them (sensordata: its
acceleration-stage sensors)."""


class FieldSpec(NamedTuple):
    """One field a task reads: its name, shape per env and whether it is an integer."""

    name: str
    shape: tuple[int, ...]
    is_int: bool


def field_specs(
    model: mujoco.MjModel, names: tuple[str, ...], stage: str, contacts: int
) -> tuple[FieldSpec, ...]:
    """The fields ``names`` (qpos and qvel first), checked against the model and the stage.

    Args:
        model: the task's model.
        names: mjData field names (``contact.<name>`` for contact fields).
        stage: one of :data:`STAGES`.
        contacts: how many contacts the ``contact.<name>`` fields hold per env.

    Raises:
        EnvError: an unknown name, or a field that MuJoCo would not compute at this stage for
            this model (naming what would make it computed).
    """
    if stage not in STAGES:
        raise EnvError(f"stage={stage!r}: choose one of {', '.join(STAGES)}")
    if isinstance(names, str):
        names = (names,)
    sensing = not model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_SENSOR
    sensors = set(model.sensor_type.tolist()) if sensing else set()
    template = mujoco.MjData(model)
    out = []
    for name in dict.fromkeys(("qpos", "qvel", *names)):
        if name.startswith("contact."):
            part = name.removeprefix("contact.")
            if part not in CONTACT:
                raise EnvError(
                    f"contact.{part} is not a contact field: choose from {_list(CONTACT)}"
                )
            if contacts < 1:
                raise EnvError(f"{name} needs a contact capacity: give max_contacts=N (N >= 1)")
            width, is_int = CONTACT[part]
            out.append(FieldSpec(name, (contacts,) if width == 1 else (contacts, width), is_int))
        elif name in SCALARS:
            out.append(FieldSpec(name, (), SCALARS[name]))
        elif name == "energy":
            if not model.opt.enableflags & mujoco.mjtEnableBit.mjENBL_ENERGY:
                raise EnvError("energy is computed only with <flag energy='enable'/> in the model")
            out.append(FieldSpec(name, (2,), False))
        elif name in ARRAYS:
            if name in _RNE and stage != "rne_post" and not sensors & RNE_SENSORS:
                raise EnvError(
                    f"mjData.{name} is computed by mj_rnePostConstraint: choose stage='rne_post' "
                    "(or give the model an accelerometer, force or torque sensor)"
                )
            if name == "sensordata" and not sensing:
                raise EnvError("the model disables its sensors (<flag sensor='disable'/>)")
            if name in _SUBTREE_VEL and not sensors & _SUBTREE_SENSORS:
                raise EnvError(
                    f"MuJoCo computes mjData.{name} only for the sensors that read it: give the "
                    f"model a {name.replace('_', '')} sensor (and read sensordata, or {name})"
                )
            value = getattr(template, name)
            out.append(FieldSpec(name, tuple(np.shape(value)), value.dtype.kind in "iub"))
        else:
            raise EnvError(
                f"mjData.{name} is not a field a task can read: choose from {_list(ARRAYS)}, "
                f"{_list(SCALARS)}, energy, contact.<{'|'.join(CONTACT)}>"
            )
    return tuple(out)


def impl_field(data: Any, name: str) -> Array:
    """The field ``name`` of an MJX or MuJoCo Warp ``Data``, public or kept in its ``_impl``."""
    impl = data._impl  # first: reading a private field as public is deprecated, with a warning
    return getattr(impl, name) if hasattr(impl, name) else getattr(data, name)


def why_not(template: Any, f: FieldSpec, engine: str) -> str | None:
    """Why the JAX engine ``engine`` (its ``Data`` template given) cannot give field ``f``."""
    if f.name in ENGINE_INTERNAL:
        return f"{engine} has no per-step value of it"
    if f.name == "ncon" or f.name.startswith("contact."):
        return None
    try:
        value = impl_field(template, f.name)
    except AttributeError:
        return f"{engine} does not compute it"
    shape = tuple(np.shape(value))
    rotations = shape[1:] == (3, 3) and f.shape == (shape[0], 9)  # the same numbers
    if shape != f.shape and not rotations:
        return f"{engine} keeps it in another layout ({shape}, not {f.shape})"
    return None


def read_field(data: Any, f: FieldSpec) -> Array:
    """Field ``f`` of one env's MJX or MuJoCo Warp ``Data`` in mjData's layout.

    They keep rotation matrices (``xmat``, ``geom_xmat``, ...) as ``[n, 3, 3]``, where mjData
    has ``[n, 9]``: the same numbers, row-major.
    """
    return impl_field(data, f.name).reshape(f.shape)


def contact_pad(part: str) -> float:
    """What fills ``contact.<part>`` past ``ncon``: inf for ``dist``, -1 for ``geom``, else 0."""
    return np.inf if part == "dist" else (-1 if part == "geom" else 0)


def _list(names: Any) -> str:
    return ", ".join(sorted(names))


class Contacts:
    """The contact fields a task asked for, ``[max_contacts, ...]`` each; padding past ``ncon``.

    Padding: ``dist`` is ``inf``, ``geom`` is -1, the others 0.
    """

    def __init__(self, fields: dict[str, Array]):
        self._fields = fields

    def __getattr__(self, name: str) -> Array:
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        raise AttributeError(
            f"the task does not read contact.{name}: add 'contact.{name}' to its fields"
        )


class SimData(struct.PyTreeNode):
    """The mjData fields a task reads, by name: ``data.qpos``, ``data.ncon``, ``data.contact``.

    Attributes:
        fields: each field in mjData's shape (``qpos [nq]``, ``xpos [nbody, 3]``, ``ncon []``,
            ``contact.dist [max_contacts]``), float fields in the program's float dtype (float64
            under ``jax.enable_x64``), integer fields int32. Read them as attributes.
    """

    fields: dict[str, Array]

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "fields")
        if name in fields:
            return fields[name]
        if name == "contact":
            parts = {k.removeprefix("contact."): v for k, v in fields.items() if "." in k}
            if parts:
                return Contacts(parts)
        raise AttributeError(
            f"the task does not read mjData.{name} (it reads {sorted(fields)}): add {name!r} to "
            "its fields"
        )


class InitialState(struct.PyTreeNode):
    """What an episode starts from: parts of MuJoCo's integration state, and the task's values.

    A part left None is what ``mj_resetData`` gives (the model's ``qpos0``, zero velocities,
    activations and warm start, the mocap bodies' model poses, time 0). The engine sets the
    parts given and runs ``mj_forward``.

    Attributes:
        qpos: ``[nq]``.
        qvel: ``[nv]``.
        act: ``[na]``.
        mocap_pos: ``[nmocap, 3]``.
        mocap_quat: ``[nmocap, 4]``.
        qacc_warmstart: ``[nv]``.
        time: ``[]``.
        task: the task's own values for the episode (a target, say): any pytree of arrays,
            handed to its observation and reward as ``task``.
    """

    qpos: Array | None = None
    qvel: Array | None = None
    act: Array | None = None
    mocap_pos: Array | None = None
    mocap_quat: Array | None = None
    qacc_warmstart: Array | None = None
    time: Array | None = None
    task: Any = ()

    PARTS = ("qpos", "qvel", "act", "mocap_pos", "mocap_quat", "qacc_warmstart", "time")
    """The physics parts, in the order the engines take them."""

    def complete(self, model: mujoco.MjModel, dtype: Any) -> InitialState:
        """Every part given: those left None as ``mj_resetData`` sets them, all in ``dtype``."""
        import jax.numpy as jnp

        defaults = {
            "qpos": model.qpos0,
            "qvel": np.zeros(model.nv),
            "act": np.zeros(model.na),
            "mocap_pos": model.body_pos[model.body_mocapid >= 0],
            "mocap_quat": model.body_quat[model.body_mocapid >= 0],
            "qacc_warmstart": np.zeros(model.nv),
            "time": np.zeros(()),
        }
        order = np.argsort(model.body_mocapid[model.body_mocapid >= 0])  # by mocap id
        defaults["mocap_pos"] = defaults["mocap_pos"][order]
        defaults["mocap_quat"] = defaults["mocap_quat"][order]
        parts = {}
        for name in self.PARTS:
            given = getattr(self, name)
            value = jnp.asarray(defaults[name] if given is None else given, dtype)
            if value.shape != np.shape(defaults[name]):
                raise EnvError(
                    f"the initial state's {name} has shape {value.shape}; the model's is "
                    f"{np.shape(defaults[name])}"
                )
            parts[name] = value
        return self.replace(**parts)
