"""Training wrappers: action clipping, time limit, vmap, and auto-reset with a fresh reset.

The trainer composes them as ``AutoReset(Vmap(TimeLimit(ClipAction(env))))``; see
:func:`wrap_for_training`. Each is a pure function of the :class:`State`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp

from purejaxppo.batching import broadcast_unbatched
from purejaxppo.envs.base import Env, State
from purejaxppo.parallel.mesh import in_mesh, on_mesh
from purejaxppo.types import Array


class Wrapper(Env):
    """Forwards everything to the wrapped env."""

    def __init__(self, env: Env):
        self.env = env

    @property
    def observation_size(self) -> int:  # noqa: D102
        return self.env.observation_size

    @property
    def action_size(self) -> int:  # noqa: D102
        return self.env.action_size

    @property
    def action_low(self) -> Array:  # noqa: D102
        return self.env.action_low

    @property
    def action_high(self) -> Array:  # noqa: D102
        return self.env.action_high

    @property
    def episode_length(self) -> int:  # noqa: D102
        return self.env.episode_length

    @property
    def unwrapped(self) -> Env:  # noqa: D102
        return self.env.unwrapped

    def reset(self, key: Array) -> State:  # noqa: D102
        return self.env.reset(key)

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        return self.env.step(state, action)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


class ClipAction(Wrapper):
    """Clips actions to ``[action_low, action_high]`` before stepping."""

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        return self.env.step(state, jnp.clip(action, self.action_low, self.action_high))


class TimeLimit(Wrapper):
    """Counts steps; sets ``truncated`` when the limit is reached and the step did not terminate.

    Also records ``final_obs`` (the observation the step reached), which auto-reset keeps.
    """

    def __init__(self, env: Env, episode_length: int | None = None):
        super().__init__(env)
        self._limit = int(episode_length or env.episode_length)

    @property
    def episode_length(self) -> int:  # noqa: D102
        return self._limit

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        nxt = self.env.step(state, action)
        steps = state.step + 1
        truncated = jnp.where((steps >= self._limit) & (nxt.terminated == 0), 1.0, 0.0).astype(
            jnp.float32
        )
        return nxt.replace(step=steps, truncated=truncated, final_obs=nxt.obs)


_FOLD = [True]  # switched off by unfolded_vmaps()


@contextlib.contextmanager
def unfolded_vmaps() -> Iterator[None]:
    """While active, programs traced batch seeds as plain nested vmaps (before/after timings).

    That is: :class:`Vmap` does not fold outer vmaps into its batch, and :class:`AutoReset`'s
    ``lax.cond`` tests ``jnp.any``, which under a seed vmap turns it into a select.
    """
    _FOLD[0] = False
    try:
        yield
    finally:
        _FOLD[0] = True


def fold_outer_vmaps(batched: Callable[..., Any]) -> Callable[..., Any]:
    """``batched`` (a function over a leading batch axis ``[B, ...]``), with outer vmaps folded in.

    Under ``jax.vmap`` over ``S`` (seeds, or hyperparameters), the returned function calls
    ``batched`` once on arguments reshaped to ``[S * B, ...]`` and reshapes its results back to
    ``[S, B, ...]``, instead of letting the outer vmap batch ``batched``'s body a second time. The
    values are the same; the program is the one for ``S * B`` envs, so the physics sees one
    batch: on a CPU the constraint solver then runs env by env over all ``S * B`` envs
    (``mjx.speed.sequential_solver_on_cpu``) rather than as a ``while_loop`` batched over seeds,
    in which every seed waits for the slowest. Nested vmaps fold one after the other.

    On a device mesh (:mod:`purejaxppo.parallel.mesh`) the call runs in ``shard_map``: each
    device steps its own runs' envs (``[S/seeds, B/data]``, folded), the foreign calls of the C
    and Warp engines included, which the partitioner would otherwise replicate.

    Args:
        batched: ``batched(*args) -> out``, every leaf of ``args`` and ``out`` ``[B, ...]``.

    Returns:
        A function with the same values as ``batched``.
    """

    @jax.custom_batching.custom_vmap
    def fn(*args: Any) -> Any:
        return on_mesh(batched, lead=1)(*args)

    @fn.def_vmap
    def _rule(axis_size: int, in_batched: list, *args: Any) -> tuple[Any, Any]:
        args = tuple(
            jax.tree.map(functools.partial(broadcast_unbatched, axis_size), a, b)
            for a, b in zip(args, in_batched, strict=True)
        )

        def folded(call: Callable[..., Any], *args: Any) -> Any:
            outer, inner = jax.tree.leaves(args)[0].shape[:2]
            fold = lambda x: x.reshape((outer * inner, *x.shape[2:]))  # noqa: E731
            out = call(*jax.tree.map(fold, args))
            unfold = lambda x: x.reshape((outer, inner, *x.shape[1:]))  # noqa: E731
            return jax.tree.map(unfold, out)

        if in_mesh():  # each device folds its own runs and envs: [S/s, B/d] -> [S/s * B/d]
            out = on_mesh(functools.partial(folded, batched), lead=2)(*args)
        else:  # fn again, so that a vmap further out folds too
            out = folded(fn, *args)
        return out, jax.tree.map(lambda _: True, out)

    return fn


class Vmap(Wrapper):
    """Batches an env: ``reset(keys [B, 2])`` and ``step(states [B], actions [B, act])``.

    Outer vmaps (seeds, hyperparameters) are folded into the env batch: see
    :func:`fold_outer_vmaps`.
    """

    def __init__(self, env: Env):
        super().__init__(env)
        self._reset = fold_outer_vmaps(jax.vmap(env.reset))
        self._step = fold_outer_vmaps(jax.vmap(env.step))

    def reset(self, key: Array) -> State:  # noqa: D102
        return (self._reset if _FOLD[0] else jax.vmap(self.env.reset))(key)

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        return (self._step if _FOLD[0] else jax.vmap(self.env.step))(state, action)


@jax.custom_batching.custom_vmap
def any_anywhere(x: Array) -> Array:
    """``jnp.any(x)``, and under ``vmap`` the ``any`` over the mapped axes too, left unbatched.

    ``jnp.any`` under ``vmap`` (over seeds, or hyperparameters) gives one flag per mapped
    element, and a ``lax.cond`` on a batched flag runs both of its branches every time. This flag
    is the same for every mapped element, so a ``lax.cond`` on it stays a branch: it runs when
    the condition holds anywhere in the (nested) batch, and is skipped when it holds nowhere.

    Args:
        x: bool array of any shape.

    Returns:
        bool scalar.
    """
    return jnp.any(x)


@any_anywhere.def_vmap
def _any_anywhere_vmap(axis_size: int, in_batched: list[bool], x: Array) -> tuple[Array, bool]:
    del axis_size
    return any_anywhere(x.reshape(-1) if in_batched[0] else x), False


class AutoReset(Wrapper):
    """On a batched env: every env whose episode ended is replaced by a FRESH random reset.

    The reset is computed only on steps where some env is done (a ``lax.cond`` at batch level,
    on :func:`any_anywhere`, so that it stays a branch under ``vmap`` over seeds), with a key
    split from that env's own ``rng``. ``final_obs``, ``reward``, ``terminated`` and
    ``truncated`` of the finishing step are kept; ``obs`` becomes the new episode's first.
    """

    def step(self, state: State, action: Array) -> State:  # noqa: D102
        nxt = self.env.step(state, action)
        done = nxt.done > 0

        def reset_done(nxt: State) -> State:
            fresh = self.env.reset(jax.vmap(lambda k: jax.random.split(k)[0])(nxt.rng))

            def pick(new: Array, old: Array) -> Array:
                return jnp.where(done.reshape(done.shape + (1,) * (old.ndim - 1)), new, old)

            merged = jax.tree.map(pick, fresh, nxt)
            # Keep the finishing step's outcome; take the new episode's data, obs, step, rng.
            return merged.replace(
                reward=nxt.reward,
                terminated=nxt.terminated,
                truncated=nxt.truncated,
                final_obs=nxt.final_obs,
                info=nxt.info,
            )

        some = any_anywhere(done) if _FOLD[0] else jnp.any(done)
        return jax.lax.cond(some, reset_done, lambda s: s, nxt)


def wrap_for_training(env: Env, episode_length: int | None = None) -> Env:
    """The training stack: ``AutoReset(Vmap(TimeLimit(ClipAction(env))))``."""
    return AutoReset(Vmap(TimeLimit(ClipAction(env), episode_length)))


def wrap_for_eval(env: Env, episode_length: int | None = None) -> Env:
    """The evaluation stack (no auto-reset): ``Vmap(TimeLimit(ClipAction(env)))``."""
    return Vmap(TimeLimit(ClipAction(env), episode_length))
