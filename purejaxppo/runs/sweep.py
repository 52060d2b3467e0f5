"""A hyperparameter sweep: a grid x seeds in one compiled program, every policy scored in Gymnasium.

The float fields of :class:`~purejaxppo.config.PPOConfig` are traced, so every point of a grid
of them (the product of the values given for each field) trains in one program, vmapped over
points and seeds (``jax.vmap(trainer.run)`` over runner states and stacked configs). Seed ``s``
of every point starts from the same key (common random numbers: the points differ only by their
hyperparameters). Each final policy is then scored by deterministic episodes in Gymnasium's own
task, beside the run's last evaluation in the program. ``purejaxppo sweep`` runs it.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import itertools
import json
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo.config import ConfigError, PPOConfig, stack_configs
from purejaxppo.envs.base import Env
from purejaxppo.envs.v5 import V5_TASKS
from purejaxppo.runs import run_dir, session
from purejaxppo.runs.crosscheck import gymnasium_returns
from purejaxppo.runs.policy import LoadedPolicy
from purejaxppo.train import make_train

RESULT = "sweep.json"
TABLE = "sweep.md"


def parse_grid(items: list[str], base: PPOConfig) -> dict[str, list[float]]:
    """``["name=v1,v2", ...]`` -> ``{name: [v1, v2]}``; only traced (float) fields can be swept.

    Raises:
        ConfigError: before anything is compiled, for a malformed item, an unknown field (with
            the close matches) or a static field (a size: it changes the program).
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


def train_grid(env: Env, base: PPOConfig, points: list[dict[str, float]], seeds: int) -> dict:
    """Trains every point x seed in one vmapped program, in chunks with a progress line.

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
    trainer = make_train(base, env)
    stacked = stack_configs([c for c in configs for _ in range(seeds)])
    keys = jnp.stack([jax.random.PRNGKey(s) for _ in points for s in range(seeds)])
    U, K = base.num_updates, session.chunk_updates(base.num_updates)

    init = jax.jit(jax.vmap(trainer.init))
    chunk = jax.jit(jax.vmap(lambda r, c, first: trainer.run(r, first, K, c), in_axes=(0, 0, None)))
    runner = init(keys, stacked)
    t0 = time.perf_counter()
    run = chunk.lower(runner, stacked, jnp.zeros((), jnp.int32)).compile()
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


def score(
    env_id: str, env_kwargs: dict, out: dict, points: list[dict], seeds: int, episodes: int
) -> list[dict]:
    """A row per point: Gymnasium returns of its seeds' final policies, and the program's eval."""
    m = out["metrics"]
    rows = []
    for i, (point, cfg) in enumerate(zip(points, out["configs"], strict=True)):
        gym, ours, train = [], [], []
        for s in range(seeds):
            j = i * seeds + s
            one = jax.tree.map(lambda x, j=j: x[j], out["policy"])
            if all(np.isfinite(x).all() for x in jax.tree.leaves(one)):
                policy = LoadedPolicy.of(env_id, cfg, one, env_kwargs)
                gym.append(float(gymnasium_returns(policy, episodes).mean()))
            else:  # this run diverged: scored NaN, the others still count
                print(f"  {point} seed {s}: parameters not finite (diverged); scored NaN")
                gym.append(float("nan"))
            ours.append(float(m.eval_return[j, -1]))
            ended = np.isfinite(m.episode_return[j])
            train.append(float(m.episode_return[j][ended][-1]) if ended.any() else float("nan"))
        rows.append({"point": point, "gymnasium_per_seed": gym, "eval_per_seed": ours,
                     "last_train_return_per_seed": train})  # fmt: skip
    return rows


def markdown(meta: dict, rows: list[dict]) -> str:
    """The table: one line per point, best Gymnasium mean first (a diverged point last)."""
    names = list(rows[0]["point"])
    lines = [
        f"Sweep of {meta['env']} {meta['env_kwargs']}, {meta['steps']:,} steps, {meta['seeds']} "
        f"seeds per point; one program for all {meta['runs']} runs, {meta['steps_per_s']:,.0f} "
        f"steps/s together (compile {meta['compile_s']:.0f} s). Score: the final deterministic "
        f"policy in Gymnasium's own task, {meta['episodes']} episodes per seed; mean over seeds "
        "[min, max]. Eval: the run's last evaluation in the program (mean over seeds). "
        "Training: the last training episodes' return (mean over seeds).",
        "",
        "| " + " | ".join(names) + " | Gymnasium return | eval | training |",
        "|" + "---|" * (len(names) + 3),
    ]

    def rank(r: dict) -> float:
        return -np.nan_to_num(np.mean(r["gymnasium_per_seed"]), nan=-np.inf)

    for r in sorted(rows, key=rank):
        g = np.array(r["gymnasium_per_seed"])
        lines.append(
            "| " + " | ".join(f"{r['point'][n]:g}" for n in names) + " | "
            f"{g.mean():.0f} [{g.min():.0f}, {g.max():.0f}] | {np.mean(r['eval_per_seed']):.0f} | "
            f"{np.nanmean(r['last_train_return_per_seed']):.0f} |"
        )
    return "\n".join(lines) + "\n"


def run_sweep(
    env: Env,
    env_id: str,
    env_kwargs: dict,
    base: PPOConfig,
    grid: dict[str, list[float]],
    seeds: int,
    episodes: int,
    out_dir: Path | None = None,
) -> dict:
    """Trains and scores the grid; writes ``sweep.json`` and ``sweep.md`` into ``out_dir``.

    Args:
        env: the environment, built from ``env_id`` and ``env_kwargs``.
        env_id: its id (Gymnasium's, for the scoring).
        env_kwargs: its constructor keywords (recorded; the scoring passes Gymnasium's on).
        base: the config every point starts from.
        grid: the swept float fields and their values (:func:`parse_grid`).
        seeds: seeds per point.
        episodes: Gymnasium episodes per seed.
        out_dir: where the two files go (made if missing); None writes nothing.

    Returns:
        ``{"meta": ..., "rows": [...]}``, as written.

    Raises:
        ConfigError: the env has no Gymnasium twin to score in, or a point's config is invalid.
    """
    if env_id not in V5_TASKS:
        raise ConfigError(f"{env_id} has no Gymnasium twin: a sweep scores policies in Gymnasium")
    points = points_of(grid)
    print(
        f"{env_id}: {len(points)} points x {seeds} seeds x {base.total_timesteps:,} steps, "
        "one program"
    )
    out = train_grid(env, base, points, seeds)
    rows = score(env_id, env_kwargs, out, points, seeds, episodes)
    meta = {
        "env": env_id, "env_kwargs": env_kwargs, "steps": base.total_timesteps, "seeds": seeds,
        "episodes": episodes, "runs": len(points) * seeds, "grid": grid,
        "config": base.to_dict(), "steps_per_s": out["steps_per_s"],
        "compile_s": out["compile_s"], "versions": run_dir.versions(),
        "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
    }  # fmt: skip
    result = {"meta": meta, "rows": rows}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / RESULT).write_text(json.dumps(result, indent=2) + "\n")
        (out_dir / TABLE).write_text(markdown(meta, rows))
    return result
