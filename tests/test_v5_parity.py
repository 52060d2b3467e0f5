"""Parity of the MJX v5 tasks with Gymnasium's own (C MuJoCo), task by task.

From states Gymnasium itself produced (resets, then uniform random actions), both engines step
with the same actions; qpos, qvel, obs, reward and terminated are compared.

Bounds, float64:
* every task but the two Humanoids: round-off (1e-9 after one step, 1e-6 after up to 30 steps).
  Ant-v5 included, from reset and from ground-contact states, since our MJX runs C MuJoCo 4.0's
  RK4 for free joints (``purejaxppo/envs/mjx/rk4.py``; before it, one step from some contact
  states differed by up to 0.37 in qvel).
* Humanoid, HumanoidStandup: their XMLs ask for the PGS solver, which MJX lacks; we run Newton,
  which converges to the same constraint forces that 50 PGS iterations approach. Over 64 random
  states one step differed by at most 6e-6 in qpos, 3.2e-4 in qvel, 1.6e-4 x (1 + obs scale) in
  the observation and 1.4e-3 relative in reward; the bounds are 2e-5, 1e-3, 5e-4 and 5e-3.
  Their trajectories are chaotic, so only termination is compared further on.
Float32, one step from Gymnasium's states: 1e-4 x (1 + |value|) on every quantity (float32 has
~7 digits; one frame-skipped step accumulates a few hundred roundings).
Reset: the observation from Gymnasium's own reset states equals Gymnasium's (float64,
round-off); the sampled qpos and qvel of 400 resets match Gymnasium's 400 in means (within 6
standard errors) and standard deviations (within 20%).
Each task compiles one float64 and one float32 program. The float32 one runs the physics as
training does; the float64 one keeps MJX's vmapped constraint solver instead of our env-by-env
one on CPU (``envs/mjx/speed.py``), which gives the same values (tests/test_mjx_fixes.py) and
compiles about twice as slowly: one program per task with it keeps the suite's time in bounds.
"""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs.mjx.speed import vmapped_solver
from purejaxppo.envs.v5 import V5_TASKS

pytestmark = pytest.mark.parity

IDS = list(V5_TASKS)
PGS_IN_C = {"Humanoid-v5", "HumanoidStandup-v5"}  # Newton here: a bound, not round-off
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
    starts, actions, steps, reset_obs = [], [], [], []

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
        reset_obs.append(genv.reset(seed=seed)[0])
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
    return starts, np.array(actions), steps, np.array(reset_obs)


def make_roll(env):
    """``roll(qpos [N, nq], qvel [N, nv], actions [N, K, nu])`` -> per-step outputs [N, K]."""

    def one(qpos, qvel, acts):
        state = env.state_from(qpos, qvel, jax.random.PRNGKey(0))

        def step(s, a):
            s = env.step(s, a)
            return s, (s.data.qpos, s.data.qvel, s.obs, s.reward, s.terminated)

        return state.obs, jax.lax.scan(step, state, acts)[1]

    return jax.jit(jax.vmap(one))


@pytest.fixture(scope="module", params=IDS)
def task(request):
    return request.param, gym_reference(request.param)


def _assert_close(name, got, ref, atol, rtol=0.0):
    err = np.abs(got - ref)
    bound = atol + rtol * np.abs(ref)
    assert np.all(err <= bound), f"{name}: max error {err.max():.3e} (bound {bound.max():.1e})"


