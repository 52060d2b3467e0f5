"""A task of a user's own (tests/own_task.py) on the public task API: exact, trained, refused.

PointReach's episodes on the C engine equal its NumPy twin's (the ``mujoco`` bindings) step for
step in float64, for every stage, auto-resets included; its reset draws again until nothing
touches, keeps a target per episode, settles, and sets the state beyond qpos and qvel; every
bad input is refused by name before anything runs.
"""

import textwrap

import gymnasium as gym
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs import EnvError, InitialState, MujocoTask, Outcome
from tests.helpers import tiny_config
from tests.own_task import POSTS, XML, PointReach

pytestmark = pytest.mark.envs

B = 4  # envs side by side


def _episodes(stage: str, steps: int = 130):
    """The float64 training stack of PointReach on random actions (auto-resets on the way)."""
    with jax.enable_x64(True):
        env = PointReach(stage=stage, physics="c")
        stack = pjp.envs.wrap_for_training(env)
        actions = np.random.default_rng(0).uniform(-1.2, 1.2, (steps, B, 2))

        def program(key, actions):
            start = stack.reset(jax.random.split(key, B))

            def step(s, a):
                s = stack.step(s, a)
                out = (s.obs, s.final_obs, s.reward, s.truncated, s.info, s.task["target"])
                return s, (*out, s.data.qpos, s.data.ncon, s.data.contact.dist)

            return start, jax.lax.scan(step, start, actions)[1]

        start, out = jax.jit(program)(jax.random.PRNGKey(1), jnp.asarray(actions))
    return actions, jax.tree.map(np.asarray, (start, out))


@pytest.mark.parametrize("stage", pjp.envs.STAGES)
def test_episodes_equal_the_numpy_twin_step_for_step(stage):
    actions, (start, out) = _episodes(stage)
    obs, final_obs, reward, truncated, info, target, qpos, ncon, dist = out
    twin = gym.make("tests/PointReach-v0", stage=stage).unwrapped
    touched = 0
    for b in range(B):
        first = twin.start(start.data.qpos[b], start.task["target"][b])
        np.testing.assert_array_equal(start.obs[b], first)
        for t in range(len(actions)):
            g_obs, g_reward, _, _, g_info = twin.step(np.clip(actions[t, b], -1, 1))  # ClipAction
            where = f"stage {stage} env {b} step {t}"
            np.testing.assert_array_equal(final_obs[t, b], g_obs, err_msg=where)
            assert abs(reward[t, b] - g_reward) <= 1e-12 * (1 + abs(g_reward)), where
            assert info["touching"][t, b] == g_info["touching"], where
            if not truncated[t, b]:  # (at the limit the data is the next episode's)
                assert ncon[t, b] == twin.data.ncon, where
                n = min(twin.data.ncon, 4)
                np.testing.assert_array_equal(dist[t, b, :n], twin.data.contact.dist[:n], where)
                assert np.all(np.isinf(dist[t, b, n:])), where  # padding
                touched += twin.data.ncon > 0
            else:  # a fresh episode: its own mass position and target
                first = twin.start(qpos[t, b], target[t, b])
                np.testing.assert_array_equal(obs[t, b], first, err_msg=f"{where} auto-reset")
                assert not np.array_equal(target[t, b], target[t - 1, b])
    assert truncated.sum() == B  # the 100-step limit, once per env
    assert touched > 0  # random actions push the mass into a post or a wall: contacts compared


def test_reset_draws_again_until_nothing_touches_and_keeps_each_target():
    env = PointReach(physics="c")
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 256))
    assert np.all(np.asarray(states.data.ncon) == 0)
    target = np.asarray(states.task["target"])
    assert np.all(np.linalg.norm(target[:, None] - POSTS[:, :2], axis=2) > POSTS[:, 2] + 0.05)
    tip = np.asarray(states.obs[:, :2])
    np.testing.assert_allclose(states.obs[:, 4:], target - tip, atol=1e-6)  # reaches the obs

    class Once(PointReach):
        reset_tries = 1

    once = Once(physics="c")
    first = jax.jit(jax.vmap(once.reset))(jax.random.split(jax.random.PRNGKey(0), 256))
    assert np.sum(np.asarray(first.data.ncon) > 0) >= 10  # without redraws some would touch


