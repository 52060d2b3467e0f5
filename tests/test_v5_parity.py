"""Parity of the MJX v5 tasks with Gymnasium's own (C MuJoCo), task by task.

From states Gymnasium itself produced (resets, then uniform random actions), both engines step
with the same actions; qpos, qvel, obs, reward and terminated are compared.

Bounds, float64:
* tasks without a free joint: round-off (1e-9 after one step, 1e-6 after up to 30 steps);
* Ant, Humanoid, HumanoidStandup: C MuJoCo 4.0's RK4 step of a free joint differs from the
  textbook RK4 that MJX runs by ~1e-7 per step (V5_SPEC, difference C); after one step we
  allow 1e-5 on qpos/qvel, and on forces (cfrc_ext, qfrc_actuator in the observation), which are
  stiff functions of contact penetration, 1e-5 relative to the force scale of the state plus
  1e-5 absolute; their trajectories are chaotic, so only termination is compared further on.
Float32, one step from Gymnasium's states: 1e-4 x (1 + |value|) on every quantity (float32 has
~7 digits; one frame-skipped step accumulates a few hundred roundings).
Reset: means and standard deviations of 1000 MJX reset observations against 1000 Gymnasium
resets. Each task compiles one float64 and one float32 program.
"""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs.v5 import V5_TASKS

IDS = list(V5_TASKS)
FREE_JOINT = {"Ant-v5", "Humanoid-v5", "HumanoidStandup-v5"}
TERMINATING = {
    "Hopper-v5",
    "Walker2d-v5",
    "Ant-v5",
    "Humanoid-v5",
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
}
K = 30  # steps compared from each start
N_EPISODES = 4


def gym_reference(env_id: str):
    """Episodes in Gymnasium: start states, actions, and what each step produced.

    Four episodes from resets, plus (for one-step checks) four states from the middle of
    random-action runs, picked where the robot touches the ground if it can.
    """
    genv = gym.make(env_id).unwrapped
    rng = np.random.default_rng(0)
    lo, hi = genv.action_space.low, genv.action_space.high
    starts, actions, steps = [], [], []

    def run(actions_k):
        out = {k: [] for k in ("qpos", "qvel", "obs", "reward", "terminated")}
        for a in actions_k:
            obs, reward, terminated, _, _ = genv.step(a)
            for k, v in zip(
                out, (genv.data.qpos, genv.data.qvel, obs, reward, terminated), strict=True
            ):
                out[k].append(np.array(v, dtype=np.float64))
            if terminated:
                break
        return {k: np.array(v) for k, v in out.items()}

    for seed in range(N_EPISODES):
        genv.reset(seed=seed)
        starts.append((genv.data.qpos.copy(), genv.data.qvel.copy()))
        actions.append(rng.uniform(lo, hi, size=(K, len(lo))))
        steps.append(run(actions[-1]))
    for seed in range(N_EPISODES):  # mid-episode states, in ground contact where possible
        genv.reset(seed=100 + seed)
        start = (genv.data.qpos.copy(), genv.data.qvel.copy())
        for _ in range(10 + 10 * seed):
            if genv.step(rng.uniform(lo, hi))[2]:  # terminated: keep the last live state
                break
            start = (genv.data.qpos.copy(), genv.data.qvel.copy())
            if genv.data.ncon >= 2:
                break
        genv.set_state(*start)  # both engines start from set_state, as a reset does
        starts.append(start)
        actions.append(rng.uniform(lo, hi, size=(K, len(lo))))
        steps.append(run(actions[-1][:1]))
    return starts, np.array(actions), steps


def make_roll(env):
    """``roll(qpos [N, nq], qvel [N, nv], actions [N, K, nu])`` -> per-step outputs [N, K]."""

    def one(qpos, qvel, acts):
        state = env.state_from(qpos, qvel, jax.random.PRNGKey(0))

        def step(s, a):
            s = env.step(s, a)
            return s, (s.data.qpos, s.data.qvel, s.obs, s.reward, s.terminated)

        return jax.lax.scan(step, state, acts)[1]

    return jax.jit(jax.vmap(one))


@pytest.fixture(scope="module", params=IDS)
def task(request):
    return request.param, gym_reference(request.param)


def _assert_close(name, got, ref, atol, rtol=0.0):
    err = np.abs(got - ref)
    bound = atol + rtol * np.abs(ref)
    assert np.all(err <= bound), f"{name}: max error {err.max():.3e} (bound {bound.max():.1e})"


