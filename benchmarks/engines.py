"""The physics engines on a CPU: the C engine against its limit, MJX and the peers, in one run.

Five measurements, each its own subcommand (all of them when none is named):

    uv run python benchmarks/engines.py raw       # the C engine stepping the training stack in
        # the compiled scan, beside plain multi-threaded C MuJoCo stepping the same batch outside
        # JAX (mujoco.batch, same threads: the limit), and EnvPool's XLA interface (its own env)
    uv run python benchmarks/engines.py callback  # the same step through jax.pure_callback (the
        # mechanism not chosen) against the C engine's FFI call
    uv run python benchmarks/engines.py trainer   # trainer steps/s at the default shape: the C
        # engine, the MJX engine and Stable-Baselines3 (its own env), one task after the other
    uv run python benchmarks/engines.py seeds     # 8 vmapped seeds against 1, C engine
    uv run python benchmarks/engines.py command   # the default command (`purejaxppo train`) on
        # each engine: wall time, compile time cold (empty cache) and warm (second start)
    uv run python benchmarks/engines.py --quick   # every part at tiny sizes (CI)

The peers run in their own environments (``bash benchmarks/peers/setup.sh sb3|envpool``); a
peer that is not set up is skipped and said so. Results: ``benchmarks/results/<platform>/
engines_<part>.{json,md}`` (``--out-stem`` to change the ``.../engines`` part).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from mujoco import batch as mj_batch

import purejaxppo as pjp
from purejaxppo.envs.c import default_threads

sys.path.insert(0, str(Path(__file__).parent))
import common

ROOT = Path(__file__).parent.parent
PEERS = ROOT / "benchmarks" / ".peers"
TASKS = ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5")


# ---- raw stepping ------------------------------------------------------------------------------
def physics_program(env: pjp.envs.Env, num_envs: int, steps: int):
    """A jitted scan of the engine's batched step alone (no observations, rewards or resets)."""
    engine = env.engine
    lo, hi = env.action_low, env.action_high

    def run(key):
        qpos = jnp.broadcast_to(env.init_qpos, (num_envs, env.mj_model.nq))
        start = pjp.envs.InitialState(qpos=qpos, qvel=jnp.zeros((num_envs, env.mj_model.nv)))
        data = jax.vmap(env.place)(start)

        def step(data, k):
            a = jax.random.uniform(k, (num_envs, env.action_size), minval=lo, maxval=hi)
            data = jax.vmap(engine.step)(data, a)
            return data, data.qpos[:, 0].sum()

        return jax.lax.scan(step, data, jax.random.split(key, steps))[1].sum()

    return jax.jit(run)


def plain_batch(env: pjp.envs.Env, num_envs: int, steps: int, threads: int):
    """``run()``: C MuJoCo's own batch stepping the same model, outside JAX, random controls."""
    b = mj_batch.Batch(env.mj_model, num_envs, nthread=threads)
    for field in env.data_fields:  # copied out after every step, as the C engine does
        b.bind(field)
    ctrl = b.bind("ctrl")
    lo, hi = env.mj_model.actuator_ctrlrange.T
    rng = np.random.default_rng(0)

    def run() -> None:
        for _ in range(steps):
            ctrl[:] = rng.uniform(lo, hi, ctrl.shape)
            b.step(nstep=env.frame_skip)

    return run


def envpool_raw(env_id: str, num_envs: int, steps: int, threads: int) -> dict | None:
    """EnvPool's steps/s in a jitted scan through its XLA interface, or None if not set up."""
    python = PEERS / "envpool" / "bin" / "python"
    if not python.exists():
        print("  EnvPool: skipped (make its environment: bash benchmarks/peers/setup.sh envpool)")
        return None
    cmd = [str(python), str(ROOT / "benchmarks/peers/envpool_raw.py"), "--env", env_id]
    cmd += ["--num-envs", str(num_envs), "--steps", str(steps), "--threads", str(threads)]
    return common.run_json(cmd)


