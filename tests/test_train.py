"""make_train end to end: probes learn their known values; vmap, sweeps, no retrace; Brax learns."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs import probes
from tests.helpers import tiny_config

pytestmark = pytest.mark.unit


def train_and_apply(env, cfg, obs, seed=0):
    result = jax.jit(pjp.make_train(cfg, env))(jax.random.PRNGKey(seed))
    net = pjp.make_network(cfg, env)
    mean, _, value = net.apply(
        result.policy.params, jnp.asarray(obs, jnp.float32), cfg.log_std_init
    )
    return result, np.asarray(mean[:, 0]), np.asarray(value)


def test_probe_constant_reward_value_is_one():
    _, _, value = train_and_apply(probes.ConstantReward(), tiny_config(), [[0.0]])
    assert value[0] == pytest.approx(1.0, abs=0.05)


def test_probe_observation_dependent_value():
    _, _, value = train_and_apply(probes.ObservationReward(), tiny_config(), [[1.0], [-1.0]])
    np.testing.assert_allclose(value, [1.0, -1.0], atol=0.1)


def test_probe_action_dependent_reward_learns_the_best_action():
    result, mean, _ = train_and_apply(probes.ActionReward(), tiny_config(), [[0.0]])
    assert mean[0] == pytest.approx(0.5, abs=0.05)
    assert result.metrics.eval_return[-1] > -0.01  # deterministic policy near the optimum


def test_probe_truncation_is_bootstrapped():
    # ended only by a 20-step time limit: V = 1 / (1 - 0.9) = 10 everywhere, only if truncations
    # bootstrap (as terminations, V would average about 6.4 over the episode's steps).
    _, _, value = train_and_apply(probes.TruncationProbe(20), tiny_config(gamma=0.9), [[0.0]])
    assert value[0] == pytest.approx(10.0, abs=0.6)


def test_metrics_shapes_and_eval_schedule():
    cfg = tiny_config(total_timesteps=256 * 10, eval_every=4)
    result = jax.jit(pjp.make_train(cfg, probes.ConstantReward()))(jax.random.PRNGKey(0))
    m = result.metrics
    assert all(np.shape(x) == (10,) for x in m)
    evaluated = ~np.isnan(np.asarray(m.eval_return))
    np.testing.assert_array_equal(np.flatnonzero(evaluated), [3, 7, 9])  # every 4th, and the last
    np.testing.assert_array_equal(m.env_steps, 256 * np.arange(1, 11))
    assert np.all(m.minibatch_steps == 16) and np.all(np.isfinite(m.actor_loss))


@pytest.fixture(scope="module")
def obs_probe_train():
    cfg = tiny_config(total_timesteps=256 * 2, normalize_obs=True, normalize_reward=True)
    return cfg, pjp.make_train(cfg, probes.ObservationReward())


def test_vmap_over_seeds_equals_single_runs(obs_probe_train):
    _, train = obs_probe_train
    keys = jax.random.split(jax.random.PRNGKey(3), 2)
    both = jax.jit(jax.vmap(train))(keys)
    for i in range(2):
        single = jax.jit(train)(keys[i])
        for a, b in zip(jax.tree.leaves(single.policy), jax.tree.leaves(both.policy), strict=True):
            np.testing.assert_allclose(a, b[i], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            single.metrics.actor_loss, both.metrics.actor_loss[i], rtol=1e-4, atol=1e-6
        )


def test_second_call_does_not_retrace_even_with_new_hyperparameters(obs_probe_train):
    cfg, train = obs_probe_train
    traces = []

    def counted(key, config):
        traces.append(1)
        return train(key, config)

    f = jax.jit(counted)
    r1 = f(jax.random.PRNGKey(0), cfg)
    r2 = f(jax.random.PRNGKey(1), cfg.replace(learning_rate=1e-2, clip_epsilon=0.1))
    jax.block_until_ready((r1, r2))
    assert len(traces) == 1
    assert not np.allclose(r1.metrics.actor_loss, r2.metrics.actor_loss)


def test_sweep_by_vmap_over_configs_equals_separate_runs(obs_probe_train):
    cfg, train = obs_probe_train
    configs = [cfg.replace(learning_rate=1e-3), cfg.replace(learning_rate=1e-2, gamma=0.5)]
    key = jax.random.PRNGKey(7)
    swept = jax.jit(jax.vmap(train, in_axes=(None, 0)))(key, pjp.stack_configs(configs))
    for i, c in enumerate(configs):
        single = jax.jit(train)(key, c)
        np.testing.assert_allclose(
            single.metrics.critic_loss, swept.metrics.critic_loss[i], rtol=1e-4, atol=1e-6
        )


def test_static_mismatch_and_invalid_config_fail_before_compiling(obs_probe_train):
    cfg, train = obs_probe_train
    with pytest.raises(pjp.ConfigError, match="num_envs"):
        train(jax.random.PRNGKey(0), cfg.replace(num_envs=4))
    with pytest.raises(pjp.ConfigError, match="minibatch_size"):
        pjp.make_train(cfg.replace(minibatch_size=100), probes.ConstantReward())


def test_target_kl_stops_the_update_early():
    cfg = tiny_config(
        total_timesteps=256 * 3,
        use_target_kl=True,
        target_kl=1e-6,
        learning_rate=1e-2,
        eval_every=0,
    )
    m = jax.jit(pjp.make_train(cfg, probes.ActionReward()))(jax.random.PRNGKey(0)).metrics
    assert np.all(m.minibatch_steps < cfg.n_epochs * cfg.num_minibatches)
    assert np.all(m.minibatch_steps >= 1) and np.all(np.isnan(m.eval_return))


def test_annealed_learning_rate_reported():
    cfg = tiny_config(
        total_timesteps=256 * 4,
        anneal_lr=True,
        learning_rate=1e-3,
        eval_every=0,
        shared_network=False,
    )
    m = jax.jit(pjp.make_train(cfg, probes.ConstantReward()))(jax.random.PRNGKey(0)).metrics
    np.testing.assert_allclose(m.learning_rate, [1e-3, 7.5e-4, 5e-4, 2.5e-4], rtol=1e-5)


def test_adaptive_learning_rate_rule():
    from purejaxppo.train import _adapt_lr

    lo, hi = pjp.config.ADAPTIVE_LR_RANGE
    target = jnp.float32(0.01)
    rates = [_adapt_lr(jnp.float32(1e-3), jnp.float32(kl), target) for kl in (0.03, 0.001, 0.01)]
    np.testing.assert_allclose(rates, [1e-3 / 1.5, 1.5e-3, 1e-3], rtol=1e-6)
    assert _adapt_lr(jnp.float32(lo), jnp.float32(1.0), target) == pytest.approx(lo)
    assert _adapt_lr(jnp.float32(hi), jnp.float32(0.0), target) == pytest.approx(hi)
    assert _adapt_lr(jnp.float32(1e-3), jnp.float32(jnp.nan), target) == pytest.approx(1e-3)


def test_adaptive_learning_rate_follows_the_kl_and_is_carried_between_chunks():
    cfg = tiny_config(total_timesteps=256 * 4, adaptive_lr=True, learning_rate=1e-3, eval_every=0)
    env = probes.ActionReward()
    trainer = pjp.make_train(cfg, env)
    whole = jax.jit(trainer)(jax.random.PRNGKey(0)).metrics.learning_rate
    # a KL target nothing reaches: every step raises the rate, up to the range's top
    loose = jax.jit(trainer)(jax.random.PRNGKey(0), cfg.replace(target_kl=1e3))
    np.testing.assert_allclose(loose.metrics.learning_rate, pjp.config.ADAPTIVE_LR_RANGE[1])
    # one every step past an update's first exceeds: the rate falls to the range's bottom
    tight = jax.jit(trainer)(jax.random.PRNGKey(0), cfg.replace(target_kl=1e-9)).metrics
    np.testing.assert_allclose(tight.learning_rate, pjp.config.ADAPTIVE_LR_RANGE[0], rtol=1e-6)
    # the rate lives in the runner state: two chunks of two updates give the whole run's
    run = jax.jit(trainer.run, static_argnums=2)
    runner, first = run(trainer.init(jax.random.PRNGKey(0)), jnp.int32(0), 2)
    _, second = run(runner, jnp.int32(2), 2)
    chunks = np.concatenate([first.learning_rate, second.learning_rate])
    np.testing.assert_allclose(chunks, whole, rtol=1e-6)
    assert len(set(np.asarray(whole).tolist())) > 1  # it moved


def test_adaptive_learning_rate_stops_with_the_update():
    # a KL limit nothing passes but the first step of each update (KL 0): that step raises the
    # rate, and the skipped steps leave it alone
    cfg = tiny_config(total_timesteps=256 * 4, adaptive_lr=True, use_target_kl=True,
                      target_kl=1e-9, learning_rate=1e-3, eval_every=0)  # fmt: skip
    m = jax.jit(pjp.make_train(cfg, probes.ActionReward()))(jax.random.PRNGKey(0)).metrics
    np.testing.assert_array_equal(m.minibatch_steps, 1)
    np.testing.assert_allclose(m.learning_rate, 1e-3 * 1.5 ** np.arange(1, 5), rtol=1e-5)


def test_adaptive_learning_rate_is_checked_before_compiling():
    with pytest.raises(pjp.ConfigError, match="choose one"):
        tiny_config(adaptive_lr=True, anneal_lr=True).validate()
    with pytest.raises(pjp.ConfigError, match="adaptive_lr's range"):
        tiny_config(adaptive_lr=True, learning_rate=0.1).validate()


@pytest.mark.slow
def test_brax_inverted_pendulum_learns():
    env = pjp.envs.make("brax/inverted_pendulum", backend="positional")
    cfg = pjp.PPOConfig(
        total_timesteps=40_960, num_envs=16, batch_size=1024, eval_every=10, eval_episodes=8
    )
    m = jax.jit(pjp.make_train(cfg, env))(jax.random.PRNGKey(0)).metrics
    # a random policy keeps the pole up for about 20 steps; the time limit is 1000
    first = float(np.nanmean(np.asarray(m.episode_return[:2])))
    final = float(m.eval_return[-1])
    assert first < 60
    assert final > 500, (first, final)