def test_float64_parity_and_termination(task):
    env_id, (starts, actions, steps, reset_obs) = task
    with jax.enable_x64(True), vmapped_solver():
        env = pjp.envs.make(env_id, physics="mjx")
        qpos = jnp.asarray(np.array([s[0] for s in starts]))
        qvel = jnp.asarray(np.array([s[1] for s in starts]))
        obs0, out = jax.tree.map(np.asarray, make_roll(env)(qpos, qvel, jnp.asarray(actions)))
    for i in range(N_EPISODES):  # the observation Gymnasium's reset returned, from the same state
        _assert_close(f"{env_id} reset obs ep{i}", obs0[i], reset_obs[i], 1e-9, 1e-9)
    fields = ("qpos", "qvel", "obs", "reward")
    for i, ref in enumerate(steps):
        n = len(ref["reward"])
        got = dict(zip((*fields, "terminated"), (x[i, :n] for x in out), strict=True))
        if env_id in PGS_IN_C:
            scale = np.abs(ref["obs"][0]).max()
            for f, bound in (("qpos", 2e-5), ("qvel", 1e-3), ("obs", 5e-4 * (1 + scale))):
                _assert_close(f"{env_id} ep{i} {f}[1]", got[f][0], ref[f][0], bound)
            r = ref["reward"][0]
            _assert_close(f"{env_id} ep{i} reward[1]", got["reward"][0], r, 5e-3 * (1 + abs(r)))
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
    env_id, (starts, actions, steps, _) = task
    env = pjp.envs.make(env_id, physics="mjx")
    train_env = pjp.envs.wrap_for_training(env)
    # Reacher's 50-step limit must fire
    M, T = 400, {"Reacher-v5": 52}.get(env_id, 20)

    def program(keys, qpos, qvel, first_actions, key):
        # One program, one copy of the physics step: the training stack (clip, time limit,
        # vmap, auto-reset) starts from Gymnasium's states; its first step is the parity check.
        drawn = jax.vmap(env.initial_state)(keys)
        reset_qpos, reset_qvel = drawn.qpos, drawn.qvel
        state = jax.vmap(env.state_from, in_axes=(0, 0, None))(qpos, qvel, key)

        def step(s, xs):
            k, t = xs
            a = jax.random.uniform(k, first_actions.shape, minval=-2.0, maxval=2.0)
            a = jnp.where(t == 0, first_actions, a * env.action_high)
            s = train_env.step(s, a)
            return s, (s.data.qpos, s.data.qvel, s.final_obs, s.reward, s.done)

        _, rollout = jax.lax.scan(step, state, (jax.random.split(key, T), jnp.arange(T)))
        return (reset_qpos, reset_qvel), rollout

    f32 = lambda x: jnp.asarray(np.asarray(x), jnp.float32)  # noqa: E731
    reset_state, (qpos, qvel, obs, rew, done) = jax.jit(program)(
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
        assert np.any(done)  # its 50-step time limit fired within the 52 steps

    # the first float32 step from each of Gymnasium's states (an episode that ended there was
    # auto-reset, so its qpos and qvel are the new episode's: compare its final_obs only)
    for i, ref in enumerate(steps):
        checks = [("obs", obs), ("reward", rew)]
        if not done[0, i]:
            checks += [("qpos", qpos), ("qvel", qvel)]
        for f, got in checks:
            r = ref[f][0]
            scale = np.abs(ref["obs"][0]).max() if (f == "obs" and env_id in PGS_IN_C) else 0
            _assert_close(
                f"f32 {env_id} ep{i} {f}",
                np.asarray(got[0, i], np.float64),
                r,
                1e-4 * (1 + scale),
                1e-4,
            )

    # reset distribution (the sampled qpos and qvel) against Gymnasium's
    genv = gym.make(env_id).unwrapped
    gym_reset = []
    for seed in range(M):
        genv.reset(seed=seed)
        gym_reset.append(np.concatenate([genv.data.qpos, genv.data.qvel]))
    gym_reset = np.array(gym_reset)
    mj = np.concatenate([np.asarray(x, np.float64) for x in reset_state], axis=1)
    g_mean, g_std, m_mean, m_std = gym_reset.mean(0), gym_reset.std(0), mj.mean(0), mj.std(0)
    se = np.sqrt((g_std**2 + m_std**2) / M)
    _assert_close(f"{env_id} reset mean", m_mean, g_mean, 6 * se + 1e-6)
    _assert_close(f"{env_id} reset std", m_std, g_std, 1e-6, 0.2)