def test_after_every_refused_draw_the_last_is_kept():
    class Never(PointReach):
        reset_tries = 3

        def accept_initial(self, data, initial):
            return jnp.zeros((), bool)

    env = Never(physics="c")
    key = jax.random.PRNGKey(5)
    state = jax.jit(env.reset)(key)  # ends: three draws, the last kept
    third = env.initial_state(jax.random.fold_in(jax.random.split(key)[0], 2))
    np.testing.assert_array_equal(state.task["target"], third.task["target"])


def test_settling_steps_run_with_zero_control_and_keep_the_clock():
    class Settled(PointReach):
        settle_steps = 20
        reset_tries = 1  # the first draw, which the NumPy side replays

        def initial_state(self, key):
            out = super().initial_state(key)
            return out.replace(qvel=jnp.array([1.5, -1.0]), time=jnp.asarray(3.0))

    class DmOrder(Settled):
        settle_from_default_pose = True

    with jax.enable_x64(True):
        plain = jax.jit(Settled(physics="c").reset)(jax.random.PRNGKey(2))
        dm = jax.jit(DmOrder(physics="c").reset)(jax.random.PRNGKey(2))
    m = mujoco.MjModel.from_xml_string(XML)
    for state, dm_order in ((plain, False), (dm, True)):
        k_draw = jax.random.split(jax.random.PRNGKey(2))[0]
        with jax.enable_x64(True):
            start = np.asarray(PointReach(physics="c").initial_state(k_draw).qpos)
        d = mujoco.MjData(m)
        d.qpos[:] = start
        mujoco.mj_forward(m, d)
        assert d.ncon == 0  # the first draw was kept
        mujoco.mj_resetData(m, d)
        if dm_order:  # data of the default pose, then the state, completed by mj_step2
            mujoco.mj_forward(m, d)
        d.qpos[:], d.qvel[:], d.time = start, [1.5, -1.0], 3.0
        if dm_order:
            mujoco.mj_step2(m, d)
        mujoco.mj_step(m, d, nstep=20 - dm_order)
        d.time = 3.0
        mujoco.mj_forward(m, d)
        np.testing.assert_array_equal(state.data.qpos, d.qpos)
        np.testing.assert_array_equal(state.data.qvel, d.qvel)
        assert not np.allclose(state.data.qpos, start)  # the mass moved while settling
    assert not np.array_equal(plain.data.qpos, dm.data.qpos)  # the two orders differ


