"""The env contract, the training wrappers, the registry and the Brax adapter."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs import probes


def test_time_limit_truncates_and_auto_reset_is_fresh(maybe_jit):
    env = pjp.envs.wrap_for_training(probes.TruncationProbe(episode_length=3))
    state = maybe_jit(env.reset)(jax.random.split(jax.random.PRNGKey(0), 4))
    step = maybe_jit(env.step)
    flags = []
    for _ in range(7):
        state = step(state, jnp.zeros((4, 1)))
        flags.append((float(state.truncated[0]), float(state.terminated[0]), int(state.step[0])))
    # truncated on steps 3 and 6, never terminated; the step counter restarts after each reset
    assert flags == [(0, 0, 1), (0, 0, 2), (1, 0, 0), (0, 0, 1), (0, 0, 2), (1, 0, 0), (0, 0, 1)]


def test_auto_reset_draws_new_random_initial_states():
    env = pjp.envs.wrap_for_training(probes.ObservationReward())
    state = env.reset(jax.random.split(jax.random.PRNGKey(1), 256))
    first = np.asarray(state.obs)
    state = env.step(state, jnp.zeros((256, 1)))  # every episode ends after one step
    assert np.all(state.terminated == 1) and np.all(state.step == 0)
    # a stored first state would repeat `first`; fresh resets redraw (about half differ)
    assert 0.3 < np.mean(np.asarray(state.obs) != first) < 0.7
    # the rng of each env advanced, so the next reset differs again
    state2 = env.step(state, jnp.zeros((256, 1)))
    assert 0.3 < np.mean(np.asarray(state2.obs) != np.asarray(state.obs)) < 0.7


def test_final_obs_is_pre_reset_observation():
    class Counter(probes._Probe):
        terminates = False

        def step(self, state, action):
            return state.replace(
                obs=state.obs + 1.0, reward=jnp.float32(1.0), terminated=jnp.float32(0.0)
            )

    env = pjp.envs.wrap_for_training(Counter(episode_length=2))
    state = env.step(
        env.step(env.reset(jax.random.split(jax.random.PRNGKey(0), 2)), jnp.zeros((2, 1))),
        jnp.zeros((2, 1)),
    )
    np.testing.assert_allclose(state.final_obs[:, 0], 2.0)  # where the episode ended
    np.testing.assert_allclose(state.obs[:, 0], 0.0)  # the new episode's first obs


def test_termination_wins_over_truncation_at_the_limit():
    env = pjp.envs.wrap_for_training(probes.ConstantReward(episode_length=1))
    state = env.step(env.reset(jax.random.split(jax.random.PRNGKey(0), 2)), jnp.zeros((2, 1)))
    assert np.all(state.terminated == 1) and np.all(state.truncated == 0)


def test_clip_action():
    env = pjp.envs.ClipAction(probes.ActionReward())
    state = env.reset(jax.random.PRNGKey(0))
    # clipped to 1: reward -(1 - 0.5)^2 instead of -(5 - 0.5)^2
    assert float(env.step(state, jnp.array([5.0])).reward) == pytest.approx(-0.25)


def test_unknown_id_names_close_matches():
    with pytest.raises(pjp.envs.UnknownEnvError, match="brax/halfcheetah"):
        pjp.envs.make("brax/halfchetah")
    with pytest.raises(pjp.envs.UnknownEnvError, match="probe/constant"):
        pjp.envs.make("probe/constnt")


def test_registry_lists_probes_and_brax():
    ids = pjp.envs.registered_ids()
    assert {"probe/constant", "probe/truncation", "brax/ant", "brax/halfcheetah"} <= set(ids)


def test_brax_adapter_contract():
    env = pjp.envs.make("brax/inverted_pendulum", backend="positional")
    assert (env.observation_size, env.action_size) == (4, 1)
    batched = pjp.envs.wrap_for_training(env)
    state = jax.jit(batched.reset)(jax.random.split(jax.random.PRNGKey(0), 3))
    assert state.obs.shape == (3, 4) and state.reward.shape == (3,)
    step = jax.jit(batched.step)
    for _ in range(30):
        state = step(state, jnp.ones((3, 1)))
        assert np.all(np.isfinite(state.obs))
    # pushing one way topples the pole: terminated, then reset
    assert state.step.max() < 30
    with pytest.raises(ValueError, match="backend"):
        pjp.envs.make("brax/ant", backend="warp-drive")
