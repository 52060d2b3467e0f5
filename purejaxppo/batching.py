"""Batching rules for ``jax.vmap``: a function that loops over a batch instead of vectorising."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import jax
import jax.numpy as jnp

from purejaxppo.types import Array

F = TypeVar("F", bound=Callable[..., Any])


def broadcast_unbatched(axis_size: int, x: Array, is_batched: bool) -> Array:
    """``x`` with a leading axis of ``axis_size`` added unless it has one (``custom_vmap`` rules).

    Args:
        axis_size: the mapped axis' size ``S``.
        x: ``[S, ...]`` if ``is_batched``, else ``[...]``.
        is_batched: whether ``x`` already carries the mapped axis.

    Returns:
        ``[S, ...]``.
    """
    return x if is_batched else jnp.broadcast_to(x, (axis_size, *jnp.shape(x)))


def map_under_vmap(fn: F, *, nested: Literal["map", "batch"] = "map") -> F:
    """``fn`` whose ``vmap`` runs it one batch element at a time (``lax.map``), not vectorised.

    The same values as ``fn`` under ``vmap``; each call of ``fn``'s body sees one element. Used
    where a vectorised batch costs more than a loop (MJX's constraint solver on a CPU, which a
    batch runs to its slowest element's convergence) or where jaxlib 0.10's batched LAPACK
    kernels can hang (Cholesky, QR: see ``envs/mjx/speed.py``).

    Args:
        fn: a function of arrays (pytrees) returning arrays (a pytree).
        nested: what a ``vmap`` further out (over seeds, a sweep's points) does with the mapped
            body: ``"map"`` maps again, so every call sees one element of every level;
            ``"batch"`` vectorises it, so only the innermost ``vmap`` is a loop.

    Returns:
        A function with ``fn``'s signature and values.
    """
    if nested not in ("map", "batch"):
        raise ValueError(f"nested must be 'map' or 'batch', not {nested!r}")

    @jax.custom_batching.custom_vmap
    def one(*args: Any) -> Any:
        return fn(*args)

    body = one if nested == "map" else fn

    @one.def_vmap
    def rule(axis_size: int, in_batched: list, *args: Any) -> tuple[Any, Any]:
        full = functools.partial(broadcast_unbatched, axis_size)
        args = tuple(jax.tree.map(full, a, b) for a, b in zip(args, in_batched, strict=True))
        out = jax.lax.map(lambda a: body(*a), args)
        return out, jax.tree.map(lambda _: True, out)

    return one  # type: ignore[return-value]