STATE_XML = """
<mujoco>
  <worldbody>
    <body name="target" mocap="true" pos="0.1 0.2 0.3"><geom type="sphere" size="0.02"
      contype="0" conaffinity="0"/></body>
    <body name="mass"><joint name="x" type="slide" axis="1 0 0"/>
      <geom type="sphere" size="0.05" mass="1"/></body>
  </worldbody>
  <actuator><general joint="x" dyntype="filter" dynprm="0.2" gainprm="2" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


class Parts(MujocoTask):
    """Sets every part of the integration state a reset can set, and reads each back."""

    def __init__(self, **engine):
        fields = ("act", "mocap_pos", "mocap_quat", "qacc_warmstart", "time", "actuator_force")
        super().__init__(STATE_XML, fields=fields, stage="forward", **engine)

    def initial_state(self, key):
        return InitialState(
            qpos=jnp.array([0.25]), qvel=jnp.array([-0.5]), act=jnp.array([0.7]),
            mocap_pos=jnp.array([[0.4, -0.1, 0.2]]), mocap_quat=jnp.array([[0.0, 1.0, 0, 0]]),
            qacc_warmstart=jnp.array([0.125]), time=jnp.asarray(1.5),
        )  # fmt: skip

    def observation(self, data, task):
        parts = (data.qpos, data.act, data.mocap_pos[0], data.qacc_warmstart, data.actuator_force)
        return jnp.concatenate([*parts, data.time[None]])

    def reward(self, before, after, action, task):
        return Outcome(after.act[0], jnp.zeros((), bool), {})


def test_a_reset_sets_the_integration_state_beyond_qpos_and_qvel():
    with jax.enable_x64(True):
        env = Parts(physics="c")
        state = jax.jit(env.reset)(jax.random.PRNGKey(0))
        after = jax.jit(env.step)(state, jnp.array([1.0]))
    m = mujoco.MjModel.from_xml_string(STATE_XML)
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:], d.act[:], d.qacc_warmstart[:], d.time = 0.25, -0.5, 0.7, 0.125, 1.5
    d.mocap_pos[:], d.mocap_quat[:] = [0.4, -0.1, 0.2], [0.0, 1.0, 0.0, 0.0]
    mujoco.mj_forward(m, d)
    expected = [d.qpos, d.act, d.mocap_pos[0], d.qacc_warmstart, d.actuator_force, [d.time]]
    np.testing.assert_array_equal(state.obs, np.concatenate(expected))
    d.ctrl[:] = 1.0
    mujoco.mj_step(m, d)
    mujoco.mj_forward(m, d)
    np.testing.assert_array_equal(after.data.act, d.act)  # the filter integrated from 0.7
    np.testing.assert_array_equal(after.data.mocap_pos, d.mocap_pos)  # carried by the state
    assert float(after.reward) == d.act[0]


@pytest.mark.parametrize(
    "fields,stage,message",
    [
        (("cfrc_ext",), "none", "computed by mj_rnePostConstraint: choose stage='rne_post'"),
        (("subtree_linvel",), "step1", "give the model a subtreelinvel sensor"),
        (("qfrc_inverse",), "none", "mjData.qfrc_inverse is not a field a task can read"),
        (("contact.dist",), "none", "contact.dist needs a contact capacity: give max_contacts"),
        (("contact.mu",), "none", "contact.mu is not a contact field"),
        (("energy",), "none", "energy is computed only with <flag energy='enable'/>"),
        ((), "after", "stage='after': choose one of none, rne_post, step1, forward"),
    ],
)
def test_a_field_the_stage_does_not_compute_is_refused_by_name(fields, stage, message):
    with pytest.raises(EnvError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MujocoTask(XML, fields=fields, stage=stage, physics="c")


def test_a_field_the_task_did_not_ask_for_is_an_error_naming_it():
    env = PointReach(physics="c")
    state = env.reset(jax.random.PRNGKey(0))
    with pytest.raises(AttributeError, match="add 'xpos' to its fields"):
        env.engine.view(state.data).xpos  # noqa: B018


class _Bad(MujocoTask):
    def __init__(self, xml=XML, **engine):
        super().__init__(xml, **engine)

    def observation(self, data, task):
        return data.qpos

    def reward(self, before, after, action, task):
        return Outcome(jnp.sum(after.qpos), jnp.zeros((), bool), {})


class _VectorReward(_Bad):
    def reward(self, before, after, action, task):
        return Outcome(after.qpos, jnp.zeros((), bool), {})


class _Shifting(_Bad):
    """An impure task: its observation grows once a reward has been computed."""

    stepped = False

    def observation(self, data, task):
        return jnp.concatenate([data.qpos, data.qvel]) if self.stepped else data.qpos

    def reward(self, before, after, action, task):
        self.stepped = True
        return super().reward(before, after, action, task)


class _NotFinite(_Bad):
    def observation(self, data, task):
        return jnp.log(data.qpos - 1.0)  # NaN where qpos < 1


def test_bad_tasks_fail_with_a_clear_message():
    with pytest.raises(EnvError, match="the MJCF string: MuJoCo could not compile the model"):
        _Bad("<mujoco><worldbody><geom type='sphere'/></worldbody></mujoco>", physics="c")
    with pytest.raises(EnvError, match=r"no_such\.xml: no such MJCF file"):
        _Bad("no_such.xml", physics="c")
    free = XML.replace('<motor joint="x" ctrlrange="-1 1"/>', '<motor name="push" joint="x"/>')
    with pytest.raises(EnvError, match="actuators without a control range: push"):
        _Bad(free, physics="c")
    with pytest.raises(EnvError, match="reward must give a scalar reward, not shape"):
        _VectorReward(physics="c").observation_size  # noqa: B018
    with pytest.raises(EnvError, match=r"observation changes shape: \[2\] at reset, \[4\] after"):
        _Shifting(physics="c").observation_size  # noqa: B018
    with pytest.raises(EnvError, match=r"observation is not finite at reset: entries \[0, 1\]"):
        _NotFinite(physics="c").check()
    pgs = XML.replace('<option timestep="0.01"/>', '<option timestep="0.01" solver="PGS"/>')
    _Bad(pgs, physics="c")  # C MuJoCo runs PGS ...
    with pytest.raises(EnvError, match=r"MJX cannot run this model \(.*PGS.*\); C MuJoCo can"):
        _Bad(pgs, physics="mjx")  # ... MJX does not


def test_the_engine_keywords_reach_the_task_and_its_own_are_checked():
    env = pjp.envs.make("tests.own_task:PointReach", ctrl_cost=0.5, physics="c", threads=1)
    assert env.ctrl_cost == 0.5 and env.engine.threads == 1
    with pytest.raises(EnvError, match=r"takes no keyword 'ctrl_costs'\. Did you mean ctrl_cost"):
        pjp.envs.make("tests.own_task:PointReach", ctrl_costs=0.5)


IMPORT = "from tests.own_task import PointReach"


def test_a_recorded_origin_names_one_file_whatever_the_id_means_here(tmp_path):
    for name in ("a", "b"):  # two runs' tasks at the same relative path, reach.py:Reach
        (tmp_path / name).mkdir()
        source = f"class Reach(PointReach):\n    run = {name!r}\n"
        (tmp_path / name / "reach.py").write_text(f"{IMPORT}\n\n{source}")
    factory = pjp.envs.registry.factory
    made = [factory("reach.py:Reach", {"task": f"{tmp_path / d}/reach.py:Reach"}) for d in "ab"]
    assert [cls.run for cls in made] == ["a", "b"]
    again = factory("reach.py:Reach", {"task": f"{tmp_path / 'a'}/reach.py:Reach"})
    assert again is made[0]  # each file imported once


def test_naming_a_task_that_is_not_there_fails_clearly(tmp_path):
    with pytest.raises(EnvError, match=r"there is no module tests\.no_such"):
        pjp.envs.make("tests.no_such:PointReach")
    with pytest.raises(EnvError, match=r"no class PointRaech in it\. Its tasks: PointReach$"):
        pjp.envs.make("tests.own_task:PointRaech")
    with pytest.raises(EnvError, match="is not a task"):
        pjp.envs.make("tests.own_task:XML")
    with pytest.raises(EnvError, match="there is no file"):
        pjp.envs.make(f"{tmp_path}/reach.py:PointReach")
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(EnvError, match=r"no class PointReach in it\. It defines no task class"):
        pjp.envs.make(f"{tmp_path}/empty.py:PointReach")
    task = tmp_path / "reach.py"
    task.write_text(textwrap.dedent("from tests.own_task import PointReach as Reach\n"))
    assert pjp.envs.make(f"{task}:Reach", physics="c").observation_size == 6


@pytest.mark.e2e
def test_trains_past_what_a_random_policy_reaches():
    """A random policy's mean return is about -53 (64 episodes: -45 at most); trained, -35."""
    env = PointReach(physics="c")
    eval_env = pjp.envs.wrap_for_eval(env)

    def random_returns(key):
        n = 64
        s = eval_env.reset(jax.random.split(key, n))

        def body(c, k):
            s, total = c
            s = eval_env.step(s, jax.random.uniform(k, (n, 2), minval=-1, maxval=1))
            return (s, total + s.reward), None

        return jax.lax.scan(body, (s, jnp.zeros(n)), jax.random.split(key, 100))[0][1]

    random = float(jax.jit(random_returns)(jax.random.PRNGKey(9)).mean())
    cfg = tiny_config(
        total_timesteps=100 * 1024, num_envs=16, batch_size=1024, minibatch_size=256,
        n_epochs=4, eval_every=20, eval_episodes=16, learning_rate=1e-3, gamma=0.95,
        normalize_obs=True, normalize_reward=True,
    )  # fmt: skip
    result = jax.jit(pjp.make_train(cfg, env))(jax.random.PRNGKey(0))
    final = float(result.metrics.eval_return[-1])
    assert random < -45 < -35 < final, (random, final)


