"""Actor-critic networks and the diagonal Gaussian policy.

Two architectures, chosen by ``PPOConfig.shared_network``:

* shared (the default): one trunk of ``hidden_sizes`` initialised ``normal * sqrt(2 / fan_in)``,
  an actor head and a critic head initialised the same way times 0.01;
* separate: an actor MLP and a critic MLP, orthogonal init (gain sqrt(2) hidden, 0.01 actor
  output, 1.0 critic output), widths ``hidden_sizes`` and ``critic_hidden_sizes``.

Both have a learned, state-independent ``log_std`` starting at ``log_std_init``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from purejaxppo.batching import map_under_vmap
from purejaxppo.types import Array

_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "tanh": jnp.tanh,
    "relu": nn.relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
}


def _he_normal(scale: float = 1.0) -> nn.initializers.Initializer:
    """``normal(0, 1) * sqrt(2 / fan_in) * scale``."""
    return nn.initializers.variance_scaling(2.0 * scale**2, "fan_in", "normal")


def orthogonal(scale: float = 1.0) -> nn.initializers.Initializer:
    """``jax.nn.initializers.orthogonal(scale)`` whose QR is never batched.

    Why: a batched QR is one LAPACK call whose CPU kernel splits the batch over XLA's thread
    pool and blocks; two such calls at once (an actor and a critic layer) on two threads wait on
    each other forever. So under ``vmap`` the unbatched initializer is mapped over the keys
    (``lax.map``): each seed's matrix equals the stock initializer's for its key. Nested vmaps
    map again, each level.
    """
    stock = nn.initializers.orthogonal(scale)

    def init(key: Array, shape: Sequence[int], dtype: jax.typing.DTypeLike = jnp.float32) -> Array:
        return map_under_vmap(lambda k: stock(k, shape, dtype))(key)

    return init


def _mlp(
    x: Array, sizes: Sequence[int], act: Callable, init: nn.initializers.Initializer, prefix: str
) -> Array:
    for i, width in enumerate(sizes):
        x = act(nn.Dense(width, kernel_init=init, name=f"{prefix}_{i}")(x))
    return x


class ActorCritic(nn.Module):
    """Maps observations ``[..., obs]`` to ``(mean [..., act], log_std [act], value [...])``."""

    action_size: int
    hidden_sizes: tuple[int, ...] = (64, 64)
    critic_hidden_sizes: tuple[int, ...] | None = None
    shared: bool = True
    activation: str = "tanh"

    @nn.compact
    def __call__(self, obs: Array, log_std_init: float | Array = -1.0):  # noqa: D102
        act = _ACTIVATIONS[self.activation]
        if self.shared:
            h = _mlp(obs, self.hidden_sizes, act, _he_normal(), "trunk")
            mean = nn.Dense(self.action_size, kernel_init=_he_normal(0.01), name="actor_out")(h)
            value = nn.Dense(1, kernel_init=_he_normal(0.01), name="critic_out")(h)
        else:
            ortho = orthogonal
            h_pi = _mlp(obs, self.hidden_sizes, act, ortho(math.sqrt(2)), "actor")
            mean = nn.Dense(self.action_size, kernel_init=ortho(0.01), name="actor_out")(h_pi)
            h_v = _mlp(
                obs,
                self.critic_hidden_sizes or self.hidden_sizes,
                act,
                ortho(math.sqrt(2)),
                "critic",
            )
            value = nn.Dense(1, kernel_init=ortho(1.0), name="critic_out")(h_v)
        log_std = self.param(
            "log_std",
            lambda _, shape: jnp.full(shape, log_std_init, jnp.float32),
            (self.action_size,),
        )
        return mean, log_std, value[..., 0]


def gaussian_log_prob(mean: Array, log_std: Array, action: Array) -> Array:
    """Log-density of a diagonal Gaussian, summed over the last axis: ``[...]``."""
    z = (action - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * jnp.square(z) - log_std - 0.5 * math.log(2 * math.pi), axis=-1)


def gaussian_entropy(log_std: Array) -> Array:
    """Entropy of a diagonal Gaussian with these log standard deviations, ``[]``."""
    return jnp.sum(log_std + 0.5 * math.log(2 * math.pi * math.e), axis=-1)


def sample_action(key: Array, mean: Array, log_std: Array) -> Array:
    """``mean + exp(log_std) * N(0, 1)``, shape of ``mean``."""
    return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
