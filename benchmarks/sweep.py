"""A hyperparameter grid x seeds on one env, in one compiled program, scored in Gymnasium.

Every point of the grid (the product of the ``--grid`` values) is trained with ``--seeds`` seeds,
all vmapped together: the float fields of ``PPOConfig`` are traced, so the whole grid is one
program (``jax.vmap(train.run)`` over runner states and configs). Seed ``s`` of every point starts
from the same key (common random numbers: the points differ only by their hyperparameters). Each
final policy is then scored by ``--episodes`` deterministic episodes in Gymnasium's own task (C
MuJoCo), beside the run's last MJX evaluation. This is how the per-env presets were chosen
(``purejaxppo/presets.py`` cites the commands).

    uv run python benchmarks/sweep.py --env Hopper-v5 --steps 500000 --seeds 3 \\
        --grid entropy_coeff=0.01,0 log_std_init=-1,-0.5
    uv run python benchmarks/sweep.py --quick                            # tiny, for CI

Writes ``benchmarks/results/sweep_<env>_<device>.{json,md}`` (``--out-stem`` to change).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import purejaxppo as pjp
from purejaxppo import session
from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.crosscheck import LoadedPolicy, gymnasium_returns
from purejaxppo.presets import preset_config


def parse_grid(items: list[str], base: PPOConfig) -> dict[str, list[float]]:
    """``["name=v1,v2", ...]`` -> ``{name: [v1, v2]}``; only traced (float) fields can be swept.

    Raises ConfigError, before anything is compiled, for a malformed item, an unknown field (with
    the close matches) or a static field (a size: it changes the program, so sweep it by separate
    runs).
    """
    static = set(base.static_fields())
    traced = {f.name for f in dataclasses.fields(base)} - static
    grid: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not values:
            raise ConfigError(f"--grid item {item!r}: write name=v1,v2 (e.g. entropy_coeff=0.01,0)")
        if name in static:
            raise ConfigError(
                f"--grid {name}: a static field (it fixes the program); only the float "
                f"hyperparameters can share one program: {', '.join(sorted(traced))}"
            )
        if name not in traced:
            close = difflib.get_close_matches(name, traced, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"--grid {name}: not a PPOConfig field.{hint}")
        try:
            grid[name] = [float(v) for v in values.split(",")]
        except ValueError as e:
            raise ConfigError(f"--grid {item!r}: values must be numbers ({e})") from None
    return grid


def points_of(grid: dict[str, list[float]]) -> list[dict[str, float]]:
    """Every combination of the grid's values (one point with nothing swept for an empty grid)."""
    names = list(grid)
    return [dict(zip(names, vs, strict=True)) for vs in itertools.product(*grid.values())]


def sweep(env: pjp.envs.Env, base: PPOConfig, points: list[dict[str, float]], seeds: int) -> dict:
    """Trains every point x seed in one vmapped program; returns its policies and metrics.

    Args:
        env: the (unbatched) environment.
        base: the config whose static fields (sizes) every point shares.
        points: the float fields each point sets (``{}`` for ``base`` itself).
        seeds: runs per point; seed ``s`` of every point starts from ``PRNGKey(s)``.

    Returns:
        ``policy`` and ``metrics`` with a leading axis of ``len(points) * seeds`` (point-major),
        ``configs`` (one per point), ``steps_per_s`` (all runs together, compile excluded) and
        ``compile_s``.
    """
    configs = [base.replace(**p).validate() for p in points]  # a bad value fails here, early
    train = pjp.make_train(base, env)
    stacked = pjp.stack_configs([c for c in configs for _ in range(seeds)])
    keys = jnp.stack([jax.random.PRNGKey(s) for _ in points for s in range(seeds)])
    U, K = base.num_updates, session.chunk_updates(base.num_updates)

    init = jax.jit(jax.vmap(train.init))
    run = jax.jit(jax.vmap(lambda r, c, first: train.run(r, first, K, c), in_axes=(0, 0, None)))
    runner = init(keys, stacked)
    t0 = time.perf_counter()
    run = run.lower(runner, stacked, jnp.zeros((), jnp.int32)).compile()
    compile_s = time.perf_counter() - t0

    chunks, t0 = [], time.perf_counter()
    for first in range(0, U, K):
        runner, m = run(runner, stacked, jnp.asarray(first, jnp.int32))
        chunks.append(jax.device_get(m))
        ret = chunks[-1].episode_return.reshape(len(points), seeds, K)  # already on the host
        with warnings.catch_warnings():  # NaN for a point none of whose episodes ended yet
            warnings.simplefilter("ignore", RuntimeWarning)
            ret = np.nanmean(ret, axis=(1, 2))
        done = (first + K) * base.batch_size
        print(f"  {done:>10,} steps  training return per point {np.round(ret).tolist()}")
    seconds = time.perf_counter() - t0
    metrics = jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *chunks)
    return {
        "policy": runner.policy,
        "metrics": metrics,
        "configs": configs,
        "steps_per_s": len(points) * seeds * U * base.batch_size / seconds,
        "compile_s": compile_s,
    }