@pytest.mark.parity
def test_the_same_class_runs_on_mjx_as_on_c():
    """Float64 MJX beside C from the same key: the same redraws, steps, contacts and rewards."""

    def rollout(physics):
        with jax.enable_x64(True):
            env = PointReach(physics=physics)
            stack = pjp.envs.wrap_for_eval(env)
            # each env pushes one way at full force: into a wall or a post, and held there
            pushes = jnp.broadcast_to(jnp.sign(jax.random.normal(jax.random.PRNGKey(4), (8, 2))),
                                      (30, 8, 2))  # fmt: skip

            def step(s, a):
                s = stack.step(s, a)
                ncon = jax.vmap(lambda d: env.engine.view(d).ncon)(s.data)
                return s, (s.obs, s.reward, ncon)

            def run(key):
                s = stack.reset(jax.random.split(key, 8))
                return s.obs, jax.lax.scan(step, s, pushes)[1]

            return jax.tree.map(np.asarray, jax.jit(run)(jax.random.PRNGKey(0)))

    c_first, (c_obs, c_reward, c_ncon) = rollout("c")
    m_first, (m_obs, m_reward, m_ncon) = rollout("mjx")
    np.testing.assert_allclose(m_first, c_first, atol=1e-12)  # the same draws were kept
    np.testing.assert_allclose(m_obs, c_obs, atol=1e-6)
    np.testing.assert_allclose(m_reward, c_reward, atol=1e-6)
    np.testing.assert_array_equal(m_ncon, c_ncon)
    assert (c_ncon > 0).sum() > 50  # pushed into posts and walls: contacts compared


