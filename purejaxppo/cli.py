"""Command line: ``purejaxppo train`` and ``purejaxppo envs`` (also ``python -m purejaxppo``)."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Annotated

import jax
import numpy as np
import tyro

import purejaxppo as pjp

DEFAULT_ENV = "HalfCheetah-v5"


@dataclasses.dataclass(frozen=True)
class Train:
    """Train PPO on one environment, several seeds side by side in one compiled program."""

    env: str = DEFAULT_ENV
    """Environment id (see `purejaxppo envs`)."""
    backend: str = "mjx"
    """Brax's physics backend, for brax/<name> ids: mjx, generalized, positional or spring."""
    solver_iterations: int | None = None
    """Cap on MJX's constraint-solver iterations for the v5 tasks (None: exact, the XML's)."""
    ls_iterations: int | None = None
    """Cap on MJX's line-search iterations for the v5 tasks (None: exact, the XML's)."""
    num_seeds: int = 1
    """Seeds trained at once (vmapped)."""
    seed: int = 0
    """Base PRNG seed; the seeds are split from it."""
    config: Annotated[pjp.PPOConfig, tyro.conf.arg(name="")] = dataclasses.field(
        default_factory=pjp.PPOConfig
    )
    """PPO hyperparameters."""


@dataclasses.dataclass(frozen=True)
class Envs:
    """List the registered environment ids."""


def _fmt(x: float) -> str:
    return "      -" if not math.isfinite(x) else f"{x:7.1f}" if abs(x) >= 10 else f"{x:7.3f}"


def _env_kwargs(args: Train) -> dict:
    """Constructor keywords for the chosen env id."""
    if args.env.startswith("brax/"):
        return {"backend": args.backend}
    if args.env.startswith("probe/"):
        return {}
    caps = {"solver_iterations": args.solver_iterations, "ls_iterations": args.ls_iterations}
    return {k: v for k, v in caps.items() if v is not None}


def run_train(args: Train) -> pjp.TrainResult:
    """Validates, compiles, trains, and prints a summary; returns the result."""
    cfg = args.config.validate()
    kwargs = _env_kwargs(args)
    env = pjp.envs.make(args.env, **kwargs)
    pjp.enable_compilation_cache()
    print(f"purejaxppo: {args.env} {kwargs or ''} on {jax.devices()[0].device_kind}")
    print(
        f"  {cfg.num_updates} updates x {cfg.batch_size} steps ({cfg.num_envs} envs x "
        f"{cfg.num_steps}), {args.num_seeds} seed(s), {cfg.n_epochs} epochs x "
        f"{cfg.num_minibatches} minibatches of {cfg.minibatch_size}"
    )
    keys = jax.random.split(jax.random.PRNGKey(args.seed), args.num_seeds)
    t0 = time.perf_counter()
    train = jax.jit(jax.vmap(pjp.make_train(cfg, env))).lower(keys).compile()
    t1 = time.perf_counter()
    print(f"  compiled in {t1 - t0:.1f} s; training...", flush=True)
    result = jax.block_until_ready(train(keys))
    seconds = time.perf_counter() - t1
    steps = cfg.num_updates * cfg.batch_size * args.num_seeds
    print(f"  trained {steps:,} steps in {seconds:.1f} s: {steps / seconds:,.0f} steps/s")
    _print_table(result.metrics, cfg)
    return result


def _print_table(m: pjp.TrainMetrics, cfg: pjp.PPOConfig) -> None:
    """One row per evaluation (or ~10 rows); means over seeds.

    The training return of a row is the mean over all training episodes that ended since the
    previous row, weighted by their number (so rare time-limit endings are not missed).
    """
    arrays = {
        k: np.asarray(v, np.float64).reshape(-1, cfg.num_updates) for k, v in m._asdict().items()
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = {k: _nanmean0(v) for k, v in arrays.items()}
        ret_sum = np.nan_to_num(arrays["episode_return"]) * arrays["episodes"]
        rows = np.flatnonzero(np.isfinite(mean["eval_return"]))
        if rows.size == 0:
            rows = np.unique(np.linspace(0, cfg.num_updates - 1, 10).astype(int))
        starts = np.concatenate([[0], rows[:-1] + 1])
        window_ret = [
            ret_sum[:, a : b + 1].sum() / arrays["episodes"][:, a : b + 1].sum()
            for a, b in zip(starts, rows, strict=True)
        ]
    cols = [
        "eval_return",
        "actor_loss",
        "critic_loss",
        "entropy",
        "approx_kl",
        "clip_fraction",
        "explained_variance",
    ]
    heads = [
        "steps",
        "train_ret",
        "eval_ret",
        "actor",
        "critic",
        "entropy",
        "kl",
        "clipfrac",
        "expl_var",
    ]
    print("  " + " ".join(f"{h:>9}" for h in heads))
    for row, i in enumerate(rows):
        vals = [f"{int(mean['env_steps'][i]):>9}", f"{_fmt(window_ret[row]):>9}"]
        vals += [f"{_fmt(mean[c][i]):>9}" for c in cols]
        print("  " + " ".join(vals))


def _nanmean0(x: np.ndarray) -> np.ndarray:
    """Mean over the seed axis, ignoring NaN; NaN where all are NaN (without a warning)."""
    count = np.isfinite(x).sum(axis=0)
    return np.where(count > 0, np.nansum(x, axis=0) / np.maximum(count, 1), np.nan)


def run_envs() -> None:
    """Prints each id with a line about it."""
    for env_id in pjp.envs.registered_ids():
        print(f"{env_id:28s} {pjp.envs.describe(env_id)}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``purejaxppo`` command."""
    command = tyro.extras.subcommand_cli_from_dict(
        {"train": Train, "envs": Envs},
        prog="purejaxppo",
        args=argv,
        description="End-to-end jitted, vectorised PPO for MuJoCo in JAX.",
    )
    try:
        if isinstance(command, Train):
            run_train(command)
        else:
            run_envs()
    except (pjp.ConfigError, pjp.envs.UnknownEnvError) as e:
        raise SystemExit(f"error: {e}") from None
