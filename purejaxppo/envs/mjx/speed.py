"""Scoped changes to how MJX's programs are built: the same values, computed faster.

Made while our environments are traced (``fixes.patched``), undone after. Each is tested to give
MJX's own values (``tests/test_mjx_fixes.py``); the parity suite runs with all of them.

**One fusion barrier per tree level.** MJX walks the kinematic tree one depth level at a time
(``scan.body_tree``), and for a chain each level is a handful of scalar quaternion products of
the level above. XLA's CPU backend fuses the whole chain into one loop and, emitting each
element on demand, recomputes every parent element for every child element that reads it, so
the work grows about fourfold per level (Pusher-v5's 10-deep arm). :func:`tree_level_barriers`
puts each level's result behind ``jax.lax.optimization_barrier``, which stops fusion across
levels and changes no value. It is on for every platform (the GPU suite is where to see whether
a GPU gains from it too).

**Which device a change is for.** A change made for a CPU is chosen by the platform the program
is lowered for (``jax.lax.platform_dependent``), not by the host's default backend: a program
compiled for a GPU or TPU gets MJX's own computation there, whatever machine traced it.

**The solver's loops: early exit or fixed length** (:func:`solver_loops`). MJX's constraint
solver runs its line search through ``solver._while_loop_scan``: a ``scan`` of ``ls_iterations``
steps (50 in Gymnasium's XMLs), each a ``lax.cond`` that does nothing once the search has
converged. Under ``vmap`` the ``cond`` becomes a ``select`` that evaluates the line-search step
in every iteration for every env, although the searches converge in a few;
:func:`while_loop_with_limit` runs the same iterations in a ``lax.while_loop`` that stops when
every search in the batch has converged (or at ``ls_iterations``). On a CPU that is much
faster. On a GPU, a ``while_loop`` whose trip count is not known copies its predicate to the host
every iteration (XLA's GPU while loop outside CUDA graphs), while a ``scan`` has a known trip
count and no such copy; so ``"auto"`` exits early on the CPU and keeps the fixed-length scan
elsewhere. The Newton iterations (at most ``iterations``, 100 in Gymnasium's XMLs, usually a
few) are a ``while_loop`` in MJX; ``"fixed"`` also runs them as a fixed-length ``scan`` that
stops changing the state once converged (the same values; every iteration's work is done, so it
pays only where the round trips cost more than that work), and ``"early_exit"`` uses while
loops for both, everywhere. A GPU run can time both.

**The constraint solver one env at a time, on a CPU.** A ``vmap``-ed solver is a batched
``while_loop``: every env runs as many Newton iterations (and line-search steps) as the
slowest env of the batch, on selects, so the cost per env grows with the batch. On a CPU, vector
lanes gain little on the solver's small matrices, so :func:`sequential_solver_on_cpu` gives
``solver.solve`` a batching rule (``jax.custom_batching.custom_vmap``) that runs it with
``lax.map``, each env to its own convergence; the rest of the step stays vectorised. In a program
for a GPU or TPU the solver stays vmapped.

**Cholesky one matrix at a time, on a CPU.** MJX factors the mass matrix in every ``forward``
(``smooth.factor_m``, ``jax.scipy.linalg.cho_factor``, then ``cho_solve``) and the Newton
solver its Hessian, batched over envs (or seeds). jaxlib 0.10's CPU kernels for these
(``lapack_spotrf_ffi``, ``lapack_strsm_ffi``) run a batch through ``ParallelBatchMap``: a batch
no larger than one chunk runs in the calling thread, a larger one is split into chunks queued
on XLA's intra-op thread pool, and the caller blocks until they are done. With as many such
calls in flight as the pool has threads, every thread waits for chunks no thread is free to
run, and the program hangs (it did at about 1024 envs on two threads).
:func:`unbatched_cholesky_on_cpu` gives ``cho_factor`` and ``cho_solve`` a batching rule that
runs a batch with ``lax.map``, one matrix per call, which LAPACK's kernel always runs in the
calling thread; :func:`batched_cholesky` restores JAX's batched call, to compare
(``benchmarks/env_speed.py --batched-cholesky``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

import jax
import jax.numpy as jnp
import jax.scipy.linalg
from mujoco.mjx._src import scan, solver

from purejaxppo.envs.base import map_under_vmap
from purejaxppo.types import Array

T = TypeVar("T")


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


def fixed_while_loop(
    cond_fun: Callable[[T], Array], body_fun: Callable[[T], T], init_val: T, max_iter: int
) -> T:
    """``lax.while_loop(cond_fun, body_fun, init_val)`` as a ``scan`` of ``max_iter`` steps.

    The same result when the while loop stops within ``max_iter`` iterations, with a trip count
    known to the compiler. Each step applies ``body_fun`` where ``cond_fun`` still holds and
    keeps the value where it does not (a select: the same values as the while loop).
    """

    def step(val: T, _: None) -> tuple[T, None]:
        go = cond_fun(val)
        nxt = body_fun(val)
        return jax.tree.map(lambda a, b: jnp.where(go, a, b), nxt, val), None

    return jax.lax.scan(step, init_val, None, length=max_iter)[0]


def on_cpu(cpu: Callable[..., T], other: Callable[..., T]) -> Callable[..., T]:
    """``cpu(*args)`` in a program lowered for the CPU, ``other(*args)`` for any other platform."""

    def either(*args: object) -> T:
        return jax.lax.platform_dependent(*args, cpu=cpu, default=other)

    return either


SOLVER_LOOPS = ("auto", "early_exit", "fixed")
"""``auto``: early exit on the CPU, MJX's fixed-length line search elsewhere (Newton iterations
a while loop); ``early_exit``: while loops everywhere; ``fixed``: fixed-length loops everywhere."""


@contextlib.contextmanager
def solver_loops(mode: str = "auto") -> Iterator[None]:
    """While active, MJX's solver loops are those ``mode`` names (:data:`SOLVER_LOOPS`)."""
    if mode not in SOLVER_LOOPS:
        raise ValueError(f"solver_loops={mode!r}: choose one of {', '.join(SOLVER_LOOPS)}")
    scan_original, solve_original = solver._while_loop_scan, solver.solve

    def line_search(cond_fun, body_fun, init_val, max_iter):
        early = functools.partial(while_loop_with_limit, cond_fun, body_fun, max_iter=max_iter)
        fixed = functools.partial(scan_original, cond_fun, body_fun, max_iter=max_iter)
        if mode == "auto":
            return on_cpu(early, fixed)(init_val)
        return (early if mode == "early_exit" else fixed)(init_val)

    def solve_fixed(m, d):
        while_loop = jax.lax.while_loop

        def bounded(cond_fun, body_fun, init_val):
            return fixed_while_loop(cond_fun, body_fun, init_val, int(m.opt.iterations))

        jax.lax.while_loop = bounded  # MJX's Newton loop, the solver's only while_loop
        try:
            return solve_original(m, d)
        finally:
            jax.lax.while_loop = while_loop

    solver._while_loop_scan = line_search
    if mode == "fixed":
        solver.solve = solve_fixed
    try:
        yield
    finally:
        solver._while_loop_scan, solver.solve = scan_original, solve_original


