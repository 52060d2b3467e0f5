"""The GPU measurements in one prepared command, for a short loan of a GPU machine.

Every stage writes its own results file as soon as it is done
(``<out-stem>_<stage>.{json,md}``, with the device and versions), so a run cut off by a time
limit still returns what it measured. The stages, in order of what matters most:

1. ``device``: versions and device; cold and cached compile time of the default trainer at GPU
   size (the cached one in a fresh process, with the cache the cold one filled);
2. ``speed``: raw env steps/s and trainer steps/s (and trainer / raw) for HalfCheetah-v5 and
   Ant-v5 at 2048 and 8192 envs, on each engine available there (MJX, and MuJoCo Warp with the
   warp extra, on a GPU; MJX and the C engine on a CPU);
3. ``loops``: MJX's raw env steps/s with each form of its solver loops (``solver_loops``:
   auto, early_exit, fixed; the same values) at a small and a large batch;
4. ``seeds``: one seed against 64 vmapped seeds: wall time and steps/s of all seeds together;
5. ``brax``: Brax's ``ppo.train`` on the same env and batch shape, right after ours;
6. ``train``: a short HalfCheetah-v5 run to a fixed step count, its Gymnasium cross-check and
   wall time.

    uv run python benchmarks/gpu_suite.py                 # on a GPU machine
    uv run python benchmarks/gpu_suite.py --quick         # every stage at tiny sizes (CI, CPU)
    uv run python benchmarks/gpu_suite.py --stages speed seeds --num-envs 4096

Writes ``benchmarks/results/<platform>/gpu_suite_<stage>.{json,md}`` (``--out-stem`` to change).
On a machine where the project is not installed, install its dependencies and run it from the
repository root with ``PYTHONPATH=.`` (the stages that start processes start them there too).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax

import purejaxppo as pjp

sys.path.insert(0, str(Path(__file__).parent))
import common

ROOT = Path(__file__).parent.parent
STAGES = ("device", "speed", "loops", "seeds", "brax", "train")


def gpu_config(num_envs: int, **overrides) -> pjp.PPOConfig:
    """The trainer's shape at ``num_envs`` envs: rollouts of 32 steps, 8 minibatches, 4 epochs."""
    base = dict(
        num_envs=num_envs,
        batch_size=num_envs * 32,
        minibatch_size=num_envs * 4,
        n_epochs=4,
        eval_every=0,
    )
    return pjp.PPOConfig(**(base | overrides))


def compile_child(env_id: str, num_envs: int, physics: str) -> None:
    """In a fresh process: trace, lower and compile the trainer; print one JSON line."""
    t0 = time.perf_counter()
    pjp.enable_compilation_cache()
    env = pjp.envs.make(env_id, physics=physics)
    cfg = gpu_config(num_envs)
    cfg = cfg.replace(total_timesteps=cfg.batch_size)
    lowered = jax.jit(pjp.make_train(cfg, env)).lower(jax.random.PRNGKey(0))
    t1 = time.perf_counter()
    lowered.compile()
    t2 = time.perf_counter()
    print(json.dumps({"trace_lower_s": t1 - t0, "compile_s": t2 - t1}))


def stage_device(a: argparse.Namespace) -> dict:
    """Versions and device; cold and cached compile of the trainer at GPU size."""
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for start in ("cold", "cached"):
            cmd = [sys.executable, __file__, "--compile-child", "--envs", a.envs[0]]
            cmd += ["--num-envs", str(a.num_envs[0]), "--physics", a.physics]
            r = common.run_json(cmd, env=dict(os.environ, PUREJAXPPO_CACHE_DIR=cache))
            rows.append({"start": start, **r})
            print(f"  compile {start}: {r['compile_s']:.1f} s (trace {r['trace_lower_s']:.1f} s)")
    devices = [f"{d.platform}: {d.device_kind}" for d in jax.devices()]
    md = (
        f"Devices: {', '.join(devices)}. The trainer of {a.envs[0]} at {a.num_envs[0]} envs "
        f"({a.physics}), traced, lowered and compiled in a fresh process; cached: a second "
        "process with the cache the first filled.\n\n| start | trace + lower (s) | compile (s) |"
        "\n|---|---|---|\n"
        + "\n".join(
            f"| {r['start']} | {r['trace_lower_s']:.1f} | {r['compile_s']:.1f} |" for r in rows
        )
    )
    return {"devices": devices, "rows": rows, "markdown": md}


