"""Raw env throughput of every v5 task: MJX at several batch sizes beside Gymnasium's C MuJoCo.

Random actions, auto-reset, one process, one run; compile time excluded (and reported).

    uv run python benchmarks/env_speed.py                           # all tasks, batch 1 16 128
    uv run python benchmarks/env_speed.py --envs Hopper-v5 --batch-sizes 16 --seconds 1
    uv run python benchmarks/env_speed.py --solver-iterations 4 --ls-iterations 8
    uv run python benchmarks/env_speed.py --envs HalfCheetah-v5 --batch-sizes 16 48 --vmapped-solver
        # MJX's own vmapped solver instead of ours env by env (before/after: envs/mjx/speed.py)
    uv run python benchmarks/env_speed.py --envs Humanoid-v5 --batch-sizes 16 --batched-cholesky
        # JAX's batched LAPACK Cholesky instead of ours one matrix at a time (envs/mjx/speed.py)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import gymnasium as gym

import purejaxppo as pjp
from purejaxppo.envs.mjx.speed import batched_cholesky, vmapped_solver
from purejaxppo.envs.v5 import V5_TASKS

sys.path.insert(0, str(Path(__file__).parent))
import common


def gymnasium_steps_per_s(env_id: str, seconds: float) -> float:
    """Single-env C MuJoCo stepping with random actions, resetting at episode ends."""
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()
        steps += 100
    return steps / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--envs", nargs="*", default=list(V5_TASKS))
    p.add_argument("--batch-sizes", nargs="*", type=int, default=[1, 16, 128])
    p.add_argument("--seconds", type=float, default=2.0, help="per Gymnasium measurement")
    p.add_argument("--env-steps", type=int, default=4096, help="MJX steps timed per batch size")
    p.add_argument("--solver-iterations", type=int, default=None)
    p.add_argument("--ls-iterations", type=int, default=None)
    p.add_argument("--vmapped-solver", action="store_true", help="keep MJX's vmapped solver")
    p.add_argument(
        "--batched-cholesky",
        action="store_true",
        help="keep JAX's batched LAPACK Cholesky (it can hang at ~1024 envs on a 2-core CPU)",
    )
    p.add_argument("--out-stem", type=Path, default=None, help="write the rows as STEM.json")
    a = p.parse_args()
    pjp.enable_compilation_cache()
    physics = {
        "physics": "mjx",
        "solver_iterations": a.solver_iterations,
        "ls_iterations": a.ls_iterations,
    }
    rows = []
    head = " ".join(f"{'MJX x' + str(b):>10}" for b in a.batch_sizes)
    print(f"{'task':28s} {'C MuJoCo':>10} {head}   (steps/s; compile s)")
    for env_id in a.envs:
        env = pjp.envs.make(env_id, **physics)
        row = {
            "env": env_id,
            "gymnasium_steps_per_s": gymnasium_steps_per_s(env_id, a.seconds),
            "mjx": {},
        }
        for b in a.batch_sizes:
            with (
                vmapped_solver() if a.vmapped_solver else contextlib.nullcontext(),
                batched_cholesky() if a.batched_cholesky else contextlib.nullcontext(),
            ):
                sps, compile_s = common.env_steps_per_s(env, b, max(a.env_steps // b, 16))
            row["mjx"][b] = {"steps_per_s": sps, "compile_s": compile_s}
        rows.append(row)
        cells = " ".join(f"{row['mjx'][b]['steps_per_s']:10.0f}" for b in a.batch_sizes)
        compiles = ", ".join(f"{row['mjx'][b]['compile_s']:.0f}" for b in a.batch_sizes)
        print(
            f"{env_id:28s} {row['gymnasium_steps_per_s']:10.0f} {cells}   ({compiles})", flush=True
        )
    meta = {**common.meta(), **physics}
    meta["vmapped_solver"] = a.vmapped_solver
    meta["batched_cholesky"] = a.batched_cholesky
    if a.out_stem:
        a.out_stem.parent.mkdir(parents=True, exist_ok=True)
        a.out_stem.with_suffix(".json").write_text(
            json.dumps({"meta": meta, "rows": rows}, indent=2)
        )
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
