"""The env contract, the training wrappers, the registry and the Brax adapter."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs import probes, wrappers
from tests.helpers import tiny_config

pytestmark = pytest.mark.unit


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


def test_any_anywhere_is_one_flag_across_vmaps_and_keeps_the_cond_a_branch():
    runs = []

    def step(done):  # done [B]: a cond on "some env is done", as AutoReset's
        def heavy(x):
            jax.debug.callback(lambda: runs.append(1))
            return x + 1

        return jax.lax.cond(wrappers.any_anywhere(done), heavy, lambda x: x, done.astype(int))

    f = jax.jit(jax.vmap(jax.vmap(lambda d: jax.lax.map(step, d))))  # [S1, S2, T, B]
    done = np.zeros((2, 3, 4, 5), bool)
    jax.block_until_ready(f(done))
    assert runs == []  # never done: the branch never ran (a batched cond would run it always)
    done[1, 2, 3, 4] = True  # one env, one step, one seed
    out = np.asarray(f(done))
    assert len(runs) == 1  # the branch ran once, for the whole nested batch, on that step
    assert out[:, :, 3].min() == 1 and out[:, :, :3].max() == 0  # ...and no other step
    # and the trainer's auto-reset stays a branch under vmap over seeds
    cfg = tiny_config(total_timesteps=256, eval_every=0)
    train = pjp.make_train(cfg, probes.ConstantReward())
    jaxpr = str(jax.make_jaxpr(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 2)))
    assert "cond[" in jaxpr


def test_vmap_wrapper_folds_outer_vmaps_into_its_batch():
    shapes = []

    def batched(x, y):  # [B], [B]
        shapes.append((x.shape, y.shape))
        return {"sum": x + y, "x": x}

    f = wrappers.fold_outer_vmaps(batched)
    x = jnp.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    y = jnp.arange(4.0) * 100  # unbatched at both outer levels
    out = jax.vmap(jax.vmap(f, in_axes=(0, None)), in_axes=(0, None))(x, y)
    # traced per level on the way in; the last trace, the one run, is the folded 2 x 3 x 4
    assert shapes[-1] == ((24,), (24,))
    np.testing.assert_array_equal(out["sum"], x + y)
    np.testing.assert_array_equal(out["x"], x)
    # the env wrapper: seeds vmapped over an env batch give each env's own reset
    env = pjp.envs.Vmap(probes.ObservationReward())
    keys = jax.random.split(jax.random.PRNGKey(2), 6).reshape(2, 3, 2)
    folded = jax.jit(jax.vmap(env.reset))(keys)
    flat = env.reset(keys.reshape(6, 2))
    np.testing.assert_array_equal(folded.obs.reshape(6, -1), flat.obs)


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
