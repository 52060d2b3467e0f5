"""What capping MJX's constraint solver costs in parity with C MuJoCo, and gains in speed.

For each task and solver setting (exact = the XML's; and caps): raw steps/s at 16 envs, and the
largest observation and reward differences from Gymnasium (C MuJoCo, float64) after 1 and 10
steps from Gymnasium's own reset states, simulating in float32 as training does.

    uv run python benchmarks/solver_cap.py
    uv run python benchmarks/solver_cap.py --envs Hopper-v5 --settings 100/50 4/8
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

import purejaxppo as pjp

sys.path.insert(0, str(Path(__file__).parent))
import common

EPISODES, STEPS = 8, 10


def reference(env_id: str):
    """Gymnasium reset states, actions, and obs/reward after each of STEPS steps."""
    genv = gym.make(env_id).unwrapped
    rng = np.random.default_rng(0)
    lo, hi = genv.action_space.low, genv.action_space.high
    qpos, qvel, acts, obs, rew = [], [], [], [], []
    for seed in range(EPISODES):
        genv.reset(seed=seed)
        qpos.append(genv.data.qpos.copy())
        qvel.append(genv.data.qvel.copy())
        a = rng.uniform(lo, hi, size=(STEPS, len(lo)))
        out = [genv.step(x)[:2] for x in a]
        acts.append(a)
        obs.append([o for o, _ in out])
        rew.append([r for _, r in out])
    return [np.array(x) for x in (qpos, qvel, acts, obs, rew)]


def parity(env: pjp.envs.Env, ref) -> dict:
    qpos, qvel, acts, obs, rew = ref

    def one(q, v, a):
        def step(s, x):
            s = env.step(s, x)
            return s, (s.obs, s.reward)

        return jax.lax.scan(step, env.state_from(q, v, jax.random.PRNGKey(0)), a)[1]

    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    got_obs, got_rew = jax.jit(jax.vmap(one))(f32(qpos), f32(qvel), f32(acts))
    d_obs = np.abs(np.asarray(got_obs, np.float64) - obs).max(axis=(0, 2))
    d_rew = np.abs(np.asarray(got_rew, np.float64) - rew).max(axis=0)
    return {"obs_1": d_obs[0], "obs_10": d_obs[-1], "reward_1": d_rew[0], "reward_10": d_rew[-1]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--envs", nargs="*", default=["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5"]
    )
    p.add_argument(
        "--settings",
        nargs="*",
        default=["exact", "4/8", "1/4"],
        help="'exact' or ITERATIONS/LS_ITERATIONS",
    )
    p.add_argument("--out-stem", type=Path, default=None, help="write the rows as STEM.json")
    a = p.parse_args()
    pjp.enable_compilation_cache()
    rows = []
    print(
        f"{'task':16s} {'solver':>7s} {'steps/s@16':>10s} {'|dobs| 1':>9s} {'|dobs| 10':>9s} "
        f"{'|drew| 1':>9s} {'|drew| 10':>9s}"
    )
    for env_id in a.envs:
        ref = reference(env_id)
        for setting in a.settings:
            it, ls = (None, None) if setting == "exact" else map(int, setting.split("/"))
            env = pjp.envs.make(env_id, physics="mjx", solver_iterations=it, ls_iterations=ls)
            sps, _ = common.env_steps_per_s(env, 16, 256)
            row = {"env": env_id, "solver": setting, "steps_per_s": sps, **parity(env, ref)}
            rows.append(row)
            print(
                f"{env_id:16s} {setting:>7s} {sps:10.0f} {row['obs_1']:9.1e} "
                f"{row['obs_10']:9.1e} {row['reward_1']:9.1e} {row['reward_10']:9.1e}",
                flush=True,
            )
    if a.out_stem:
        a.out_stem.parent.mkdir(parents=True, exist_ok=True)
        result = {"meta": common.meta(), "rows": rows}
        a.out_stem.with_suffix(".json").write_text(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