def _sequential_solve(original: Callable) -> Callable:
    """``original(m, d)``, batched by ``lax.map`` over the env axis instead of vectorised.

    Only the innermost ``vmap`` (the envs) is a loop: an outer one (seeds) batches its body.
    """

    def solve(m, d):
        return map_under_vmap(lambda d: original(m, d), nested="batch")(d)

    return solve


_SEQUENTIAL = [True]  # switched off by vmapped_solver()


@contextlib.contextmanager
def vmapped_solver() -> Iterator[None]:
    """While active, programs traced keep MJX's vmapped solver (it compiles about twice faster)."""
    _SEQUENTIAL[0] = False
    try:
        yield
    finally:
        _SEQUENTIAL[0] = True


@contextlib.contextmanager
def sequential_solver_on_cpu() -> Iterator[None]:
    """While active, a vmapped solver runs env by env in a program for the CPU."""
    if not _SEQUENTIAL[0]:
        yield
        return
    original = solver.solve
    sequential = _sequential_solve(original)
    solver.solve = lambda m, d: on_cpu(lambda d: sequential(m, d), lambda d: original(m, d))(d)
    try:
        yield
    finally:
        solver.solve = original


_LAPACK = (jax.scipy.linalg.cho_factor, jax.scipy.linalg.cho_solve)


def cho_factor(a: Array, lower: bool = False, **_: object) -> tuple[Array, bool]:
    """``jax.scipy.linalg.cho_factor`` of ``a`` ``[n, n]``; batched, one matrix at a time."""
    return map_under_vmap(lambda a: _LAPACK[0](a, lower=lower)[0])(a), lower


def cho_solve(c_and_lower: tuple[Array, bool], b: Array, **_: object) -> Array:
    """``jax.scipy.linalg.cho_solve`` (``b`` ``[n]`` or ``[n, k]``); batched, one at a time."""
    c, lower = c_and_lower
    return map_under_vmap(lambda c, b: _LAPACK[1]((c, lower), b))(c, b)


_UNBATCHED = [True]  # switched off by batched_cholesky()


@contextlib.contextmanager
def batched_cholesky() -> Iterator[None]:
    """While active, programs traced keep JAX's batched LAPACK Cholesky (before/after timings).

    On a 2-core CPU it can deadlock at ~1024 envs: see :func:`unbatched_cholesky_on_cpu`.
    """
    _UNBATCHED[0] = False
    try:
        yield
    finally:
        _UNBATCHED[0] = True


@contextlib.contextmanager
def unbatched_cholesky_on_cpu() -> Iterator[None]:
    """While active, no LAPACK Cholesky call is batched in a program for the CPU."""
    if not _UNBATCHED[0]:
        yield
        return
    linalg = jax.scipy.linalg
    originals = linalg.cho_factor, linalg.cho_solve

    def factor(a: Array, lower: bool = False, **_: object) -> tuple[Array, bool]:
        def theirs(a: Array) -> Array:
            return originals[0](a, lower=lower)[0]

        return on_cpu(lambda a: cho_factor(a, lower)[0], theirs)(a), lower

    def solve(c_and_lower: tuple[Array, bool], b: Array, **_: object) -> Array:
        c, lower = c_and_lower
        return on_cpu(
            lambda c, b: cho_solve((c, lower), b), lambda c, b: originals[1]((c, lower), b)
        )(c, b)

    linalg.cho_factor, linalg.cho_solve = factor, solve  # type: ignore[assignment]
    try:
        yield
    finally:
        linalg.cho_factor, linalg.cho_solve = originals


@contextlib.contextmanager
def all_speedups(loops: str = "auto") -> Iterator[None]:
    """All the changes above, the solver's loops as ``loops`` names (:data:`SOLVER_LOOPS`)."""
    with (
        tree_level_barriers(),
        solver_loops(loops),
        sequential_solver_on_cpu(),
        unbatched_cholesky_on_cpu(),
    ):
        yield
