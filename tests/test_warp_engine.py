"""The Warp engine (MuJoCo Warp through mujoco-mjx, on the CPU device) against C MuJoCo.

MuJoCo Warp computes in float32 with its own contact frames and integrators, so it is compared
one env step at a time, from the same states, with bounds measured per task (the module
docstring of ``purejaxppo.envs.warp.physics`` and docs/environments.md state them). Needs the
``warp`` extra (``uv sync --extra warp``); CI runs these with it (``pytest -m warp``).
"""

import importlib.util
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs.base import EnvError
from purejaxppo.envs.v5 import V5_TASKS
from tests.helpers import tiny_config

HAS_WARP = importlib.util.find_spec("warp") is not None
pytestmark = [
    pytest.mark.warp,
    pytest.mark.skipif(not HAS_WARP, reason="the warp extra: uv sync --extra warp"),
]

# Largest |warp - c| / (1 + |c|) over 24 states of random-action trajectories, per quantity.
# Reset (mj_forward) agrees to float32 round-off everywhere; one step agrees to about 1e-5 but
# for the humanoids (1e-4, 1e-3: 17-21 joints, many contacts) and Ant, whose capsule feet on the
# plane get MuJoCo Warp's own contact frames (friction pyramids turned about the normal): from
# a state in contact its velocities differ by up to about 0.5 after one step.
STEP_OBS = {"Humanoid-v5": 5e-4, "HumanoidStandup-v5": 5e-3, "Ant-v5": 2.0}
STEP_REWARD = {"Ant-v5": 0.3}


def _states(env, n_envs=8, steps=30, every=10):
    """qpos, qvel of C-engine random-action trajectories (resets included), every ``every``."""
    batched = pjp.envs.wrap_for_training(env)
    lo, hi = env.action_low, env.action_high

    def run(keys):
        def body(s, k):
            a = jax.random.uniform(k, (n_envs, env.action_size), minval=lo, maxval=hi)
            return batched.step(s, a), (s.data.qpos, s.data.qvel)

        s = batched.reset(keys)
        return jax.lax.scan(body, s, jax.random.split(jax.random.PRNGKey(1), steps))[1]

    qpos, qvel = jax.jit(run)(jax.random.split(jax.random.PRNGKey(0), n_envs))
    return qpos[::every].reshape(-1, qpos.shape[-1]), qvel[::every].reshape(-1, qvel.shape[-1])


def _from_states(env, qpos, qvel, actions):
    def one(q, v, a):
        s = env.state_from(q, v, jax.random.PRNGKey(0))
        nxt = env.step(s, a)
        return s.obs, nxt.obs, nxt.reward

    return jax.jit(jax.vmap(one))(qpos, qvel, actions)


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / (1.0 + np.abs(b))))


@pytest.mark.parametrize("env_id", V5_TASKS)
def test_one_step_from_the_same_states_is_close_to_c(env_id):
    c, w = pjp.envs.make(env_id, physics="c"), pjp.envs.make(env_id, physics="warp")
    qpos, qvel = _states(c)
    actions = jax.random.uniform(
        jax.random.PRNGKey(2), (qpos.shape[0], c.action_size), minval=c.action_low,
        maxval=c.action_high,
    )  # fmt: skip
    c_reset, c_obs, c_reward = _from_states(c, qpos, qvel, actions)
    w_reset, w_obs, w_reward = _from_states(w, qpos, qvel, actions)
    assert _rel(w_reset, c_reset) <= 1e-5
    assert _rel(w_obs, c_obs) <= STEP_OBS.get(env_id, 1e-4)
    assert _rel(w_reward, c_reward) <= STEP_REWARD.get(env_id, 1e-4)
    if env_id == "Ant-v5":  # in the air (the first states) the frames play no part
        assert _rel(w_obs[:8], c_obs[:8]) <= 1e-4


def test_running_out_of_contacts_is_flagged_and_named():
    from purejaxppo.envs.warp.physics import overflow_message

    walker = pjp.envs.make("Walker2d-v5", physics="warp", naconmax_per_env=1)  # 2 feet down
    env = pjp.envs.wrap_for_eval(walker)  # no auto-reset: the flagged states stay

    def run(keys):
        s = env.reset(keys)
        for _ in range(3):
            s = env.step(s, jax.numpy.zeros((4, walker.action_size)))
        return s

    state = jax.jit(run)(jax.random.split(jax.random.PRNGKey(0), 4))
    overflow = np.asarray(state.data.state["overflow"])
    assert (overflow > 0).any() and np.isnan(np.asarray(state.data.qpos)[overflow > 0]).all()
    message = overflow_message(overflow)
    assert message is not None and "contacts (naconmax_per_env)" in message
    assert overflow_message(np.zeros(4, np.int32)) is None


