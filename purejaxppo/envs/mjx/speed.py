"""Scoped changes to how MJX's programs are built: the same values, computed faster.

Each is a context manager, active while our environments' physics is traced (``fixes.patched``)
and undone after, and each is tested to give MJX's own values (``tests/test_mjx_fixes.py``). A
change made for a CPU is chosen by the platform the program is lowered for (:func:`on_cpu`), not
by the host's backend: a program compiled for a GPU or TPU gets MJX's own computation there.
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

from purejaxppo.batching import map_under_vmap
from purejaxppo.types import Array

T = TypeVar("T")


@contextlib.contextmanager
def tree_level_barriers() -> Iterator[None]:
    """While active, each level of MJX's tree walks is computed once, not fused into the next.

    MJX walks the kinematic tree a depth level at a time (``scan.body_tree``). XLA's CPU backend
    fuses a chain's levels into one loop that recomputes each parent for every child reading it,
    so the work grows about fourfold per level (Pusher-v5's 10-deep arm); an optimization
    barrier on each level's result stops that and changes no value. On for every platform.
    """
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
    """While active, MJX's solver loops are those ``mode`` names (:data:`SOLVER_LOOPS`).

    MJX's line search is a ``scan`` of ``ls_iterations`` conditional steps, which under ``vmap``
    evaluates every step for every env although searches converge in a few: on a CPU a
    ``while_loop`` that stops when the whole batch has converged is much faster. On a GPU a
    while loop copies its predicate to the host every iteration, so ``auto`` keeps the scan
    there. ``fixed`` also runs the Newton iterations as a fixed-length scan (no round trips,
    every iteration's work done).
    """
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
    """While active, a vmapped solver runs env by env in a program for the CPU.

    A vmapped solver runs every env for as many Newton iterations as the slowest env of the
    batch; vector lanes gain little on its small matrices, so on a CPU ``lax.map`` lets each env
    stop at its own convergence. The rest of the step stays vectorised.
    """
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
    """While active, no LAPACK Cholesky call is batched in a program for the CPU.

    jaxlib's CPU kernels split a large batch into chunks on XLA's intra-op thread pool and block
    the calling thread until they are done: with as many such calls in flight as the pool has
    threads, none is free and the program hangs (about 1024 envs on two threads). One matrix
    per call always runs in the calling thread.
    """
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
