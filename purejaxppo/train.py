"""make_train(config, env) -> train(key): the whole PPO run as one ``lax.scan``.

One update of one seed::

    rollout (T steps of B envs, policy sampled)  ->  Transition [T, B]
    merge the rollout's observations / discounted returns into the running statistics
    values, log-probs, bootstrap values of the batch (one batched pass)  ->  GAE [T, B]
    n_epochs x num_minibatches clipped-PPO gradient steps (optax)
    every eval_every updates: deterministic evaluation episodes

``train(key)`` scans this over ``num_updates``; ``jax.jit(jax.vmap(train))(keys)`` trains seeds
side by side, and ``jax.vmap(train)(keys, configs)`` sweeps the float hyperparameters. Under a
device mesh (:mod:`purejaxppo.parallel.mesh`) the same program runs split over devices.
The statistics used to normalise observations stay fixed within an update (rollout, GAE and
epochs all see the same ones) and absorb the update's observations before the batched pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp
import optax
from flax import struct

from purejaxppo import normalize as nz
from purejaxppo.config import ADAPTIVE_LR_RANGE, ConfigError, PPOConfig
from purejaxppo.envs.base import Env, State
from purejaxppo.envs.wrappers import wrap_for_eval, wrap_for_training
from purejaxppo.evaluate import evaluate
from purejaxppo.gae import compute_gae
from purejaxppo.loss import ApplyFn, LossInfo, Minibatch, explained_variance, ppo_loss
from purejaxppo.networks import ActorCritic, gaussian_log_prob, sample_action
from purejaxppo.parallel.mesh import constrain_batch
from purejaxppo.rollout import EpisodeTracker, collect_rollout
from purejaxppo.types import Array


class Policy(struct.PyTreeNode):
    """What a trained policy is: network parameters and observation statistics."""

    params: Any
    obs_stats: nz.RunningStats


class RunnerState(struct.PyTreeNode):
    """Everything the training scan carries from one update to the next."""

    policy: Policy
    opt_state: optax.OptState
    reward_scaler: nz.RewardScaler
    env_state: State
    tracker: EpisodeTracker
    key: Array


class AdaptiveLR(NamedTuple):
    """The optimizer state under ``adaptive_lr``: Adam's, and the rate the KL has set so far."""

    inner: optax.OptState
    learning_rate: Array
    """``[]`` float32; the rate the next update starts from."""


class TrainMetrics(NamedTuple):
    """Per-update metrics; each ``[num_updates]`` (``[seeds, num_updates]`` when vmapped).

    Loss terms are means over the minibatch steps applied in the update; ``learning_rate`` is the
    rate the update ended with (under ``adaptive_lr``, the next one's start). ``episode_*`` are
    means over the training episodes that ended in the update (NaN if none did); ``eval_*`` are
    means over ``eval_episodes`` deterministic episodes, NaN in updates without evaluation.
    """

    env_steps: Array
    total_loss: Array
    actor_loss: Array
    critic_loss: Array
    entropy: Array
    approx_kl: Array
    clip_fraction: Array
    explained_variance: Array
    learning_rate: Array
    minibatch_steps: Array
    episode_return: Array
    episode_length: Array
    episodes: Array
    eval_return: Array
    eval_return_std: Array
    eval_length: Array


ProgressFn = Callable[[Array, Array, Array], None]
"""``progress(env_steps, episode_return, eval_return)``: host callback, once per update and seed."""


class TrainResult(NamedTuple):
    """What ``train(key)`` returns."""

    policy: Policy
    metrics: TrainMetrics
    state: RunnerState


def make_network(cfg: PPOConfig, env: Env) -> ActorCritic:
    """The actor-critic that ``cfg`` describes for ``env``'s action size."""
    return ActorCritic(
        action_size=env.action_size,
        hidden_sizes=tuple(cfg.hidden_sizes),
        critic_hidden_sizes=cfg.critic_hidden_sizes,
        shared=cfg.shared_network,
        activation=cfg.activation,
    )


def heads(network: ActorCritic) -> ApplyFn:
    """``network.apply``, typed: ``(params, obs, log_std_init) -> (mean, log_std, value)``."""
    return cast(ApplyFn, network.apply)