def score(env_id: str, out: dict, points: list[dict], seeds: int, episodes: int) -> list[dict]:
    """A row per point: Gymnasium returns of its seeds' final policies, and the MJX evaluation."""
    m = out["metrics"]
    rows = []
    for i, (point, cfg) in enumerate(zip(points, out["configs"], strict=True)):
        gym, mjx, train = [], [], []
        for s in range(seeds):
            j = i * seeds + s
            one = jax.tree.map(lambda x, j=j: x[j], out["policy"])
            if all(np.isfinite(x).all() for x in jax.tree.leaves(one)):
                policy = LoadedPolicy.of(env_id, cfg, one)
                gym.append(float(gymnasium_returns(policy, episodes).mean()))
            else:  # this run diverged: scored NaN, the others still count
                print(f"  {point} seed {s}: parameters not finite (diverged); scored NaN")
                gym.append(float("nan"))
            mjx.append(float(m.eval_return[j, -1]))
            ended = np.isfinite(m.episode_return[j])
            train.append(float(m.episode_return[j][ended][-1]) if ended.any() else float("nan"))
        rows.append({"point": point, "gymnasium_per_seed": gym, "mjx_per_seed": mjx,
                     "last_train_return_per_seed": train})  # fmt: skip
    return rows


def markdown(meta: dict, rows: list[dict]) -> str:
    """The table: one line per point, best Gymnasium mean first."""
    names = list(rows[0]["point"])
    lines = [
        f"# Sweep: {meta['env']}, {meta['steps']:,} steps, {meta['seeds']} seeds "
        f"({meta['device']})",
        "",
        f"`{meta['command']}`",
        "",
        f"Base preset `{meta['preset']}`; one program for all {meta['runs']} runs, "
        f"{meta['steps_per_s']:,.0f} steps/s together (compile {meta['compile_s']:.0f} s). "
        f"Score: the final deterministic policy in Gymnasium's own task, {meta['episodes']} "
        "episodes per seed; mean over seeds [min, max]. MJX eval: the run's last evaluation "
        "(mean over seeds). Training: the last training episodes' return (mean over seeds).",
        "",
        "| " + " | ".join(names) + " | Gymnasium return | MJX eval | training |",
        "|" + "---|" * (len(names) + 3),
    ]

    def rank(r: dict) -> float:  # best first; a point with a diverged seed (NaN) last
        return -np.nan_to_num(np.mean(r["gymnasium_per_seed"]), nan=-np.inf)

    for r in sorted(rows, key=rank):
        g = np.array(r["gymnasium_per_seed"])
        lines.append(
            "| " + " | ".join(f"{r['point'][n]:g}" for n in names) + " | "
            f"{g.mean():.0f} [{g.min():.0f}, {g.max():.0f}] | {np.mean(r['mjx_per_seed']):.0f} | "
            f"{np.nanmean(r['last_train_return_per_seed']):.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--steps", type=int, default=500_000, help="env steps per run")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--preset", default="seed", help="the base the grid's values replace")
    p.add_argument("--grid", nargs="*", default=["entropy_coeff=0.01,0", "log_std_init=-1,-0.5"])
    p.add_argument("--episodes", type=int, default=10, help="Gymnasium episodes per seed")
    p.add_argument("--physics", default="auto", choices=["auto", "c", "mjx"], help="v5 engine")
    p.add_argument("--quick", action="store_true", help="InvertedPendulum-v5, 8192 steps (CI)")
    p.add_argument("--out-stem", type=Path, default=None)
    a = p.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress lines as they come, also into a file
    if a.quick:
        a.env, a.steps, a.seeds, a.episodes = "InvertedPendulum-v5", 8192, 2, 2
    try:
        base = preset_config(a.preset).replace(total_timesteps=a.steps).validate()
        points = points_of(parse_grid(a.grid, base))
        # an unknown id names the close matches, before compiling
        env = pjp.envs.make(a.env, physics=a.physics)
    except (ConfigError, KeyError, pjp.envs.EnvError) as e:
        raise SystemExit(f"error: {e}") from None
    pjp.enable_compilation_cache()
    device = jax.devices()[0].platform
    name = a.env.lower().replace("-", "_")
    stem = a.out_stem or Path(__file__).parent / "results" / f"sweep_{name}_{device}"
    print(f"{a.env}: {len(points)} points x {a.seeds} seeds x {a.steps:,} steps, one program")
    out = sweep(env, base, points, a.seeds)
    rows = score(a.env, out, points, a.seeds, a.episodes)
    meta = {
        "env": a.env, "steps": a.steps, "seeds": a.seeds, "preset": a.preset,
        "episodes": a.episodes, "runs": len(points) * a.seeds,
        "steps_per_s": out["steps_per_s"], "compile_s": out["compile_s"],
        "device": jax.devices()[0].device_kind, "jax": jax.__version__,
        "command": "uv run python benchmarks/sweep.py " + " ".join(sys.argv[1:]),
    }  # fmt: skip
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    stem.with_suffix(".md").write_text(markdown(meta, rows))
    print(markdown(meta, rows))
    print(f"wrote {stem}.json, .md")


if __name__ == "__main__":
    main()
