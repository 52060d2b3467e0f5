"""collect_rollout and evaluate on probe environments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs import probes
from purejaxppo.rollout import EpisodeTracker, collect_rollout

pytestmark = pytest.mark.unit


def test_rollout_shapes_and_episode_stats(maybe_jit):
    env = pjp.envs.wrap_for_training(probes.TruncationProbe(episode_length=5))
    state = env.reset(jax.random.split(jax.random.PRNGKey(0), 3))

    def run(state, tracker, key):
        return collect_rollout(
            env, lambda k, o: jnp.zeros((o.shape[0], 1)), state, tracker, key, 12
        )

    state, tracker, traj, stats = maybe_jit(run)(
        state, EpisodeTracker.create(3), jax.random.PRNGKey(1)
    )
    assert traj.obs.shape == (12, 3, 1) and traj.reward.shape == (12, 3)
    # episodes of 5 steps: 2 completed per env in 12 steps, each with return 5
    assert (
        float(stats.ended) == 6 and float(stats.return_sum) == 30 and float(stats.length_sum) == 30
    )
    np.testing.assert_array_equal(traj.truncated[:, 0], [0, 0, 0, 0, 1] * 2 + [0, 0])
    np.testing.assert_allclose(tracker.episode_length, 2.0)


def test_evaluate_runs_each_episode_to_its_end(maybe_jit):
    env = pjp.envs.wrap_for_eval(probes.TruncationProbe(episode_length=7))
    returns, lengths = maybe_jit(
        lambda k: pjp.evaluate(env, lambda o: jnp.zeros((o.shape[0], 1)), k, 4)
    )(jax.random.PRNGKey(0))
    np.testing.assert_allclose(returns, 7.0)
    np.testing.assert_allclose(lengths, 7.0)
    env = pjp.envs.wrap_for_eval(probes.ActionReward())
    returns, lengths = pjp.evaluate(
        env, lambda o: jnp.full((o.shape[0], 1), 0.5), jax.random.PRNGKey(0), 2
    )
    np.testing.assert_allclose(lengths, 1.0)
    np.testing.assert_allclose(returns, 0.0, atol=1e-7)
