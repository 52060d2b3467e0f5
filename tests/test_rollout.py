"""collect_rollout and evaluate on probe environments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs import probes
from purejaxppo.rollout import EpisodeTracker, collect_rollout
from tests.helpers import while_loops

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


class RandomEnd(probes.TruncationProbe):
    """Reward 1 per step; each step ends the episode with probability 0.3."""

    def step(self, state, action):
        nxt = super().step(state, action)
        return nxt.replace(terminated=jax.random.bernoulli(state.rng, 0.3).astype(jnp.float32))


def test_evaluate_forms_agree_and_a_gpu_program_has_no_data_dependent_loop():
    """``while`` (early exit) and ``scan`` (episode-length steps, ended episodes masked) give the
    same returns and lengths; ``auto`` lowers to the while loop for the CPU, the scan for CUDA."""
    env = pjp.envs.wrap_for_eval(RandomEnd(episode_length=9))

    def run(key, loop):
        return pjp.evaluate(env, lambda o: jnp.zeros((o.shape[0], 1)), key, 8, loop)

    key = jax.random.PRNGKey(3)
    (r_while, l_while), (r_scan, l_scan) = (jax.jit(run, static_argnums=1)(key, f)
                                            for f in ("while", "scan"))  # fmt: skip
    np.testing.assert_array_equal(r_while, r_scan)
    np.testing.assert_array_equal(l_while, l_scan)
    np.testing.assert_array_equal(r_while, l_while)  # reward 1 per step of the episode
    assert len(set(np.asarray(l_while).tolist())) > 2  # episodes of different lengths
    with pytest.raises(ValueError, match="choose one of auto, while, scan"):
        run(key, "for")

    def lowered(platform: str) -> str:
        jitted = jax.jit(lambda k: run(k, "auto"))
        return jax.export.export(jitted, platforms=[platform])(key).mlir_module()

    assert while_loops(lowered("cpu"))[1] == 1
    assert while_loops(lowered("cuda")) == (1, 0)
