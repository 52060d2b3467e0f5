"""The DeepMind Control Suite on the C engine against dm_control's own environments.

Every task runs a whole episode from a state copied out of dm_control (integration state and
the episode's target), under the same controls (drawn past the control range: both write them
unclipped to ``ctrl``), in float64: the observation of every step is equal to the bit, except
the entries that pass through ``log1p`` or ``arcsinh`` (touch in finger and hopper, force and
torque in quadruped), which XLA and NumPy may round apart in the last bit, and on jax 0.10 the
sums of products (below): those to 1e-15 (relative, or absolute where terms cancel);
rewards are equal to 1e-12 relative (``tolerance``'s exp, sums and means round apart; XLA
flushes subnormal numbers, below 2.2e-308, to zero). Resets
are equal in distribution: the first observations of many of our resets and of dm_control's
pass a two-sample Kolmogorov-Smirnov test per entry, and the redrawing tasks start with no
contact.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import purejaxppo as pjp
from purejaxppo.envs.dmc import DMC_TASKS

pytest.importorskip("dm_control", reason="dm-control is installed on CPython 3.11 and 3.12")
from purejaxppo.envs.dmc.reference import ReferenceEnv

pytestmark = pytest.mark.envs

IDS = list(DMC_TASKS)
ROUNDED = {
    "finger": ("touch",),
    "hopper": ("touch",),
    "quadruped": ("force_torque",),
}
"""Observation entries computed by transcendental functions, per domain."""
PRODUCTS = {
    "finger": ("dist_to_target",),
    "fish": ("target",),
    "humanoid": ("extremities",),
    "swimmer": ("to_target",),
}
"""Entries that are sums of products (a norm, a vector times a matrix): jax 0.12's XLA rounds
them as NumPy does (envs.dmc.task.vector_times_matrix); jax 0.10's (the lock's Python 3.11
fork) fuses their multiply-adds whatever the program says, so there they agree to rounding."""
FUSES = tuple(int(v) for v in jax.__version__.split(".")[:2]) < (0, 12)


def _rounded_entries(env_id: str, reference: ReferenceEnv) -> np.ndarray:
    """A mask of the flattened observation's entries that may round apart from dm_control's."""
    domain = DMC_TASKS[env_id].domain
    names = ROUNDED.get(domain, ()) + (PRODUCTS.get(domain, ()) if FUSES else ())
    spec = reference._env.observation_spec()
    return np.concatenate([np.full(int(np.prod(spec[k].shape)), k in names) for k in sorted(spec)])


@pytest.mark.parametrize("env_id", IDS)
def test_whole_episode_equals_dm_control(env_id):
    cls = DMC_TASKS[env_id]
    reference = ReferenceEnv(cls.domain, cls.dm_task)
    first, _ = reference.reset(seed=7)
    assert reference._env._step_limit == 1000
    with jax.enable_x64(True):
        task = pjp.envs.make(env_id, physics="c")
        assert task.episode_length == 1000
        initial = task.reference_state(reference.physics)
        low, high = reference.action_space.low, reference.action_space.high
        rng = np.random.default_rng(0)
        actions = rng.uniform(low - 0.2, high + 0.2, (1000, task.action_size))

        def episode(initial, actions):
            start = task.begin(task.place(initial), initial.task, jax.random.PRNGKey(0))
            out = jax.lax.scan(lambda s, a: (task.step(s, a),) * 2, start, actions)[1]
            return start.obs, out.obs, out.reward, out.terminated

        start, obs, reward, ours_terminated = jax.tree.map(
            np.asarray, jax.jit(episode)(jax.tree.map(jnp.asarray, initial), actions)
        )
    rounded = _rounded_entries(env_id, reference)
    exact = ~rounded
    np.testing.assert_array_equal(start[exact], first[exact], err_msg=f"{env_id} first obs")
    np.testing.assert_allclose(
        start[rounded], first[rounded], rtol=1e-15, atol=1e-15, err_msg=env_id
    )
    assert not ours_terminated.any()
    for t in range(1000):
        theirs, r, terminated, truncated, _ = reference.step(actions[t])
        where = f"{env_id} step {t}"
        np.testing.assert_array_equal(obs[t][exact], theirs[exact], err_msg=where)
        np.testing.assert_allclose(
            obs[t][rounded], theirs[rounded], rtol=1e-15, atol=1e-15, err_msg=where
        )
        assert abs(reward[t] - r) <= 1e-12 * abs(r) + 1e-300, (where, reward[t], r)
        assert not terminated
        assert truncated == (t == 999), where


def _dm_control_first_observations(cls, n):
    reference = ReferenceEnv(cls.domain, cls.dm_task)
    return np.stack([reference.reset(seed=10_000 + i)[0] for i in range(n)])


@pytest.mark.parametrize("env_id", IDS)
def test_resets_equal_dm_control_in_distribution(env_id):
    n = 200
    cls = DMC_TASKS[env_id]
    theirs = _dm_control_first_observations(cls, n)
    with jax.enable_x64(True):
        task = pjp.envs.make(env_id, physics="c")
        states = jax.jit(jax.vmap(task.reset))(jax.random.split(jax.random.PRNGKey(1), n))
        ours = np.asarray(states.obs)
        if "ncon" in task.fields:  # the redrawing tasks: every start free of contact
            assert np.all(
                np.asarray(jax.vmap(lambda d: task.engine.view(d).ncon)(states.data)) == 0
            )
    assert ours.shape == theirs.shape
    worst = 1.0
    for j in range(ours.shape[1]):
        if np.ptp(ours[:, j]) == 0 and np.ptp(theirs[:, j]) == 0:
            np.testing.assert_allclose(ours[0, j], theirs[0, j], rtol=1e-12, atol=1e-12)
            continue
        worst = min(worst, stats.ks_2samp(ours[:, j], theirs[:, j], method="asymp").pvalue)
    assert worst > 1e-3 / ours.shape[1], (
        f"{env_id}: an entry's reset distribution differs (p={worst:.2g})"
    )