def _trainer_steps_per_s(env, cfg: pjp.PPOConfig, seeds: int) -> tuple[float, float, float]:
    """(steps/s of all seeds, wall s of the timed call, compile s)."""
    train = pjp.make_train(cfg, env)
    if seeds == 1:
        fn, args = jax.jit(train), (jax.random.PRNGKey(0),)
    else:
        fn, args = jax.jit(jax.vmap(train)), (jax.random.split(jax.random.PRNGKey(0), seeds),)
    compiled, compile_s = common.compiled(fn, *args)
    common.run_seconds(compiled, *args)  # the first call (allocations)
    seconds = common.run_seconds(compiled, *args)
    return cfg.num_updates * cfg.batch_size * seeds / seconds, seconds, compile_s


def engines_here(physics: str) -> list[str]:
    """The engines to time: the one asked for, or every one that runs on this backend."""
    if physics != "auto":
        return [physics]
    from purejaxppo.envs import warp

    warp_here = [] if warp.why_unavailable() else ["warp"]  # with the warp extra installed
    return ["mjx", "c"] if jax.default_backend() == "cpu" else ["mjx", *warp_here]


def stage_speed(a: argparse.Namespace) -> dict:
    """Raw env and trainer steps/s per task, batch size and engine."""
    rows = []
    for env_id in a.envs:
        for physics in engines_here(a.physics):
            env = pjp.envs.make(env_id, physics=physics)
            for n in a.num_envs:
                cfg = gpu_config(n)
                cfg = cfg.replace(total_timesteps=a.updates * cfg.batch_size)
                raw_fn = common.raw_env_fn(env, n, cfg.num_steps, a.updates, uniform=True)
                raw, raw_compile = common.compiled(raw_fn, jax.random.PRNGKey(0))
                common.run_seconds(raw, jax.random.PRNGKey(0))
                raw_sps = (
                    a.updates * cfg.batch_size / common.run_seconds(raw, jax.random.PRNGKey(1))
                )
                sps, _, compile_s = _trainer_steps_per_s(env, cfg, 1)
                row = {"env": env_id, "physics": physics, "num_envs": n, "raw_steps_per_s": raw_sps,
                       "trainer_steps_per_s": sps, "ratio": sps / raw_sps,
                       "raw_compile_s": raw_compile, "trainer_compile_s": compile_s}  # fmt: skip
                rows.append(row)
                print(
                    f"  {env_id} {physics} x{n}: raw {raw_sps:,.0f}  trainer {sps:,.0f}  "
                    f"({sps / raw_sps:.2f})",
                    flush=True,
                )
    md = (
        f"Steps/s, {a.updates} updates of rollouts of 32 steps per env (raw: uniform random "
        "actions through the training stack; trainer: 8 minibatches, 4 epochs, no evaluation), "
        "compile excluded.\n\n| env | engine | envs | raw env | trainer | trainer / raw |\n"
        "|---|---|---|---|---|---|\n"
        + "\n".join(
            f"| {r['env']} | {r['physics']} | {r['num_envs']} | {r['raw_steps_per_s']:,.0f} | "
            f"{r['trainer_steps_per_s']:,.0f} | {r['ratio']:.2f} |"
            for r in rows
        )
    )
    return {"rows": rows, "markdown": md}


