"""Devices: training steps/s against device meshes (seeds x data), the same work on each.

Every layout ``SxD`` trains the same runs (``--seeds`` seeds of ``--num-envs`` envs each, one
program: ``purejaxppo.runs.sweep.train_grid``) split over S devices on the seeds axis and D on
each run's envs; ``1x1`` is one device without a mesh. It reports steps/s (all seeds, compile
excluded), the speed-up over ``1x1``, and the largest difference of the final parameters from
``1x1``'s (the same algorithm: float round-off, amplified by the task's dynamics).

On a CPU, ``--force-host-devices N`` splits this machine's CPU into N XLA devices: they share
the same cores, so the table shows that every layout computes the same training, not how it
scales. On a machine with several GPUs the same command measures scaling:

    uv run python benchmarks/devices.py --force-host-devices 4 --quick   # this CPU (CI)
    uv run python benchmarks/devices.py --force-host-devices 4           # this CPU
    uv run python benchmarks/devices.py --env Ant-v5 --physics mjx --num-envs 8192 \\
        --batch-size 262144 --minibatch-size 32768 --total-timesteps 20971520 --seeds 8 \\
        --layouts 1x1 1x2 1x4 1x8 2x4 8x1                                 # 8 GPUs

Writes ``benchmarks/results/<platform>/devices_<env>.{json,md}`` (``--out-stem`` to change).
"""

from __future__ import annotations

import os
import sys

if "--force-host-devices" in sys.argv:  # before JAX starts: it fixes the device count then
    n = sys.argv[sys.argv.index("--force-host-devices") + 1]
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n}"
    )

import argparse
from pathlib import Path

import jax
import numpy as np

import purejaxppo as pjp
from purejaxppo.parallel.mesh import Layout, check
from purejaxppo.runs.sweep import train_grid

sys.path.insert(0, str(Path(__file__).parent))
import common


def measure(env, cfg: pjp.PPOConfig, seeds: int, layouts: list[Layout]) -> list[dict]:
    """A row per layout: steps/s, compile seconds, and the parameters' distance from 1x1's."""
    rows, ref = [], None
    for layout in layouts:
        check(layout, seeds, cfg.num_envs)
        out = train_grid(env, cfg, [{}], seeds, None if layout.devices == 1 else layout, False)
        params = jax.tree.leaves(jax.device_get(out["policy"].params))
        ref = params if ref is None else ref
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ref, params, strict=True))
        last = np.asarray(out["metrics"].episode_return)[:, -1]  # [seeds]
        row = {"layout": str(layout), "devices": layout.devices,
               "steps_per_s": out["steps_per_s"], "compile_s": out["compile_s"],
               "max_param_diff": diff, "train_return": float(np.nanmean(last))}  # fmt: skip
        rows.append(row)
        print(f"  {layout}: {row['steps_per_s']:,.0f} steps/s, params within {diff:.1e}")
    return rows


def markdown(meta: dict, rows: list[dict]) -> str:
    """The table, with what the layouts split and how to read it."""
    base = rows[0]["steps_per_s"]
    lines = [
        f"# Devices: {meta['env']} ({meta['engine']}), {meta['seeds']} seeds x "
        f"{meta['num_envs']} envs, {meta['steps']:,} steps per seed",
        "",
        meta["note"],
        "",
        "| mesh (seeds x data) | devices | steps/s | vs 1x1 | compile s | max param diff vs 1x1 "
        "| training return |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layout']} | {r['devices']} | {r['steps_per_s']:,.0f} | "
            f"{r['steps_per_s'] / base:.2f} | {r['compile_s']:.1f} | {r['max_param_diff']:.1e} "
            f"| {r['train_return']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--physics", choices=common.ENGINES, default=None)
    p.add_argument("--layouts", nargs="+", default=["1x1", "1x2", "1x4", "2x1", "2x2", "4x1"])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--minibatch-size", type=int, default=256)
    p.add_argument("--total-timesteps", type=int, default=20480)
    p.add_argument("--force-host-devices", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="tiny sizes: does it run (CI)")
    p.add_argument("--out-stem", type=Path, default=None)
    a = p.parse_args()
    pjp.enable_compilation_cache()
    if a.quick:
        a.num_envs, a.batch_size, a.minibatch_size, a.total_timesteps = 8, 256, 64, 1024
        a.layouts = [t for t in a.layouts if t in ("1x1", "1x2", "2x2")] or a.layouts[:2]
    cfg = pjp.PPOConfig(
        total_timesteps=a.total_timesteps, num_envs=a.num_envs, batch_size=a.batch_size,
        minibatch_size=a.minibatch_size, eval_every=0,
    ).validate()  # fmt: skip
    layouts = [Layout.parse(t) for t in a.layouts]
    if layouts[0] != Layout():
        layouts.insert(0, Layout())  # the reference
    for layout in layouts:  # every layout is checked before the first compiles
        check(layout, a.seeds, cfg.num_envs)
    kwargs = {"physics": a.physics} if a.physics else {}
    env = pjp.envs.make(a.env, **kwargs)
    engine = pjp.runs.policy.engine_name(env)
    print(f"{a.env} ({engine}) on {jax.device_count()} x {jax.devices()[0].device_kind}")
    rows = measure(env, cfg, a.seeds, layouts)
    forced = a.force_host_devices is not None
    note = (
        f"{jax.device_count()} XLA host devices forced on {os.cpu_count()} CPUs: they share the "
        "cores, so this is a correctness run (every layout trains the same runs), not scaling."
        if forced
        else f"{jax.device_count()} x {jax.devices()[0].device_kind}."
    ) + (
        " Strong scaling: the same seeds x envs on every layout. Steps/s: all seeds together, "
        "compile excluded. Max param diff: the largest difference of any final parameter from "
        "1x1's: float sums in another order change the last bits of the actions, which the "
        "task's dynamics amplify, so the runs drift apart as they go (1e-7 to 1e-6 after six "
        "updates: `tests/test_parallel.py`) while training alike: training return, the mean "
        "over seeds of the last update's training episodes."
    )
    meta = {"env": a.env, "engine": engine, "seeds": a.seeds, "num_envs": a.num_envs,
            "steps": cfg.num_updates * cfg.batch_size, "note": note,
            "config": cfg.to_dict(), "forced_host_devices": a.force_host_devices}  # fmt: skip
    stem = a.out_stem or common.results_dir() / f"devices_{a.env.lower().replace('-', '_')}"
    if a.quick:
        print(markdown(meta, rows))
        return
    common.write(stem, {"meta": meta, "rows": rows}, markdown(meta, rows))


if __name__ == "__main__":
    main()
