"""How close the suite's tasks on MJX (or MuJoCo Warp) come to dm_control's C MuJoCo.

From states dm_control produced (resets, and states after random-action steps), both step the
same random actions; the observation and reward of every step are compared, as the largest
``|ours - dm_control| / (1 + |dm_control|)``: at the resets, after one step, and over
``--steps`` steps (where chaotic tasks drift apart). Float64 on MJX; float32 on Warp (its
kernels' only precision).

    uv run python benchmarks/dmc_parity.py --physics mjx
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common
import jax
import jax.numpy as jnp
import numpy as np


def reference(cls, starts: int, steps: int, seed: int = 0):
    """dm_control's start states, the actions, and the observation and reward of each step."""
    from purejaxppo.envs.dmc.reference import ReferenceEnv

    env = ReferenceEnv(cls.domain, cls.dm_task)
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    physics, actions, obs, rewards, first = [], [], [], [], []
    for i in range(starts):
        first.append(env.reset(seed=seed + i)[0])
        for _ in range(0 if i < starts // 2 else 20 * i):  # half from resets, half mid-episode
            first[-1] = env.step(rng.uniform(low, high))[0]
        physics.append(env.physics.copy(share_model=False))
        acts = rng.uniform(low, high, (steps, len(low)))
        out = [env.step(a) for a in acts]
        actions.append(acts)
        obs.append([o[0] for o in out])
        rewards.append([o[1] for o in out])
    return physics, np.array(first), np.array(actions), np.array(obs), np.array(rewards)


def measure(env_id: str, physics_name: str, starts: int, steps: int) -> dict:
    import purejaxppo as pjp
    from purejaxppo.envs.dmc import DMC_TASKS

    cls = DMC_TASKS[env_id]
    states, first, actions, obs, rewards = reference(cls, starts, steps)
    task = pjp.envs.make(env_id, physics=physics_name)
    initial = jax.tree.map(lambda *xs: jnp.stack(xs), *[task.reference_state(p) for p in states])

    def roll(initial, actions):
        start = task.begin(task.place(initial), initial.task, jax.random.PRNGKey(0))
        out = jax.lax.scan(lambda s, a: (task.step(s, a),) * 2, start, actions)[1]
        return start.obs, out.obs, out.reward

    t0 = time.perf_counter()
    program = jax.jit(jax.vmap(roll)).lower(initial, jnp.asarray(actions, task.dtype)).compile()
    seconds = time.perf_counter() - t0
    start, ours, reward = jax.tree.map(np.asarray, program(initial, actions.astype(task.dtype)))

    def err(a, b):
        return float(np.max(np.abs(a - b) / (1 + np.abs(b))))

    resets = starts // 2  # the first starts are resets, whose observation is a forward pass's
    return {
        "env": env_id,
        "reset_obs": err(start[:resets], first[:resets]),
        "obs_1": err(ours[:, 0], obs[:, 0]),
        "reward_1": err(reward[:, 0], rewards[:, 0]),
        "obs_k": err(ours, obs),
        "reward_k": err(reward, rewards),
        "compile_s": round(seconds, 1),
    }


def main() -> None:
    from purejaxppo.envs.dmc import DMC_TASKS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--physics", choices=["mjx", "warp"], default="mjx")
    p.add_argument("--envs", nargs="*", default=list(DMC_TASKS))
    p.add_argument("--starts", type=int, default=8, help="start states per task")
    p.add_argument("--steps", type=int, default=30, help="steps compared from each start")
    p.add_argument("--out-stem", type=Path, default=None)
    args = p.parse_args()
    if args.physics == "mjx":
        jax.config.update("jax_enable_x64", True)
    from purejaxppo.envs import EnvError

    rows = []
    for env_id in args.envs:
        try:
            row = measure(env_id, args.physics, args.starts, args.steps)
        except EnvError as e:  # a model feature the engine lacks: say which
            row = {"env": env_id, "error": str(e).splitlines()[0]}
        print(row, flush=True)
        rows.append(row)
    k = args.steps
    table = [
        f"| task | reset obs | obs, 1 step | reward, 1 step | obs, {k} steps | reward, {k} steps |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            table.append(f"| {r['env']} | {r['error']} | | | | |")
            continue
        cells = [f"{r[c]:.1e}" for c in ("reset_obs", "obs_1", "reward_1", "obs_k", "reward_k")]
        table.append(f"| {r['env']} | " + " | ".join(cells) + " |")
    stem = args.out_stem or common.results_dir() / f"dmc_parity_{args.physics}"
    precision = "float64" if args.physics == "mjx" else "float32"
    note = (
        f"# The suite on {args.physics} against dm_control ({precision})\n\n"
        f"{args.starts} starts per task (half resets, half mid-episode), random actions; the "
        "largest |ours - dm_control| / (1 + |dm_control|). The reset column is over the resets "
        "(placing a mid-episode state runs a forward pass, which recomputes the "
        "acceleration-stage sensors that dm_control's step left from its last substep).\n\n"
    )
    common.write(stem, {"rows": rows, "starts": args.starts, "steps": k}, note + "\n".join(table))


if __name__ == "__main__":
    main()