def make_policy_fn(cfg: PPOConfig, env: Env, deterministic: bool = True) -> Callable[..., Array]:
    """``policy_fn(policy, obs [..., obs], key=None) -> action [..., act]`` (unclipped)."""
    apply = heads(make_network(cfg, env))

    def policy_fn(policy: Policy, obs: Array, key: Array | None = None) -> Array:
        x = nz.normalize(policy.obs_stats, obs, cfg.obs_clip) if cfg.normalize_obs else obs
        mean, log_std, _ = apply(policy.params, x, cfg.log_std_init)
        if deterministic:
            return mean
        if key is None:
            raise ValueError("a stochastic policy samples: give it a key")
        return sample_action(key, mean, log_std)

    return policy_fn


class Trainer:
    """The training program of one config and env; call it with a key to train.

    ``trainer(key, config=None) -> TrainResult`` runs the whole training. ``config``, if given,
    replaces the float hyperparameters of the config the trainer was made with (its static fields
    must be equal): vmap over it to sweep them. The pieces, for running in chunks:
    ``init(key, config) -> RunnerState``, ``update(runner, i, config) -> (runner, metrics)`` (one
    update) and ``run(runner, first, n, config) -> (runner, metrics)`` (updates ``first ...
    first + n - 1`` in one scan). All are pure functions of arrays: jit, vmap and scan them.

    Args:
        cfg: the configuration; validated here, before anything is traced.
        env: a single (unbatched) environment.
        progress: if given, called on the host after every update (``jax.debug.callback``; under
            ``vmap`` once per seed) with that update's env steps, training return and eval return.
    """

    def __init__(self, cfg: PPOConfig, env: Env, progress: ProgressFn | None = None):
        self.cfg = cfg.validate()
        self.env = env
        self.progress = progress
        self.network = make_network(cfg, env)
        self.train_env = wrap_for_training(env, cfg.episode_length)
        self.eval_env = wrap_for_eval(env, cfg.episode_length)

    def _config(self, config: PPOConfig | None) -> PPOConfig:
        return self.cfg if config is None else _check_same_statics(self.cfg, config)

    def init(self, key: Array, config: PPOConfig | None = None) -> RunnerState:
        """The runner state before the first update: fresh parameters, envs, statistics."""
        c, env, B = self._config(config), self.env, self.cfg.num_envs
        k_net, k_env, k_run = jax.random.split(key, 3)
        obs0 = jnp.zeros((1, env.observation_size), jnp.float32)
        params = self.network.init(k_net, obs0, c.log_std_init)
        opt_state = _optimizer(c).init(params)
        if c.adaptive_lr:
            opt_state = AdaptiveLR(opt_state, jnp.asarray(c.learning_rate, jnp.float32))
        return RunnerState(
            policy=Policy(params, nz.init_stats((env.observation_size,))),
            opt_state=opt_state,
            reward_scaler=nz.init_reward_scaler(B),
            env_state=self.train_env.reset(jax.random.split(k_env, B)),
            tracker=EpisodeTracker.create(B),
            key=k_run,
        )

    def update(
        self, runner: RunnerState, i: Array, config: PPOConfig | None = None
    ) -> tuple[RunnerState, TrainMetrics]:
        """Update ``i``: a rollout, GAE, the epochs of minibatch steps, and maybe evaluation."""
        c, env, network = self._config(config), self.env, self.network
        T, B, U = self.cfg.num_steps, self.cfg.num_envs, self.cfg.num_updates
        key, k_roll, k_epochs, k_eval = jax.random.split(runner.key, 4)
        policy = runner.policy
        sample = make_policy_fn(c, env, deterministic=False)

        env_state, tracker, traj, episodes = collect_rollout(
            self.train_env,
            lambda k, obs: sample(policy, obs, k),
            runner.env_state,
            runner.tracker,
            k_roll,
            T,
        )

        obs_stats, scaler, rewards = policy.obs_stats, runner.reward_scaler, traj.reward
        if c.normalize_obs:
            obs_stats = nz.update_stats(obs_stats, traj.obs)
        if c.normalize_reward:
            dones = jnp.maximum(traj.terminated, traj.truncated)
            scaler = nz.update_reward_scaler(scaler, rewards, dones, c.gamma)
            rewards = nz.scale_reward(scaler, rewards, c.reward_clip)
        policy = policy.replace(obs_stats=obs_stats)

        def norm(x: Array) -> Array:
            return nz.normalize(obs_stats, x, c.obs_clip) if c.normalize_obs else x

        obs = norm(traj.obs)
        mean, log_std, values = heads(network)(policy.params, obs, c.log_std_init)
        _, _, next_values = heads(network)(policy.params, norm(traj.final_obs), c.log_std_init)
        log_probs = gaussian_log_prob(mean, log_std, traj.action)
        advantages, targets = compute_gae(
            rewards, values, next_values, traj.terminated, traj.truncated, c.gamma, c.gae_lambda
        )
        batch = Minibatch(obs, traj.action, log_probs, values, advantages, targets)
        batch = jax.tree.map(lambda x: x.reshape((T * B, *x.shape[2:])), batch)

        opt_state = runner.opt_state
        if c.adaptive_lr:
            opt_state, lr = opt_state.inner, opt_state.learning_rate
        elif c.anneal_lr:
            lr = c.learning_rate * (1.0 - i / U)
        else:
            lr = jnp.asarray(c.learning_rate)
        params, opt_state, loss_info, steps, lr = _run_epochs(
            network, policy.params, opt_state, batch, k_epochs, lr, c
        )
        if c.adaptive_lr:
            opt_state = AdaptiveLR(opt_state, lr)
        policy = policy.replace(params=params)

        eval_ret, eval_std, eval_len = _maybe_evaluate(
            self.eval_env, make_policy_fn(c, env), policy, i, k_eval, c
        )
        runner = RunnerState(policy, opt_state, scaler, env_state, tracker, key)
        count = episodes.ended
        metrics = TrainMetrics(
            env_steps=(i + 1) * (T * B),
            **loss_info._asdict(),
            explained_variance=explained_variance(values, targets),
            learning_rate=lr,
            minibatch_steps=steps,
            episode_return=jnp.where(count > 0, episodes.return_sum / count, jnp.nan),
            episode_length=jnp.where(count > 0, episodes.length_sum / count, jnp.nan),
            episodes=count,
            eval_return=eval_ret,
            eval_return_std=eval_std,
            eval_length=eval_len,
        )
        if self.progress is not None:
            jax.debug.callback(self.progress, metrics.env_steps, metrics.episode_return, eval_ret)
        return runner, metrics

    def run(
        self, runner: RunnerState, first: Array, n: int, config: PPOConfig | None = None
    ) -> tuple[RunnerState, TrainMetrics]:
        """Updates ``first, ..., first + n - 1`` in one scan; metrics ``[n]`` each."""
        c = self._config(config)
        return jax.lax.scan(lambda r, i: self.update(r, i, c), runner, first + jnp.arange(n))

    def __call__(self, key: Array, config: PPOConfig | None = None) -> TrainResult:
        """The whole run from ``key``: ``num_updates`` updates in one scan."""
        c = self._config(config)
        runner, metrics = self.run(self.init(key, c), jnp.zeros((), jnp.int32), c.num_updates, c)
        return TrainResult(policy=runner.policy, metrics=metrics, state=runner)


