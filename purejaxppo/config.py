"""PPOConfig: the hyperparameters of a run, as a frozen pytree.

Sizes (anything that fixes an array shape or the structure of the program) are static fields:
they are part of the pytree's structure, so changing one recompiles. The float hyperparameters
are leaves: they are traced, so a sweep is one compiled program,
``jax.vmap(train)(keys, configs)`` where ``configs`` is a ``PPOConfig`` whose float leaves have
a leading axis (see :func:`stack_configs`).

The defaults (the ``defaults`` preset, made for HalfCheetah-v5): Adam at 3e-4, gamma 0.99, GAE
lambda 0.95, clip 0.2, value coefficient 0.5, entropy coefficient 0.01, gradient norm 0.5, 10
epochs of minibatches of 64 over 2048 transitions per update.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


def _static(default, **kw):
    return struct.field(pytree_node=False, default=default, **kw)


class ConfigError(ValueError):
    """An invalid configuration, raised before anything is compiled."""


class PPOConfig(struct.PyTreeNode):
    """Hyperparameters of one PPO run. Static fields fix shapes; float fields are traced."""

    # ---- sizes (static) ----
    total_timesteps: int = _static(500_000)
    """Environment steps in the whole run, summed over the parallel envs."""
    num_envs: int = _static(16)
    """Parallel environments stepped in lockstep (vmapped)."""
    batch_size: int = _static(2048)
    """Transitions collected per update, over all envs (rollout length = batch_size / num_envs)."""
    minibatch_size: int = _static(64)
    """Transitions per gradient step."""
    n_epochs: int = _static(10)
    """Passes over each batch of transitions."""
    hidden_sizes: tuple[int, ...] = _static((64, 64))
    """Widths of the shared trunk (or of both separate networks)."""
    shared_network: bool = _static(True)
    """One trunk for actor and critic (the default); False gives separate orthogonal-init MLPs."""
    critic_hidden_sizes: tuple[int, ...] | None = _static(None)
    """Critic widths when ``shared_network`` is False (defaults to ``hidden_sizes``)."""
    activation: str = _static("tanh")
    """Hidden activation: tanh, relu, elu, gelu or silu."""
    anneal_lr: bool = _static(False)
    """Decay the learning rate linearly to 0 over the run."""
    adaptive_lr: bool = _static(False)
    """Let the KL set the learning rate (after rsl_rl's rule), carried from update to update.

    Before every minibatch step the rate is divided by 1.5 when the update's approximate KL so
    far exceeds 2 x ``target_kl`` and multiplied by 1.5 when it is under ``target_kl`` / 2,
    within [``ADAPTIVE_LR_RANGE``]; ``learning_rate`` is where it starts. It keeps the size of
    each update in KL steady as the policy's spread changes, which a constant rate does not.
    rsl_rl measures the KL between the Gaussians in closed form and skips the rise at a KL of
    0 (an update's first step); here the KL is the loss's estimate and that step rises too.
    """
    normalize_obs: bool = _static(True)
    """Running mean/variance normalisation of observations."""
    normalize_reward: bool = _static(True)
    """Scale rewards by the running std of the discounted return."""
    normalize_advantages: bool = _static(True)
    """Standardise advantages within each minibatch."""
    clip_value: bool = _static(False)
    """Clip the value-function update around the old values."""
    use_target_kl: bool = _static(False)
    """Stop an update's remaining minibatches once approx KL exceeds 1.5 x ``target_kl``."""
    episode_length: int | None = _static(None)
    """Time limit in steps (truncation); None takes the environment's own."""
    eval_every: int = _static(25)
    """Evaluate the deterministic policy every this many updates (and after the last); 0: never."""
    eval_episodes: int = _static(10)
    """Episodes per evaluation, run in parallel."""

    # ---- hyperparameters (traced, vmappable) ----
    learning_rate: float = 3e-4
    """Adam step size (initial value when annealed)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_epsilon: float = 0.2
    """PPO ratio clip range."""
    value_clip_epsilon: float = 0.2
    """Value clip range, used when ``clip_value``."""
    value_coeff: float = 0.5
    """Weight of the critic loss."""
    entropy_coeff: float = 0.01
    """Weight of the entropy bonus."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    target_kl: float = 0.02
    """KL target, used when ``use_target_kl`` (a limit) or ``adaptive_lr`` (a set point)."""
    log_std_init: float = -1.0
    """Initial (state-independent) log standard deviation of the Gaussian policy."""
    adam_eps: float = 1e-5
    """Adam epsilon."""
    obs_clip: float = 10.0
    """Normalised observations are clipped to +-obs_clip."""
    reward_clip: float = 10.0
    """Scaled rewards are clipped to +-reward_clip."""

    # ---- derived sizes ----
    @property
    def num_steps(self) -> int:
        """Rollout length per env and update."""
        return self.batch_size // self.num_envs

    @property
    def num_minibatches(self) -> int:
        """Gradient steps per epoch."""
        return self.batch_size // self.minibatch_size

    @property
    def num_updates(self) -> int:
        """Updates in the run: total_timesteps // batch_size."""
        return self.total_timesteps // self.batch_size

    @property
    def critic_sizes(self) -> tuple[int, ...]:
        """Critic widths."""
        return self.critic_hidden_sizes or self.hidden_sizes

    # ---- checks ----
    def validate(self) -> PPOConfig:
        """Raises :class:`ConfigError` naming what to change; returns self when valid."""
        errors: list[str] = []
        for name in ("total_timesteps", "num_envs", "batch_size", "minibatch_size", "n_epochs"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                errors.append(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if errors:
            raise ConfigError("; ".join(errors))
        if self.batch_size % self.num_envs:
            lo, hi = _neighbours(self.batch_size, self.num_envs)
            errors.append(
                f"batch_size={self.batch_size} is not divisible by num_envs={self.num_envs}: "
                f"set num_envs to a divisor of {self.batch_size} (e.g. {lo} or {hi}), "
                f"or batch_size to a multiple of {self.num_envs} "
                f"(e.g. {self.batch_size // self.num_envs * self.num_envs or self.num_envs})"
            )
        if self.batch_size % self.minibatch_size:
            lo, hi = _neighbours(self.batch_size, self.minibatch_size)
            errors.append(
                f"batch_size={self.batch_size} is not divisible by "
                f"minibatch_size={self.minibatch_size}: set minibatch_size to a divisor of "
                f"{self.batch_size} (e.g. {lo} or {hi})"
            )
        if self.total_timesteps < self.batch_size:
            errors.append(
                f"total_timesteps={self.total_timesteps} is less than one update "
                f"(batch_size={self.batch_size}): raise total_timesteps or lower batch_size"
            )
        if any((not isinstance(h, int)) or h < 1 for h in self.hidden_sizes + self.critic_sizes):
            errors.append(f"hidden sizes must be positive integers, got {self.hidden_sizes}")
        if self.activation not in ACTIVATIONS:
            errors.append(f"activation={self.activation!r}: choose one of {sorted(ACTIVATIONS)}")
        if self.eval_every < 0 or self.eval_episodes < 1:
            errors.append("eval_every must be >= 0 and eval_episodes >= 1")
        if self.anneal_lr and self.adaptive_lr:
            errors.append("anneal_lr and adaptive_lr both set the learning rate: choose one")
        if self.adaptive_lr and not isinstance(self.learning_rate, jax.core.Tracer):
            rate = np.asarray(self.learning_rate)
            if not np.all((rate >= ADAPTIVE_LR_RANGE[0]) & (rate <= ADAPTIVE_LR_RANGE[1])):
                errors.append(
                    f"learning_rate={self.learning_rate!r} is outside adaptive_lr's range "
                    f"[{ADAPTIVE_LR_RANGE[0]:g}, {ADAPTIVE_LR_RANGE[1]:g}]: start it inside"
                )
        if self.episode_length is not None and self.episode_length < 1:
            errors.append(f"episode_length must be positive or None, got {self.episode_length}")
        errors += _check_ranges(self)
        if errors:
            raise ConfigError("invalid PPOConfig:\n  - " + "\n  - ".join(errors))
        return self

    def static_fields(self) -> dict[str, object]:
        """The static (shape-fixing) fields, by name."""
        return {f.name: getattr(self, f.name) for f in _fields(static=True)}

    def hyperparameters(self) -> dict[str, object]:
        """The traced (vmappable) fields, by name."""
        return {f.name: getattr(self, f.name) for f in _fields(static=False)}

    def to_dict(self) -> dict[str, object]:
        """Every field as plain JSON-able Python values (one config, not a stacked sweep)."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = list(v)
            elif f.metadata.get("pytree_node", True) is not False:
                v = float(np.asarray(v))
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> PPOConfig:
        """The inverse of :meth:`to_dict`; unknown names raise :class:`ConfigError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown PPOConfig fields {unknown}")
        kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**kw)


ACTIVATIONS = ("tanh", "relu", "elu", "gelu", "silu")

ADAPTIVE_LR_RANGE = (1e-5, 1e-2)
"""The bounds of the learning rate under ``adaptive_lr`` (rsl_rl's)."""

# (name, lower, upper, lower inclusive): the allowed range of each traced hyperparameter.
_RANGES = (
    ("learning_rate", 0.0, math.inf, False),
    ("gamma", 0.0, 1.0, True),
    ("gae_lambda", 0.0, 1.0, True),
    ("clip_epsilon", 0.0, math.inf, False),
    ("value_clip_epsilon", 0.0, math.inf, False),
    ("value_coeff", 0.0, math.inf, True),
    ("entropy_coeff", 0.0, math.inf, True),
    ("max_grad_norm", 0.0, math.inf, False),
    ("target_kl", 0.0, math.inf, False),
    ("adam_eps", 0.0, math.inf, False),
    ("obs_clip", 0.0, math.inf, False),
    ("reward_clip", 0.0, math.inf, False),
)


def _check_ranges(cfg: PPOConfig) -> list[str]:
    errors = []
    for name, lo, hi, lo_incl in _RANGES:
        value = getattr(cfg, name)
        if isinstance(value, jax.core.Tracer):
            continue  # traced inside a transformation: checked on the concrete config instead
        arr = np.asarray(value, dtype=np.float64)
        ok = np.isfinite(arr) & (arr <= hi) & ((arr >= lo) if lo_incl else (arr > lo))
        if not np.all(ok):
            bound = "[" if lo_incl else "("
            errors.append(f"{name}={value!r} is outside {bound}{lo}, {hi}]")
    return errors


def _neighbours(n: int, k: int) -> tuple[int, int]:
    """The divisors of n nearest to k, below and above."""
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    below = max((d for d in divisors if d <= k), default=1)
    above = min((d for d in divisors if d >= k), default=n)
    return below, above


def _fields(static: bool) -> list[dataclasses.Field]:
    return [
        f
        for f in dataclasses.fields(PPOConfig)
        if (f.metadata.get("pytree_node", True) is False) == static
    ]


def stack_configs(configs: Sequence[PPOConfig]) -> PPOConfig:
    """Stacks configs that share their static fields into one with a leading axis on the floats.

    Args:
        configs: N configs, identical in their static fields.

    Returns:
        A ``PPOConfig`` whose traced fields are float32 arrays of shape ``[N]``, for
        ``jax.vmap(train)(keys, stacked)``.
    """
    if not configs:
        raise ConfigError("stack_configs needs at least one config")
    first = configs[0].static_fields()
    for i, c in enumerate(configs[1:], 1):
        diff = {k for k, v in c.static_fields().items() if first[k] != v}
        if diff:
            raise ConfigError(
                f"config {i} differs from config 0 in static fields {sorted(diff)}: "
                "only float hyperparameters can be swept in one program"
            )
        c.validate()
    configs[0].validate()
    return jax.tree.map(lambda *xs: jnp.asarray(xs, dtype=jnp.float32), *configs)
