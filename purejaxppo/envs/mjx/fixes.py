"""Scoped changes to MJX, made while our environments are traced (:func:`patched`), undone after.

Physics (so MJX computes what C MuJoCo computes): C's plane-capsule contact frame (here) and C's
RK4 step for free and ball joints (:mod:`purejaxppo.envs.mjx.rk4`). Speed (same values, quicker
programs): :mod:`purejaxppo.envs.mjx.speed`. Nothing outside our environments' tracing sees them.

**Plane-capsule contact frame.** For a capsule touching a plane, C MuJoCo (``mjc_PlaneCapsule``
followed by ``mju_makeFrame``) takes the first friction tangent of each contact as the capsule
axis projected onto the plane, at any angle. MJX 3.17 (``collision_primitive.plane_capsule``)
does the same only when the capsule is more than 30 degrees from the plane normal and otherwise
substitutes a fixed world axis. With pyramidal friction cones the tangent directions are the
pyramid's edges, so the frames differ and so do the contact forces: Ant's ``cfrc_ext`` (part of
its observation and reward) came out 46% off on the same state.

:func:`c_plane_capsule_frames` swaps MJX's plane-capsule function for :func:`plane_capsule`
(same contacts, C's frame) in MJX's dispatch table while our environments are being traced, and
puts the original back afterwards, so no other MJX user in the process is affected.
The test ``tests/test_mjx_fixes.py`` checks the frames against C MuJoCo on tilted capsules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax.numpy as jnp
from mujoco.mjx._src import collision_driver, collision_primitive
from mujoco.mjx._src.types import GeomType

from purejaxppo.envs.mjx import speed as mjx_speed
from purejaxppo.envs.mjx.rk4 import c_rk4
from purejaxppo.types import Array

_MJMINVAL = 1e-15  # C MuJoCo's mjMINVAL: below this norm mju_normalize3 returns (1, 0, 0)
_KEY = (GeomType.PLANE, GeomType.CAPSULE)


def _c_tangent(normal: Array, axis: Array) -> Array:
    """C's first tangent: the capsule axis made orthogonal to the normal, normalised."""
    t = axis - normal * jnp.dot(normal, axis)
    norm = jnp.linalg.norm(t)
    fallback = jnp.zeros_like(t).at[0].set(1.0)
    return jnp.where(norm < _MJMINVAL, fallback, t / jnp.where(norm < _MJMINVAL, 1.0, norm))


def _plane_capsule(plane, cap):
    normal, axis = plane.mat[:, 2], cap.mat[:, 2]
    tangent = _c_tangent(normal, axis)
    frame = jnp.stack([normal, tangent, jnp.cross(normal, tangent)])
    half = axis * cap.size[1]
    dists, points = [], []
    for end in (cap.pos + half, cap.pos - half):  # one contact per hemispherical end
        dist = jnp.dot(end - plane.pos, normal) - cap.size[0]
        dists.append(dist)
        points.append(end - normal * (cap.size[0] + 0.5 * dist))
    return jnp.stack(dists), jnp.stack(points), jnp.stack([frame, frame])


plane_capsule = collision_primitive.collider(ncon=2)(_plane_capsule)


@contextlib.contextmanager
def c_plane_capsule_frames() -> Iterator[None]:
    """While active, MJX traces plane-capsule contacts with C MuJoCo's contact frame."""
    original = collision_driver._COLLISION_FUNC[_KEY]
    collision_driver._COLLISION_FUNC[_KEY] = plane_capsule
    try:
        yield
    finally:
        collision_driver._COLLISION_FUNC[_KEY] = original


@contextlib.contextmanager
def patched(solver_loops: str = "auto") -> Iterator[None]:
    """All the changes (physics and speed), for tracing our environments' physics.

    Args:
        solver_loops: the constraint solver's loops (:data:`mjx_speed.SOLVER_LOOPS`).
    """
    with c_plane_capsule_frames(), c_rk4(), mjx_speed.all_speedups(solver_loops):
        yield