def make_train(cfg: PPOConfig, env: Env, progress: ProgressFn | None = None) -> Trainer:
    """The training program of ``cfg`` on ``env``: ``make_train(cfg, env)(key) -> TrainResult``.

    See :class:`Trainer`; ``jax.jit(jax.vmap(make_train(cfg, env)))(keys)`` trains seeds side
    by side in one program.
    """
    return Trainer(cfg, env, progress)


def _optimizer(c: PPOConfig) -> optax.GradientTransformation:
    """Gradient clipping and Adam's scaling; the (scheduled) step size is applied by the caller."""
    return optax.chain(
        optax.clip_by_global_norm(c.max_grad_norm), optax.scale_by_adam(eps=c.adam_eps)
    )


def _run_epochs(
    network: ActorCritic,
    params: Any,
    opt_state: optax.OptState,
    batch: Minibatch,
    key: Array,
    lr: Array,
    c: PPOConfig,
) -> tuple[Any, optax.OptState, LossInfo, Array, Array]:
    """``n_epochs`` shuffled passes of minibatch steps.

    Returns:
        ``(params, opt_state, loss info, steps, lr)``: the loss info is the mean over the
        applied steps; ``lr`` is the learning rate at the end (``lr`` unchanged unless
        ``adaptive_lr``).
    """
    tx = _optimizer(c)
    n_total = batch.obs.shape[0]
    M, N = c.minibatch_size, c.num_minibatches
    grad_fn = jax.grad(lambda p, mb: ppo_loss(p, heads(network), mb, c), has_aux=True)

    def minibatch_step(carry, mb: Minibatch):
        params, opt_state, stopped, lr = carry
        grads, info = grad_fn(params, mb)
        if c.use_target_kl:  # as Stable-Baselines3: skip this and all later steps of the update
            stopped = stopped | (info.approx_kl > 1.5 * c.target_kl)
        new_lr = lr
        if c.adaptive_lr:  # after rsl_rl: the KL of the update so far sets this step's rate
            new_lr = _adapt_lr(lr, info.approx_kl, c.target_kl)
        updates, new_opt = tx.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, jax.tree.map(lambda u: -new_lr * u, updates))
        if c.use_target_kl:  # a skipped step changes nothing, the rate included
            keep = lambda new, old: jnp.where(stopped, old, new)  # noqa: E731
            new_params = jax.tree.map(keep, new_params, params)
            new_opt = jax.tree.map(keep, new_opt, opt_state)
            new_lr = keep(new_lr, lr)
        applied = 1.0 - stopped.astype(jnp.float32)
        return (new_params, new_opt, stopped, new_lr), (info, applied)

    def epoch(carry, key: Array):
        perm = jax.random.permutation(key, n_total)
        shuffled = jax.tree.map(lambda x: x[perm].reshape((N, M, *x.shape[1:])), batch)
        # on a mesh: each device takes its share of every minibatch (a no-op on one device)
        return jax.lax.scan(minibatch_step, carry, constrain_batch(shuffled, axis=1))

    carry = (params, opt_state, jnp.zeros((), bool), jnp.asarray(lr, jnp.float32))
    (params, opt_state, _, lr), (infos, applied) = jax.lax.scan(
        epoch, carry, jax.random.split(key, c.n_epochs)
    )
    steps = applied.sum()
    mean_info = jax.tree.map(lambda x: (x * applied).sum() / jnp.maximum(steps, 1.0), infos)
    return params, opt_state, mean_info, steps, lr