PENDULUM = """
<mujoco>
  <option><flag contact="disable"/></option>
  <worldbody>
    <body pos="0 0 1"><joint name="hinge" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03"/><site name="tip" pos="0.3 0 0"/>
    </body>
  </worldbody>
  <actuator><motor joint="hinge" ctrlrange="-1 1"/></actuator>
  <sensor><accelerometer site="tip"/></sensor>
</mujoco>
"""


class _Sensing(MujocoTask):
    def __init__(self, **engine):
        super().__init__(PENDULUM, fields=("sensordata", "cacc"), frame_skip=3, **engine)

    def observation(self, data, task):
        return jnp.concatenate([data.sensordata, data.cacc[1]])

    def reward(self, before, after, action, task):
        return Outcome(jnp.zeros(()), jnp.zeros((), bool), {})


@pytest.mark.parity
def test_mjx_gives_the_acceleration_sensors_of_a_model_without_constraints():
    """MJX's forward returns before them when there are no constraint rows; C computes them."""

    def run(physics):
        with jax.enable_x64(True):
            env = _Sensing(physics=physics)

            def program(key):
                s = env.reset(key)
                return s.obs, env.step(s, jnp.array([0.7])).obs

            return jax.tree.map(np.asarray, jax.jit(program)(jax.random.PRNGKey(0)))

    c, m = run("c"), run("mjx")
    assert np.abs(c[1]).max() > 1  # gravity and the motor: not zeros
    for a, b in zip(m, c, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)