def raw(envs: list[str], batches: list[int], steps: int, threads: int, repeats: int) -> dict:
    rows = []
    for env_id in envs:
        env = pjp.envs.make(env_id, physics="c", threads=threads)
        for n in batches:
            key = jax.random.PRNGKey(0)
            t0 = time.perf_counter()
            stack = common.raw_env_fn(env, n, steps, uniform=True).lower(key).compile()
            compile_s = time.perf_counter() - t0
            physics = physics_program(env, n, steps).lower(key).compile()
            best = common.best_seconds(
                {
                    "physics": lambda f=physics, k=key: jax.block_until_ready(f(k)),
                    "plain": plain_batch(env, n, steps, threads),
                    "stack": lambda f=stack, k=key: jax.block_until_ready(f(k)),
                },
                repeats,
            )
            row = {
                "env": env_id,
                "num_envs": n,
                "threads": threads,
                "c_engine_steps_per_s": n * steps / best["physics"],
                "plain_c_steps_per_s": n * steps / best["plain"],
                "training_stack_steps_per_s": n * steps / best["stack"],
                "compile_s": compile_s,
            }
            row["ratio"] = row["c_engine_steps_per_s"] / row["plain_c_steps_per_s"]
            pool = envpool_raw(env_id, n, steps, threads)
            if pool is not None and "steps_per_s" in pool:
                row["envpool_steps_per_s"] = pool["steps_per_s"]
                row["envpool_version"] = pool["version"]
            rows.append(row)
            extra = (
                f"  EnvPool {row['envpool_steps_per_s']:,.0f}"
                if "envpool_steps_per_s" in row
                else ""
            )
            print(
                f"  {env_id} x{n}: C engine {row['c_engine_steps_per_s']:,.0f}  plain C "
                f"{row['plain_c_steps_per_s']:,.0f}  ratio {row['ratio']:.2f}  training stack "
                f"{row['training_stack_steps_per_s']:,.0f}{extra}",
                flush=True,
            )
    lines = [
        f"Env steps/s, uniform random actions, {threads} threads; {steps} batched steps per",
        f"timing, the programs in turn, best of {repeats}. C engine: its batched step alone in a",
        "jitted scan, from the initial state, no resets. Plain C: `mujoco.batch` stepping the",
        "same batch from Python with the same threads, from the same state (without",
        "`mj_rnePostConstraint`): the limit. Training stack: the C engine under the training",
        "wrappers (observations, rewards, time limit, auto-reset to fresh random states).",
        "EnvPool: its own v5 task through its XLA interface in a jitted scan (with its resets).",
        "",
        "| env | envs | C engine | plain C MuJoCo | C engine / plain | training stack | EnvPool |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pool = f"{r['envpool_steps_per_s']:,.0f}" if "envpool_steps_per_s" in r else "-"
        lines.append(
            f"| {r['env']} | {r['num_envs']} | {r['c_engine_steps_per_s']:,.0f} | "
            f"{r['plain_c_steps_per_s']:,.0f} | **{r['ratio']:.2f}** | "
            f"{r['training_stack_steps_per_s']:,.0f} | {pool} |"
        )
    return {"rows": rows, "markdown": "\n".join(lines)}


# ---- the mechanism: FFI call against a Python host callback ----------------------------------
def callback_program(env: pjp.envs.Env, num_envs: int, steps: int, threads: int):
    """The same batched step through ``jax.pure_callback`` into ``mujoco.batch`` (the rejected
    mechanism): state rows in and out of the scan as raw bits, qpos and qvel out."""
    b = mj_batch.Batch(env.mj_model, num_envs, nthread=threads)
    ctrl, qpos, qvel = b.bind("ctrl"), b.bind("qpos"), b.bind("qvel")
    nstate, lo, hi = b.nstate, env.action_low, env.action_high

    def host(rows, action):
        b.state[:] = np.asarray(rows).view(np.float64).reshape(num_envs, nstate)
        ctrl[:] = action
        b.step(nstep=env.frame_skip)
        return b.state.view(np.uint32).copy(), np.concatenate([qpos, qvel], 1).astype(np.float32)

    out = (
        jax.ShapeDtypeStruct((num_envs, 2 * nstate), jnp.uint32),
        jax.ShapeDtypeStruct((num_envs, env.mj_model.nq + env.mj_model.nv), jnp.float32),
    )

    def run(key):
        def step(rows, k):
            a = jax.random.uniform(k, (num_envs, env.action_size), minval=lo, maxval=hi)
            rows, obs = jax.pure_callback(host, out, rows, a)
            return rows, obs[:, 0].sum()

        rows = jnp.asarray(b.state.view(np.uint32))
        return jax.lax.scan(step, rows, jax.random.split(key, steps))[1].sum()

    return jax.jit(run)


def callback(env_id: str, num_envs: int, steps: int, threads: int, repeats: int) -> dict:
    env = pjp.envs.make(env_id, physics="c", threads=threads)
    key = jax.random.PRNGKey(0)
    ffi = physics_program(env, num_envs, steps).lower(key).compile()
    cb = callback_program(env, num_envs, steps, threads).lower(key).compile()
    best = common.best_seconds(
        {
            "ffi": lambda: jax.block_until_ready(ffi(key)),
            "callback": lambda: jax.block_until_ready(cb(key)),
        },
        repeats,
    )
    r = {k: num_envs * steps / v for k, v in best.items()}
    print(f"  {env_id} x{num_envs}: FFI {r['ffi']:,.0f}  pure_callback {r['callback']:,.0f}")
    md = (
        f"{env_id}, {num_envs} envs, {threads} threads: the same batched step of C MuJoCo "
        f"(mjBatch) in a jitted scan, called through the C engine's XLA FFI handler, or through "
        f"`jax.pure_callback` into `mujoco.batch`; env steps/s, best of {repeats}.\n\n"
        f"| call | steps/s | ratio |\n|---|---|---|\n"
        f"| XLA FFI (the C engine) | {r['ffi']:,.0f} | 1 |\n"
        f"| jax.pure_callback | {r['callback']:,.0f} | **{r['callback'] / r['ffi']:.2f}** |"
    )
    return {
        "env": env_id,
        "num_envs": num_envs,
        "threads": threads,
        "steps_per_s": r,
        "markdown": md,
    }


# ---- trainers ----------------------------------------------------------------------------------
def trainer_steps_per_s(env: pjp.envs.Env, cfg: pjp.PPOConfig, seeds: int, repeats: int) -> dict:
    """Steps/s of the jitted trainer (one seed, or ``seeds`` vmapped), compile excluded."""
    train = pjp.make_train(cfg, env)
    if seeds == 1:
        fn, args = jax.jit(train), (jax.random.PRNGKey(0),)
    else:
        fn, args = jax.jit(jax.vmap(train)), (jax.random.split(jax.random.PRNGKey(0), seeds),)
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    best = common.best_seconds({"t": lambda: jax.block_until_ready(compiled(*args))}, repeats)
    steps = cfg.num_updates * cfg.batch_size * seeds
    return {"steps_per_s": steps / best["t"], "compile_s": compile_s, "env_steps": steps}


def sb3(env_id: str, steps: int) -> dict | None:
    python = PEERS / "sb3" / "bin" / "python"
    if not python.exists():
        print("  Stable-Baselines3: skipped (bash benchmarks/peers/setup.sh sb3)")
        return None
    cmd = [str(python), str(ROOT / "benchmarks/peers/sb3_ppo.py"), "--env", env_id]
    return common.run_json([*cmd, "--steps", str(steps)], env=dict(os.environ, JAX_PLATFORMS="cpu"))


def trainers(envs: list[str], updates: dict[str, int], cfg: pjp.PPOConfig, repeats: int) -> dict:
    rows = []
    for env_id in envs:
        row: dict = {"env": env_id}
        for physics in ("c", "mjx"):
            u = updates[physics]
            r = trainer_steps_per_s(
                pjp.envs.make(env_id, physics=physics),
                cfg.replace(total_timesteps=u * cfg.batch_size),
                1,
                repeats,
            )
            row[physics] = r
            print(f"  {env_id} {physics}: {r['steps_per_s']:,.0f} steps/s", flush=True)
        peer = sb3(env_id, updates["sb3"] * cfg.batch_size)
        if peer is not None:
            row["sb3"] = peer
            row["c_over_sb3"] = row["c"]["steps_per_s"] / peer["steps_per_s"]
            print(f"  {env_id} sb3: {peer['steps_per_s']:,.0f} steps/s", flush=True)
        row["c_over_mjx"] = row["c"]["steps_per_s"] / row["mjx"]["steps_per_s"]
        rows.append(row)
    lines = [
        f"Trainer steps/s at the default shape ({cfg.num_envs} envs, batch {cfg.batch_size}, "
        f"minibatch {cfg.minibatch_size}, {cfg.n_epochs} epochs, no evaluation), compile excluded,",
        f"from the first update (Stable-Baselines3: after its first update); updates timed: C "
        f"{updates['c']}, MJX {updates['mjx']}, SB3 {updates['sb3']}.",
        "",
        "| env | C engine | MJX engine | Stable-Baselines3 | C / MJX | C / SB3 |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        sb = f"{r['sb3']['steps_per_s']:,.0f}" if "sb3" in r else "-"
        over = f"**{r['c_over_sb3']:.1f}x**" if "sb3" in r else "-"
        lines.append(
            f"| {r['env']} | {r['c']['steps_per_s']:,.0f} | {r['mjx']['steps_per_s']:,.0f} | "
            f"{sb} | {r['c_over_mjx']:.1f}x | {over} |"
        )
    return {"rows": rows, "markdown": "\n".join(lines)}


# ---- seeds -------------------------------------------------------------------------------------
def seeds(env_id: str, many: int, cfg: pjp.PPOConfig, repeats: int) -> dict:
    env = pjp.envs.make(env_id, physics="c")
    one = trainer_steps_per_s(env, cfg, 1, repeats)
    all_ = trainer_steps_per_s(env, cfg, many, repeats)
    ratio = all_["steps_per_s"] / one["steps_per_s"]
    print(
        f"  1 seed {one['steps_per_s']:,.0f}; {many} seeds {all_['steps_per_s']:,.0f} ({ratio:.2f})"
    )
    md = (
        f"{env_id}, C engine, {cfg.num_envs} envs per seed, {cfg.num_updates} updates: steps/s of "
        f"all seeds together against one seed's.\n\n| seeds | steps/s (all seeds) | ratio |\n"
        f"|---|---|---|\n| 1 | {one['steps_per_s']:,.0f} | 1 |\n"
        f"| {many} | {all_['steps_per_s']:,.0f} | **{ratio:.2f}** |"
    )
    return {"env": env_id, "one": one, "many": all_, "seeds": many, "ratio": ratio, "markdown": md}


# ---- the default command -----------------------------------------------------------------------
def command(extra: list[str], engines: tuple[str, ...] = ("mjx", "c")) -> dict:
    """`purejaxppo train` on each engine, twice in one fresh cache: cold, then warm."""
    rows = []
    for physics in engines:
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as runs:
            env = dict(os.environ, PUREJAXPPO_CACHE_DIR=cache)
            for start in ("cold", "warm"):
                cmd = [sys.executable, "-m", "purejaxppo", "train", "--physics", physics]
                cmd += ["--runs-dir", runs, "--no-progress", *extra]
                t0 = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
                wall = time.perf_counter() - t0
                if done.returncode != 0:
                    sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
                out = done.stdout
                compiled = float(re.search(r"compiled in ([\d.]+) s", out).group(1))
                sps = float(re.search(r"([\d,]+) steps/s", out).group(1).replace(",", ""))
                row = {"physics": physics, "start": start, "wall_s": wall}
                row |= {"compile_s": compiled, "train_steps_per_s": sps}
                rows.append(row)
                print(f"  {physics} {start}: {wall:.0f} s (compile {compiled:.1f} s)", flush=True)
    lines = [
        "`uv run purejaxppo train` (HalfCheetah-v5, 500k steps, cross-check included) on each",
        "engine, in a fresh compilation cache: the first start compiles (cold), the second finds",
        "the program in the cache (warm). Wall: the whole process.",
        "",
        "| engine | start | wall (s) | compile (s) | training steps/s |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['physics']} | {r['start']} | {r['wall_s']:.0f} | {r['compile_s']:.1f} | "
        f"{r['train_steps_per_s']:,.0f} |"
        for r in rows
    ]
    return {"rows": rows, "extra_args": extra, "markdown": "\n".join(lines)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("parts", nargs="*", help="raw, callback, trainer, seeds, command (default: all)")
    p.add_argument("--envs", nargs="+", default=list(TASKS))
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 64])
    p.add_argument("--threads", type=int, default=default_threads())
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seeds", type=int, default=8, help="vmapped seeds of the seeds part")
    p.add_argument("--quick", action="store_true", help="every part at tiny sizes (CI)")
    p.add_argument("--out-stem", type=Path, default=None, help="files STEM_<part>.{json,md}")
    a = p.parse_args()
    pjp.enable_compilation_cache()
    known = ["raw", "callback", "trainer", "seeds", "command"]
    parts = a.parts or known
    if set(parts) - set(known):
        p.error(f"unknown parts {sorted(set(parts) - set(known))}: choose from {known}")
    stem = a.out_stem or common.results_dir() / "engines"
    cfg = pjp.PPOConfig(eval_every=0)
    steps, updates, extra = 1000, {"c": 10, "mjx": 3, "sb3": 5}, []
    if a.quick:
        a.envs, a.batch_sizes, a.repeats, a.seeds = ["InvertedPendulum-v5"], [8], 1, 2
        cfg = cfg.replace(num_envs=8, batch_size=256, n_epochs=2)
        steps, updates = 50, {"c": 2, "mjx": 1, "sb3": 1}
        extra = ["--env", "InvertedPendulum-v5", "--total-timesteps", "512", "--num-envs", "8"]
        extra += ["--batch-size", "256", "--n-epochs", "2", "--crosscheck-episodes", "2"]
    for part in parts:
        print(f"{part}:", flush=True)
        if part == "raw":
            r = raw(a.envs, a.batch_sizes, steps, a.threads, a.repeats)
        elif part == "callback":
            r = callback(a.envs[0], a.batch_sizes[0], steps, a.threads, a.repeats)
        elif part == "trainer":
            r = trainers(a.envs, updates, cfg, a.repeats)
        elif part == "seeds":
            r = seeds(
                a.envs[0],
                a.seeds,
                cfg.replace(total_timesteps=updates["c"] * cfg.batch_size),
                a.repeats,
            )
        else:
            r = command(extra, ("c",) if a.quick else ("mjx", "c"))  # quick: the code path once
        md = r.pop("markdown")
        common.write(stem.with_name(f"{stem.name}_{part}"), r, md)


if __name__ == "__main__":
    main()