def _adapt_lr(lr: Array, kl: Array, target: Array | float) -> Array:
    """After rsl_rl: ``lr / 1.5`` above ``2 x target``, ``lr x 1.5`` below ``target / 2``.

    Kept within :data:`~purejaxppo.config.ADAPTIVE_LR_RANGE`; a NaN KL leaves the rate alone.
    """
    lo, hi = ADAPTIVE_LR_RANGE
    lr = jnp.where(kl > 2.0 * target, jnp.maximum(lr / 1.5, lo), lr)
    return jnp.where(kl < 0.5 * target, jnp.minimum(lr * 1.5, hi), lr)


def _maybe_evaluate(
    eval_env: Env, policy_fn: Callable, policy: Policy, i: Array, key: Array, c: PPOConfig
) -> tuple[Array, Array, Array]:
    """Deterministic return (mean, std) and mean length, every ``eval_every`` updates and last.

    NaN in the other updates.
    """
    nan = jnp.full((), jnp.nan, jnp.float32)
    if c.eval_every == 0:
        return nan, nan, nan

    def run(_):
        returns, lengths = evaluate(eval_env, lambda o: policy_fn(policy, o), key, c.eval_episodes)
        return returns.mean(), returns.std(ddof=1), lengths.mean()

    due = ((i + 1) % c.eval_every == 0) | (i == c.num_updates - 1)
    return jax.lax.cond(due, run, lambda _: (nan, nan, nan), None)


def _check_same_statics(cfg: PPOConfig, config: PPOConfig) -> PPOConfig:
    """``config`` may differ from ``cfg`` only in its float hyperparameters."""
    if not isinstance(config, PPOConfig):
        raise ConfigError(f"config must be a PPOConfig, got {type(config).__name__}")
    a, b = cfg.static_fields(), config.static_fields()
    diff = sorted(k for k in a if a[k] != b[k])
    if diff:
        raise ConfigError(
            f"the config passed to train() differs from make_train's in static fields {diff}; "
            "build a new train function with make_train for those"
        )
    return config.validate()