def stage_loops(a: argparse.Namespace) -> dict:
    """MJX's raw env steps/s per form of its solver loops, task and batch size."""
    rows = []
    for env_id in a.envs:
        for n in a.loop_envs:
            for loops in ("auto", "early_exit", "fixed"):
                env = pjp.envs.make(env_id, physics="mjx", solver_loops=loops)
                fn, compile_s = common.compiled(
                    common.raw_env_fn(env, n, 32, a.updates, uniform=True), jax.random.PRNGKey(0)
                )
                common.run_seconds(fn, jax.random.PRNGKey(0))
                sps = a.updates * 32 * n / common.run_seconds(fn, jax.random.PRNGKey(1))
                rows.append({"env": env_id, "num_envs": n, "solver_loops": loops,
                             "steps_per_s": sps, "compile_s": compile_s})  # fmt: skip
                print(f"  {env_id} x{n} {loops}: {sps:,.0f} steps/s", flush=True)
    md = (
        f"MJX raw env steps/s (uniform random actions through the training stack, {a.updates} x "
        "32 steps per env), compile excluded, per form of the solver's loops (the same values): "
        "auto = early exit on a CPU, a fixed-length line search elsewhere; early_exit = while "
        "loops; fixed = fixed-length line search and Newton loop.\n\n"
        "| env | envs | auto | early_exit | fixed |\n|---|---|---|---|---|\n"
        + "\n".join(
            f"| {env_id} | {n} | "
            + " | ".join(
                f"{r['steps_per_s']:,.0f}"
                for r in rows
                if r["env"] == env_id and r["num_envs"] == n
            )
            + " |"
            for env_id in a.envs
            for n in a.loop_envs
        )
    )
    return {"rows": rows, "markdown": md}


def stage_seeds(a: argparse.Namespace) -> dict:
    """One seed against ``--seeds`` vmapped seeds, each of ``--seed-envs`` envs."""
    env = pjp.envs.make(a.envs[0], physics=a.physics)
    cfg = gpu_config(a.seed_envs)
    cfg = cfg.replace(total_timesteps=a.updates * cfg.batch_size)
    rows = []
    for seeds in (1, a.seeds):
        sps, seconds, compile_s = _trainer_steps_per_s(env, cfg, seeds)
        rows.append({"seeds": seeds, "steps_per_s": sps, "wall_s": seconds, "compile_s": compile_s})
        print(f"  {seeds} seed(s): {sps:,.0f} steps/s, {seconds:.2f} s", flush=True)
    ratio = rows[1]["wall_s"] / rows[0]["wall_s"]
    md = (
        f"{a.envs[0]}, {a.seed_envs} envs per seed, {a.updates} updates: the trainer of one seed "
        f"and of {a.seeds} vmapped seeds. Wall of {a.seeds} seeds / wall of one: **{ratio:.2f}** "
        "(target: at most 2).\n\n| seeds | steps/s (all seeds) | wall (s) |\n|---|---|---|\n"
        + "\n".join(f"| {r['seeds']} | {r['steps_per_s']:,.0f} | {r['wall_s']:.2f} |" for r in rows)
    )
    return {"rows": rows, "wall_ratio": ratio, "markdown": md}


