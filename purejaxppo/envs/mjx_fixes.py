"""Scoped changes to MJX: C's plane-capsule contact frame, fusion barriers, a line search loop.

One change is to MJX's physics (so it computes what C MuJoCo computes), two to how its programs
are built (so they compute the same values quickly). All apply only while our environments are
traced (:func:`patched`), and put MJX back afterwards.

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

**One fusion barrier per tree level.** MJX walks the kinematic tree one depth level at a time
(``scan.body_tree``), and for a chain each level is a handful of scalar quaternion products of
the level above. XLA's CPU backend fuses the whole chain into one loop and, emitting each
element on demand, recomputes every parent element for every child element that reads it, so
the work grows about fourfold per level: Pusher-v5's 10-deep arm took 1.7 s per
``mjx.kinematics`` call (Hopper: 0.9 ms). :func:`tree_level_barriers` puts each level's result
behind ``jax.lax.optimization_barrier``, which stops fusion across levels and changes no value:
Pusher's kinematics then takes 0.7 ms. For the shallow trees it is neutral: steps/s at 16 envs
with/without it, HalfCheetah 0.97, Hopper 0.99, Walker2d 1.02, InvertedDoublePendulum 1.00,
Swimmer 0.99 (one run, best of 2; the differences are within this machine's noise).

**The line search as a while loop.** MJX's constraint solver runs its line search through
``solver._while_loop_scan``: a ``scan`` of ``ls_iterations`` steps (50 in Gymnasium's XMLs),
each a ``lax.cond`` that does nothing once the search has converged; a scan can be
differentiated in reverse mode, a while loop cannot. We never differentiate through the physics.
Under ``vmap`` the ``cond`` becomes a ``select`` that evaluates the line-search step in every one of
the 50 iterations for every env, although the searches converge in a few; and even unbatched the
scan costs its full length in loop overhead on CPU. :func:`while_loop_line_search` runs the same
iterations in a ``lax.while_loop`` that stops when every search in the batch has converged (or at
``ls_iterations``): the same steps, on the same values. HalfCheetah-v5's env steps/s on this CPU:
1 env 738 -> 2,560, 16 envs 1,993 -> 3,934, 128 envs 824 -> 1,592 (one run,
``benchmarks/env_speed.py``). The parity suite (against C MuJoCo) runs with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import jax
import jax.numpy as jnp
from mujoco.mjx._src import collision_driver, collision_primitive, scan, solver
from mujoco.mjx._src.types import GeomType

from purejaxppo.envs.mjx_rk4 import c_rk4_for_rotations

Array = jax.Array
T = TypeVar("T")
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
def tree_level_barriers() -> Iterator[None]:
    """While active, each level of MJX's tree walks is computed once, not fused into the next."""
    original = scan._nvmap

    def nvmap_with_barrier(f, *args):
        return jax.lax.optimization_barrier(original(f, *args))

    scan._nvmap = nvmap_with_barrier
    try:
        yield
    finally:
        scan._nvmap = original


def while_loop_with_limit(
    cond_fun: Callable[[T], Array], body_fun: Callable[[T], T], init_val: T, max_iter: int
) -> T:
    """``body_fun`` while ``cond_fun`` holds, at most ``max_iter`` times, in a ``lax.while_loop``.

    The result of MJX's ``solver._while_loop_scan(cond_fun, body_fun, init_val, max_iter)``.
    """

    def cond(carry: tuple[T, Array]) -> Array:
        val, it = carry
        return jnp.logical_and(cond_fun(val), it < max_iter)

    def body(carry: tuple[T, Array]) -> tuple[T, Array]:
        val, it = carry
        return body_fun(val), it + 1

    return jax.lax.while_loop(cond, body, (init_val, jnp.zeros((), jnp.int32)))[0]


@contextlib.contextmanager
def while_loop_line_search() -> Iterator[None]:
    """While active, MJX's solver line search stops when converged instead of scanning 50 steps."""
    original = solver._while_loop_scan
    solver._while_loop_scan = while_loop_with_limit
    try:
        yield
    finally:
        solver._while_loop_scan = original


@contextlib.contextmanager
def patched() -> Iterator[None]:
    """These three changes and C's RK4 for free joints (``mjx_rk4``), for tracing our physics."""
    with (
        c_plane_capsule_frames(),
        tree_level_barriers(),
        while_loop_line_search(),
        c_rk4_for_rotations(),
    ):
        yield