def test_a_short_run_trains_and_cross_checks_on_warp(tmp_path):
    from purejaxppo.cli import main

    cfg = tiny_config(total_timesteps=256 * 4, eval_every=2)
    args = ["train", "--env", "InvertedPendulum-v5", "--physics", "warp", "--runs-dir",
            str(tmp_path), "--crosscheck-episodes", "2", "--num-seeds", "2"]  # fmt: skip
    for name in ("total_timesteps", "num_envs", "batch_size", "minibatch_size", "eval_every"):
        args += ["--" + name.replace("_", "-"), str(getattr(cfg, name))]
    main(args)
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "run.json").read_text())["env_kwargs"]["physics"] == "warp"
    report = json.loads((run / "crosscheck.json").read_text())
    assert len(report["seeds"]) == 2 and report["engine"] == "MuJoCo Warp"
    assert all(np.isfinite(s["gymnasium"]["mean"]) for s in report["seeds"])


def test_bad_warp_settings_fail_before_anything_runs():
    with pytest.raises(EnvError, match="naconmax_per_env must be a positive integer"):
        pjp.envs.make("Hopper-v5", physics="warp", naconmax_per_env=0)
    with pytest.raises(EnvError, match="not settings of the Warp engine"):
        pjp.envs.make("Hopper-v5", physics="warp", threads=2)
    with pytest.raises(EnvError, match="size the Warp engine"):
        pjp.envs.make("Hopper-v5", physics="c", njmax=64)
    with jax.enable_x64(True), pytest.raises(EnvError, match="runs in float32"):
        pjp.envs.make("Hopper-v5", physics="warp")


@pytest.mark.parametrize("stage", ["step1", "forward"])
def test_a_task_of_ones_own_steps_on_warp_as_on_c(stage):
    """PointReach (tests/own_task.py): its stage, contacts and per-episode target on Warp."""
    from tests.own_task import PointReach

    c, w = PointReach(physics="c", stage=stage), PointReach(physics="warp", stage=stage)
    env = pjp.envs.wrap_for_eval(c)

    def run(keys):  # each env at full force one way: into a post or a wall, and held there
        s = env.reset(keys)
        push = jnp.sign(jax.random.normal(jax.random.PRNGKey(1), (16, 2)))
        return jax.lax.scan(lambda s, _: (env.step(s, push), s), s, None, length=40)[1]

    states = jax.jit(run)(jax.random.split(jax.random.PRNGKey(0), 16))
    flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), states)
    assert int((np.asarray(flat.data.ncon) > 0).sum()) >= 100
    qpos, qvel, task = flat.data.qpos, flat.data.qvel, flat.task
    actions = jax.random.uniform(jax.random.PRNGKey(2), qpos.shape, minval=-1, maxval=1)

    def one(task_env, q, v, t, a):
        start = task_env.place(pjp.envs.InitialState(qpos=q, qvel=v))
        s = task_env.begin(start, t, jax.random.PRNGKey(0))
        nxt = task_env.step(s, a)
        view = task_env.engine.view(nxt.data)
        return nxt.obs, nxt.reward, view.ncon, view.contact.dist

    outs = [
        jax.jit(jax.vmap(lambda q, v, t, a, e=e: one(e, q, v, t, a)))(qpos, qvel, task, actions)
        for e in (c, w)
    ]
    (c_obs, c_reward, c_ncon, c_dist), (w_obs, w_reward, w_ncon, w_dist) = outs
    assert _rel(w_obs, c_obs) <= 1e-4 and _rel(w_reward, c_reward) <= 1e-4
    np.testing.assert_array_equal(w_ncon, c_ncon)
    np.testing.assert_allclose(np.sort(w_dist, axis=1), np.sort(c_dist, axis=1), atol=1e-5)


def test_what_warp_computes_at_another_time_than_c_is_refused():
    from tests.own_task import XML

    class Inside(pjp.envs.MujocoTask):
        def __init__(self, **engine):
            super().__init__(XML, fields=("cacc",), stage="rne_post", **engine)

    with pytest.raises(EnvError, match="cacc and cfrc_int after the step"):
        Inside(physics="warp")
    motor = '<motor joint="x" ctrlrange="-1 1"/>'
    delayed = XML.replace(motor, motor.replace("/>", ' delay="0.02" nsample="3"/>'))
    with pytest.raises(EnvError, match="actuator or sensor delays"):
        pjp.envs.MujocoTask(delayed, physics="warp")
