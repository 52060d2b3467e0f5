"""The suite on MJX against dm_control's C MuJoCo (float64), for two tasks of different kinds.

``benchmarks/dmc_parity.py`` measures all 26 (``benchmarks/results/cpu/dmc_parity_mjx.md``);
this keeps two of them within bounds: cheetah-run (contacts, Euler, a subtree velocity sensor)
and acrobot-swingup (RK4, no contacts, the energy flag that MJX lacks turned off). From
dm_control's states (resets and mid-episode), one step and ten steps of random actions.
"""

import jax
import pytest

from tests.helpers import load_benchmark

pytest.importorskip("dm_control", reason="dm-control is installed on CPython 3.11 and 3.12")

pytestmark = [pytest.mark.parity, pytest.mark.xdist_group("dmc_parity")]

BOUNDS = {  # relative to 1 + |dm_control|: obs after 1 step, reward after 1, obs after 10
    "dm_control/cheetah-run-v0": (1e-11, 1e-12, 1e-9),
    "dm_control/acrobot-swingup-v0": (1e-12, 1e-12, 1e-10),
}


@pytest.fixture(scope="module")
def parity():
    return load_benchmark("dmc_parity")


@pytest.mark.parametrize("env_id", list(BOUNDS))
def test_mjx_steps_as_dm_control(parity, env_id):
    with jax.enable_x64(True):
        row = parity.measure(env_id, "mjx", starts=4, steps=10)
    obs_1, reward_1, obs_k = BOUNDS[env_id]
    assert row["reset_obs"] <= 1e-12, row
    assert row["obs_1"] <= obs_1 and row["reward_1"] <= reward_1 and row["obs_k"] <= obs_k, row


def test_mjx_quadruped_resets_touch_nothing():
    """The height search (1 cm a try, in a while_loop) runs on MJX as on C: starts free of
    contact, at C's heights for the same keys (within one step: MJX's and C's collision
    detection may decide a contact at the boundary apart)."""
    import numpy as np

    import purejaxppo as pjp

    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    heights, contacts = {}, {}
    with jax.enable_x64(True):
        for physics in ("c", "mjx"):
            task = pjp.envs.make("dm_control/quadruped-walk-v0", physics=physics)
            states = jax.jit(jax.vmap(task.reset))(keys)
            view = jax.vmap(task.engine.view)(states.data)
            heights[physics] = np.asarray(view.qpos[:, 2])
            contacts[physics] = np.asarray(view.ncon)
    assert (contacts["mjx"] == 0).all() and (contacts["c"] == 0).all()
    assert (heights["c"] > 0).all()
    np.testing.assert_allclose(heights["mjx"], heights["c"], atol=0.0101)
