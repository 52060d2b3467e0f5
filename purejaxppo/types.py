"""Shared type aliases."""

import jax

Array = jax.Array
"""A JAX array (or a tracer of one)."""

PRNGKey = jax.Array
"""A JAX PRNG key: ``uint32 [2]`` from ``jax.random.PRNGKey``, or a typed key."""

__all__ = ["Array", "PRNGKey"]