def test_float64_parity_and_termination(task):
    env_id, (starts, actions, steps) = task
    with jax.enable_x64(True):
        env = pjp.envs.make(env_id)
        qpos = jnp.asarray(np.array([s[0] for s in starts]))
        qvel = jnp.asarray(np.array([s[1] for s in starts]))
        out = jax.tree.map(np.asarray, make_roll(env)(qpos, qvel, jnp.asarray(actions)))
    fields = ("qpos", "qvel", "obs", "reward")
    for i, ref in enumerate(steps):
        n = len(ref["reward"])
        got = dict(zip((*fields, "terminated"), (x[i, :n] for x in out), strict=True))
        if env_id in FREE_JOINT:
            scale = np.abs(ref["obs"][0]).max()
            _assert_close(f"{env_id} ep{i} qpos[1]", got["qpos"][0], ref["qpos"][0], 1e-5)
            _assert_close(f"{env_id} ep{i} qvel[1]", got["qvel"][0], ref["qvel"][0], 1e-5)
            _assert_close(
                f"{env_id} ep{i} obs[1]", got["obs"][0], ref["obs"][0], 1e-5 + 1e-5 * scale
            )
            _assert_close(
                f"{env_id} ep{i} reward[1]",
                got["reward"][0],
                ref["reward"][0],
                1e-5 + 1e-5 * abs(ref["reward"][0]),
            )
        else:
            for f in fields:
                _assert_close(f"{env_id} ep{i} {f}[1]", got[f][0], ref[f][0], 1e-9, 1e-9)
                _assert_close(f"{env_id} ep{i} {f}[1:{n}]", got[f], ref[f], 1e-6, 1e-6)
        # termination on the same step (and never earlier)
        np.testing.assert_array_equal(
            got["terminated"] > 0, ref["terminated"], err_msg=f"{env_id} episode {i}"
        )
    if env_id in TERMINATING - {"Ant-v5"}:  # random actions topple these within K steps
        assert any(ref["terminated"][-1] for ref in steps[:N_EPISODES]), env_id


def test_float32_step_reset_distribution_and_training_rollout(task):
    env_id, (starts, actions, steps) = task
    env = pjp.envs.make(env_id)
    train_env = pjp.envs.wrap_for_training(env)
    M, T = 1000, 60

    def program(keys, qpos, qvel, first_actions, key):
        # One program, one copy of the physics step: the training stack (clip, time limit,
        # vmap, auto-reset) starts from Gymnasium's states; its first step is the parity check.
        reset_obs = jax.vmap(env.reset)(keys).obs
        state = jax.vmap(env.state_from, in_axes=(0, 0, None))(qpos, qvel, key)

        def step(s, xs):
            k, t = xs
            a = jax.random.uniform(k, first_actions.shape, minval=-2.0, maxval=2.0)
            a = jnp.where(t == 0, first_actions, a * env.action_high)
            s = train_env.step(s, a)
            return s, (s.data.qpos, s.data.qvel, s.obs, s.reward, s.done)

        _, rollout = jax.lax.scan(step, state, (jax.random.split(key, T), jnp.arange(T)))
        return reset_obs, rollout

    f32 = lambda x: jnp.asarray(np.asarray(x), jnp.float32)  # noqa: E731
    reset_obs, (qpos, qvel, obs, rew, done) = jax.jit(program)(
        jax.random.split(jax.random.PRNGKey(1), M),
        f32([s[0] for s in starts]),
        f32([s[1] for s in starts]),
        f32(actions[:, 0]),
        jax.random.PRNGKey(2),
    )
    # every task: shapes, dtype, no NaN through the training wrappers
    B = len(starts)
    assert obs.shape == (T, B, env.observation_size) and obs.dtype == jnp.float32
    assert rew.shape == (T, B) and np.all(np.isfinite(obs)) and np.all(np.isfinite(rew))
    if env_id == "Reacher-v5":
        assert np.any(done)  # its 50-step time limit fired within the 60 steps

    # the first float32 step from each of Gymnasium's states
    for i, ref in enumerate(steps):
        for f, got in (("qpos", qpos), ("qvel", qvel), ("obs", obs), ("reward", rew)):
            r = ref[f][0]
            scale = np.abs(ref["obs"][0]).max() if (f == "obs" and env_id in FREE_JOINT) else 0
            _assert_close(
                f"f32 {env_id} ep{i} {f}",
                np.asarray(got[0, i], np.float64),
                r,
                1e-4 * (1 + scale),
                1e-4,
            )

    # reset distribution against Gymnasium's
    genv = gym.make(env_id)
    gym_obs = np.array([genv.reset(seed=s)[0] for s in range(M)])
    mj = np.asarray(reset_obs, np.float64)
    g_mean, g_std, m_mean, m_std = gym_obs.mean(0), gym_obs.std(0), mj.mean(0), mj.std(0)
    se = np.sqrt((g_std**2 + m_std**2) / M)
    _assert_close(f"{env_id} reset mean", m_mean, g_mean, 6 * se + 1e-5)
    _assert_close(f"{env_id} reset std", m_std, g_std, 1e-5, 0.1)