def stage_brax(a: argparse.Namespace) -> dict:
    """Brax's ppo.train (its peer runner, with the shim for jax >= 0.10), then ours, same shape."""
    n = a.num_envs[0]
    cfg = gpu_config(n, minibatch_size=n * 32 // 8)
    steps = 3 * a.updates * cfg.batch_size
    cmd = [sys.executable, str(ROOT / "benchmarks/peers/brax_ppo.py"), "--env", a.envs[0]]
    cmd += ["--steps", str(steps), "--num-envs", str(n), "--batch-size", str(cfg.batch_size)]
    cmd += ["--minibatches", "8", "--epochs", "4", "--physics", a.physics]
    brax = common.run_json(cmd)
    env = pjp.envs.make(a.envs[0], physics=a.physics)
    ours, _, _ = _trainer_steps_per_s(
        env, cfg.replace(total_timesteps=a.updates * cfg.batch_size), 1
    )
    ratio = ours / brax["steps_per_s"]
    print(f"  Brax {brax['steps_per_s']:,.0f}  purejaxppo {ours:,.0f}  ({ratio:.2f}x)", flush=True)
    md = (
        f"{a.envs[0]} ({brax['physics']}), {n} envs, {cfg.batch_size} transitions per update, 8 "
        "minibatches, 4 epochs. Brax's `ppo.train` timed over the last third of its run (its "
        "first calls compile), purejaxppo right after it, compile excluded.\n\n"
        "| trainer | steps/s | purejaxppo / it |\n|---|---|---|\n"
        f"| Brax ppo.train | {brax['steps_per_s']:,.0f} | |\n"
        f"| purejaxppo | {ours:,.0f} | **{ratio:.2f}x** |"
    )
    return {"brax": brax, "purejaxppo_steps_per_s": ours, "ratio": ratio, "markdown": md}


def stage_train(a: argparse.Namespace) -> dict:
    """A short run of the command line (its run directory, checkpoints, cross-check)."""
    with tempfile.TemporaryDirectory() as runs:
        n = a.num_envs[0]
        cfg = gpu_config(n)
        cmd = [sys.executable, "-m", "purejaxppo", "train", "--env", a.envs[0], "--no-progress"]
        cmd += ["--physics", a.physics, "--runs-dir", runs]
        cmd += ["--total-timesteps", str(a.train_steps), "--num-envs", str(n)]
        cmd += ["--batch-size", str(cfg.batch_size), "--minibatch-size", str(cfg.minibatch_size)]
        cmd += ["--n-epochs", "4", "--crosscheck-episodes", str(a.episodes)]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
        (run,) = Path(runs).iterdir()
        check = json.loads((run / "crosscheck.json").read_text())
    print(f"  {a.train_steps:,} steps in {wall:.0f} s; cross-check {check['verdict']}", flush=True)
    seeds = check["seeds"]
    md = (
        f"`purejaxppo train --env {a.envs[0]} --total-timesteps {a.train_steps}` at {n} envs: "
        f"{wall:.0f} s wall (compile included). Final policy: purejaxppo "
        f"{seeds[0]['ours']['mean']:.1f}, Gymnasium {seeds[0]['gymnasium']['mean']:.1f} "
        f"({a.episodes} episodes): {check['verdict']}.\n\n```\n{done.stdout.strip()}\n```"
    )
    return {"wall_s": wall, "crosscheck": check, "output": done.stdout, "markdown": md}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--stages", nargs="+", default=list(STAGES), help=", ".join(STAGES))
    p.add_argument("--envs", nargs="+", default=["HalfCheetah-v5", "Ant-v5"])
    p.add_argument("--num-envs", nargs="+", type=int, default=[2048, 8192])
    p.add_argument("--physics", default="auto", choices=common.ENGINES)
    p.add_argument("--updates", type=int, default=3, help="updates per timing")
    p.add_argument("--loop-envs", nargs="+", type=int, default=[64, 4096], help="loops stage")
    p.add_argument("--seeds", type=int, default=64)
    p.add_argument("--seed-envs", type=int, default=256, help="envs per seed in the seeds stage")
    p.add_argument("--train-steps", type=int, default=5_000_000)
    p.add_argument("--episodes", type=int, default=10, help="cross-check episodes")
    p.add_argument("--quick", action="store_true", help="every stage at tiny sizes (CI)")
    p.add_argument("--out-stem", type=Path, default=None, help="files STEM_<stage>.{json,md}")
    p.add_argument("--compile-child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.compile_child:
        return compile_child(a.envs[0], a.num_envs[0], a.physics)
    unknown = set(a.stages) - set(STAGES)
    if unknown:
        p.error(f"unknown stages {sorted(unknown)}: choose from {', '.join(STAGES)}")
    if a.quick:
        a.envs, a.num_envs, a.updates, a.seeds, a.seed_envs = ["InvertedPendulum-v5"], [8], 1, 2, 8
        a.loop_envs = [4]
        a.train_steps, a.episodes = 2048, 2
    sys.stdout.reconfigure(line_buffering=True)
    pjp.enable_compilation_cache()
    stem = a.out_stem or common.results_dir() / "gpu_suite"
    run = {"device": stage_device, "speed": stage_speed, "loops": stage_loops, "seeds": stage_seeds,
           "brax": stage_brax, "train": stage_train}  # fmt: skip
    for stage in a.stages:
        print(f"{stage}:", flush=True)
        r = run[stage](a)
        md = r.pop("markdown")
        common.write(stem.with_name(f"{stem.name}_{stage}"), r, md)


if __name__ == "__main__":
    main()
