"""The C engine: whole episodes equal Gymnasium's, determinism, threads, seeds, bad input.

Every v5 task runs whole random-action episodes through the training stack (clip, time limit,
vmap, auto-reset with a fresh reset) in float64, beside Gymnasium's own env started from the same
states (``mj_resetData`` then ``set_state``, which is Gymnasium's reset with our reset noise).
The observation, terminated, truncated, qpos and qvel of every step, and the first observation
of every auto-reset episode, are equal to the bit. Rewards and the info terms are equal to
rounding (1e-13 relative): they are sums and products that XLA and NumPy order differently
(NumPy sums pairwise, XLA fuses multiply-adds), so they may differ in the last bits.
"""

import subprocess
import sys

import gymnasium as gym
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.envs import EnvError
from purejaxppo.envs.v5 import V5_TASKS
from tests.helpers import dependencies, tiny_config

pytestmark = pytest.mark.envs

B = 2  # envs side by side


def _episodes(env_id: str, extra: int = 20):
    """Our float64 training stack on random actions for one time limit plus ``extra`` steps."""
    with jax.enable_x64(True):
        env = pjp.envs.make(env_id, physics="c")
        stack = pjp.envs.wrap_for_training(env)
        genv = gym.make(env_id)
        lo, hi = genv.action_space.low, genv.action_space.high
        T = env.episode_length + extra
        rng = np.random.default_rng(0)
        actions = rng.uniform(lo, hi, (T, B, len(lo))).astype(np.float32).astype(np.float64)

        def program(key, actions):
            start = stack.reset(jax.random.split(key, B))

            def step(s, a):
                s = stack.step(s, a)
                out = (s.obs, s.final_obs, s.reward, s.terminated, s.truncated, s.info)
                return s, (*out, s.data.qpos, s.data.qvel)

            return start, jax.lax.scan(step, start, actions)[1]

        start, out = jax.jit(program)(jax.random.PRNGKey(0), jnp.asarray(actions))
    return env, genv, actions, jax.tree.map(np.asarray, (start, out))


def _reset_to(genv, qpos, qvel):
    """Gymnasium's reset, with the reset noise that gave ``qpos``, ``qvel``; its observation."""
    genv.reset(seed=0)  # zeroes the time limit's step count
    u = genv.unwrapped
    mujoco.mj_resetData(u.model, u.data)
    u.set_state(qpos, qvel)
    return u._get_obs()


@pytest.mark.parametrize("env_id", list(V5_TASKS))
def test_whole_episodes_equal_gymnasium(env_id):
    env, genv, actions, (start, out) = _episodes(env_id)
    obs, final_obs, reward, terminated, truncated, info, qpos, qvel = out
    ended = 0
    for b in range(B):
        first = _reset_to(genv, start.data.qpos[b], start.data.qvel[b])
        np.testing.assert_array_equal(start.obs[b], first, err_msg=f"{env_id} reset obs")
        for t in range(len(actions)):
            g_obs, g_rew, g_term, g_trunc, g_info = genv.step(actions[t, b])
            where = f"{env_id} env {b} step {t}"
            np.testing.assert_array_equal(final_obs[t, b], g_obs, err_msg=where)
            assert terminated[t, b] == g_term, where
            assert truncated[t, b] == (g_trunc and not g_term), where  # termination wins
            for name, ours, theirs in [("reward", reward[t, b], g_rew)] + [
                (k, info[k][t, b], g_info[k]) for k in env.info_keys
            ]:
                assert abs(ours - theirs) <= 1e-13 * (1 + abs(theirs)), (where, name, ours, theirs)
            if not (g_term or g_trunc):
                u = genv.unwrapped
                np.testing.assert_array_equal(qpos[t, b], u.data.qpos, err_msg=where)
                np.testing.assert_array_equal(qvel[t, b], u.data.qvel, err_msg=where)
                continue
            ended += 1  # auto-reset: a fresh random state, whose first observation is Gymnasium's
            first = _reset_to(genv, qpos[t, b], qvel[t, b])
            np.testing.assert_array_equal(obs[t, b], first, err_msg=f"{where} auto-reset obs")
    assert ended >= B, f"{env_id}: no episode ended"  # the time limit at least


def _rollout_program(env, n_envs, steps):
    """``program(key)``: the training stack's states over ``steps`` random-action steps."""
    stack = pjp.envs.wrap_for_training(env)

    def program(key):
        k0, k1 = jax.random.split(key)
        s = stack.reset(jax.random.split(k0, n_envs))
        acts = jax.random.uniform(k1, (steps, n_envs, env.action_size), minval=-1, maxval=1)
        return jax.lax.scan(lambda s, a: (stack.step(s, a),) * 2, s, acts)[1]

    return program


def _rollout(env, n_envs=16, steps=12, seed=0):
    program = jax.jit(_rollout_program(env, n_envs, steps))
    return jax.tree.map(np.asarray, program(jax.random.PRNGKey(seed)))


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Ant-v5"])  # auto-resets; contacts and cfrc_ext
def test_thread_count_changes_no_value(env_id):
    one = _rollout(pjp.envs.make(env_id, physics="c", threads=1), steps=40)
    three = _rollout(pjp.envs.make(env_id, physics="c", threads=3), steps=40)
    jax.tree.map(np.testing.assert_array_equal, one, three)
    if env_id == "Hopper-v5":
        assert np.any(one.done)  # random actions topple it: fresh resets were drawn too


def test_vmapped_seeds_step_as_single_runs_and_same_key_same_run():
    env = pjp.envs.make("Hopper-v5", physics="c")
    keys = jax.random.split(jax.random.PRNGKey(7), 3)
    singles = [_rollout(env, n_envs=4, steps=30, seed=k) for k in range(3)]
    program = jax.jit(jax.vmap(lambda k: _rollout_program(env, 4, 30)(k)))
    seeds = jax.tree.map(np.asarray, program(jnp.stack([jax.random.PRNGKey(k) for k in range(3)])))
    for k, single in enumerate(singles):  # physics of folded seeds: bit for bit
        jax.tree.map(lambda a, b, k=k: np.testing.assert_array_equal(a[k], b), seeds, single)
    assert np.any(singles[0].done) and not np.array_equal(singles[0].obs, singles[1].obs)
    cfg = tiny_config(total_timesteps=256 * 4, eval_every=2)
    train = jax.jit(pjp.make_train(cfg, env))
    first, again = train(keys[0]), train(keys[0])
    jax.tree.map(np.testing.assert_array_equal, first, again)  # the whole run, bit for bit
    both = jax.jit(jax.vmap(pjp.make_train(cfg, env)))(keys[:2])
    for a, b in zip(jax.tree.leaves(first.policy), jax.tree.leaves(both.policy), strict=True):
        # batched matmuls round apart, and four updates on contact physics carry the differences
        # on (to ~5e-4 of a layer's largest weight on some CPUs); a wrong batch moves them O(0.1)
        np.testing.assert_allclose(a, b[0], rtol=0, atol=2e-3 * max(1.0, np.abs(a).max()))


def test_fields_a_task_does_not_declare_are_named():
    env = pjp.envs.make("HalfCheetah-v5", physics="c")
    state = env.reset(jax.random.PRNGKey(0))
    with pytest.raises(AttributeError, match="add 'xpos' to its fields"):
        state.data.xpos  # noqa: B018


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(physics="gpu"), "choose one of auto, c, mjx"),
        (dict(physics="c", threads=0), "threads must be a positive integer"),
        (dict(physics="c", solver_iterations=4), "are settings of MJX's solver"),
        (dict(physics="mjx", threads=2), "threads is a setting of the C engine"),
    ],
)
def test_bad_engine_settings_fail_before_anything_runs(kwargs, message):
    with pytest.raises(EnvError, match=message):
        pjp.envs.make("Hopper-v5", **kwargs)


def test_auto_is_the_c_engine_on_a_cpu():
    assert jax.default_backend() == "cpu"
    assert pjp.envs.make("Reacher-v5").physics == "c"
    assert pjp.envs.make("Reacher-v5", physics="mjx").physics == "mjx"


def _run_script(script: str) -> subprocess.CompletedProcess:
    """``script`` in a fresh Python (what it changes is not undone in this one); must exit 0."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_without_the_native_library_auto_says_so_and_c_says_what_to_do():
    script = """
import sys
from pathlib import Path
import purejaxppo.envs.c.native as native
native.LIBRARY = Path("/nonexistent/_engine.so")  # as if no compiler was found
import purejaxppo as pjp
print(pjp.envs.make("Hopper-v5").physics)
try:
    pjp.envs.make("Hopper-v5", physics="c")
except pjp.envs.EnvError as e:
    print("error:", e)
for line in pjp.envs.engines.installed():
    print(line)
"""
    done = _run_script(script)
    assert done.stdout.splitlines()[0] == "mjx"
    assert "C MuJoCo (physics='c'): no: the C engine's native library is missing" in done.stdout
    assert "physics='auto' runs MJX here" in done.stdout
    assert "physics='auto' runs MJX on this CPU" in done.stderr
    assert "error: the C engine's native library is missing" in done.stdout
    assert "`uv sync` there builds it" in done.stdout


def test_the_library_says_what_it_was_built_against():
    from purejaxppo.envs.c import native

    deps = dependencies()
    built = native.built_with()  # built by the rules of build-system.requires
    assert built["mujoco"] == str(deps["mujoco"].specifier).removeprefix("==")
    assert [f"jax>={built['jaxlib']}"] == [
        f"jax{s}" for s in deps["jax"].specifier if s.operator == ">="
    ]
    major, minor = (int(x) for x in built["ffi_api"].split("."))
    assert major == 0 and minor >= 1


def test_a_library_built_against_a_newer_xla_ffi_than_jaxlib_s_is_refused():
    script = """
import jaxlib.version
import purejaxppo.envs.c.native as native
jaxlib.version.__version__ = "0.9.0"  # older than the headers the library was compiled against
print(native.why_unavailable())
"""
    done = _run_script(script)
    assert "newer than the installed jaxlib 0.9.0" in done.stdout


def test_without_warp_lang_the_warp_engine_says_what_to_install():
    script = """
import sys
sys.modules["warp"] = None  # as where the warp extra is not installed: import warp fails
import purejaxppo as pjp
try:
    pjp.envs.make("Hopper-v5", physics="warp")
except pjp.envs.EnvError as e:
    print("error:", e)
"""
    done = _run_script(script)
    wanted = "error: physics='warp' needs warp-lang: install the warp extra (`uv sync --extra warp`"
    assert wanted in done.stdout
