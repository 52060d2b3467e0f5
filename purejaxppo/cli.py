"""Command line: ``purejaxppo train | eval | plot | render | envs`` (``python -m purejaxppo``)."""

from __future__ import annotations

import os
import sys

if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")  # off-screen rendering; before mujoco is imported

import dataclasses
from pathlib import Path
from typing import Annotated, Literal, Union

import jax
import numpy as np
import tyro

import purejaxppo as pjp
from purejaxppo import plots, report, run_dir, session
from purejaxppo.crosscheck import Estimate, cross_check, engine_name, load_policies, program_returns
from purejaxppo.envs.v5 import V5_TASKS
from purejaxppo.envs.v5.task import resolve_physics
from purejaxppo.presets import PRESETS, preset_config

DEFAULT_ENV = "HalfCheetah-v5"


@dataclasses.dataclass(frozen=True)
class Train:
    """Train PPO: several seeds side by side in one compiled program, saved in a run directory."""

    env: str = DEFAULT_ENV
    """Environment id (see `purejaxppo envs`)."""
    num_seeds: int = 1
    """Seeds trained at once (vmapped in one program)."""
    seed: int = 0
    """Base PRNG seed; the seeds are split from it."""
    preset: str | None = None
    """Named hyperparameters replacing the defaults (flags still override): see `purejaxppo -h`."""
    physics: Literal["auto", "c", "mjx"] = "auto"
    """Physics engine of the v5 tasks: c (C MuJoCo, for CPUs), mjx (for GPUs and TPUs), or auto
    (c when JAX's backend is the CPU, mjx on a GPU or TPU)."""
    threads: int | None = None
    """Threads of the C engine per batched step (default: this machine's CPUs); changes no value."""
    backend: str = "mjx"
    """Brax's physics backend, for brax/<name> ids: mjx, generalized, positional or spring."""
    solver_iterations: int | None = None
    """Cap on MJX's constraint-solver iterations for the v5 tasks (None: exact, the XML's)."""
    ls_iterations: int | None = None
    """Cap on MJX's line-search iterations for the v5 tasks (None: exact, the XML's)."""
    runs_dir: Path = Path("runs")
    """Where run directories are made: <runs-dir>/<env>__<name>__<seed>__<time>/."""
    name: str = "ppo"
    """Run name, part of the directory name."""
    resume: Path | None = None
    """Continue this run directory from its newest checkpoint (its own settings are used)."""
    checkpoint_every: int | None = None
    """Updates between checkpoints (default: a tenth of the run); one is also written at the end."""
    crosscheck_episodes: int = 10
    """Episodes per seed of the final Gymnasium cross-check (0: skip it)."""
    progress: bool = True
    """Show a progress bar (on a terminal)."""
    live_progress: bool = False
    """Feed the bar from inside the scan at every update (then not cached: compiles each start)."""
    config: Annotated[pjp.PPOConfig, tyro.conf.arg(name="")] = dataclasses.field(
        default_factory=pjp.PPOConfig
    )
    """PPO hyperparameters."""


@dataclasses.dataclass(frozen=True)
class Eval:
    """Run a saved run's deterministic policies in purejaxppo, or in Gymnasium's task beside it."""

    run_dir: tyro.conf.Positional[Path]
    """The run directory."""
    backend: Literal["purejaxppo", "gymnasium"] = "purejaxppo"
    """purejaxppo: in the compiled program only. gymnasium: also in Gymnasium's own task (C
    MuJoCo), with a verdict (crosscheck.json)."""
    physics: Literal["c", "mjx"] | None = None
    """Engine of the program's evaluation (default: the run's own)."""
    episodes: int = 10
    """Episodes per seed."""


@dataclasses.dataclass(frozen=True)
class Plot:
    """Write the six figures of a run (plots/*.png) from its metrics.csv."""

    run_dir: tyro.conf.Positional[Path]
    """The run directory."""


@dataclasses.dataclass(frozen=True)
class Render:
    """Render a saved policy in Gymnasium's task (MuJoCo's renderer) to a video file."""

    run_dir: tyro.conf.Positional[Path]
    """The run directory."""
    out: Path = Path("policy.mp4")
    """Output file (.mp4 or .gif)."""
    seed_index: int = 0
    """Which of the run's seeds."""
    episodes: int = 1
    """Episodes, one after the other."""
    width: int = 640
    """Frame width in pixels."""
    height: int = 480
    """Frame height in pixels."""
    camera: str | None = None
    """A camera of the XML by name, or 'default' (Gymnasium's); None: 'track' where it exists."""


@dataclasses.dataclass(frozen=True)
class Envs:
    """List the registered environment ids."""


def _env_kwargs(args: Train) -> dict:
    """Constructor keywords for the chosen env id; the engine is recorded resolved (c or mjx)."""
    if not args.env.startswith("brax/") and args.env not in pjp.envs.registered_ids(False):
        pjp.envs.make(args.env)  # raises UnknownEnvError, naming the close matches
    v5 = args.env in V5_TASKS
    if not v5 and (args.physics != "auto" or args.threads is not None):
        raise pjp.ConfigError(
            f"--physics and --threads choose the engine of the v5 tasks; {args.env} has none"
            + (" (its Brax backend is --backend)" if args.env.startswith("brax/") else "")
        )
    if args.env.startswith("brax/"):
        return {"backend": args.backend}
    if not v5:
        return {}
    given = {
        "threads": args.threads,
        "solver_iterations": args.solver_iterations,
        "ls_iterations": args.ls_iterations,
    }
    physics = args.physics
    if physics == "auto" and (args.solver_iterations or args.ls_iterations):
        physics = "mjx"  # the caps are MJX's
    kwargs = {"physics": resolve_physics(physics)}
    return kwargs | {k: v for k, v in given.items() if v is not None}


def run_train(args: Train) -> session.Outcome:
    """Validates (before compiling), trains in a run directory, then plots and cross-checks."""
    pjp.enable_compilation_cache()
    if args.resume is not None:
        path = Path(args.resume)
        spec = run_dir.read_spec(path)
        print(f"purejaxppo: resuming {path}")
    else:
        cfg = args.config.validate()
        kwargs = _env_kwargs(args)
        pjp.envs.make(args.env, **kwargs)  # an unknown id fails here, before anything is made
        if args.num_seeds < 1:
            raise pjp.ConfigError(f"num_seeds must be at least 1, got {args.num_seeds}")
        chunk = session.chunk_updates(cfg.num_updates)
        spec = run_dir.RunSpec(
            env=args.env,
            env_kwargs=kwargs,
            config=cfg,
            num_seeds=args.num_seeds,
            seed=args.seed,
            name=args.name,
            chunk_updates=chunk,
            checkpoint_every=session.checkpoint_every(
                cfg.num_updates, chunk, args.checkpoint_every
            ),
        )
        path = run_dir.new_run_dir(args.runs_dir, spec)
        print(f"purejaxppo: {spec.env} {spec.env_kwargs or ''} on {jax.devices()[0].device_kind}")
    cfg = spec.config
    print(
        f"  {cfg.num_updates} updates x {cfg.batch_size} steps ({cfg.num_envs} envs x "
        f"{cfg.num_steps}), {spec.num_seeds} seed(s), {cfg.n_epochs} epochs x "
        f"{cfg.num_minibatches} minibatches of {cfg.minibatch_size}\n  run dir: {path}"
    )
    outcome = session.run(
        path,
        resume=args.resume is not None,
        show_progress=args.progress,
        live_progress=args.live_progress,
    )
    if outcome.train_seconds > 0 and outcome.steps_done:
        print(
            f"  trained {outcome.steps_done:,} steps in {outcome.train_seconds:.1f} s: "
            f"{outcome.steps_done / outcome.train_seconds:,.0f} steps/s"
        )
    metrics = run_dir.read_metrics(path) if (path / run_dir.METRICS_FILE).exists() else None
    if metrics is not None:
        report.print_table(metrics, cfg.eval_every > 0)
        report.print_paths(plots.plot_run(path))
    if outcome.status == "nonfinite":
        raise SystemExit(1)
    if outcome.status == "interrupted":
        raise SystemExit(130)
    if args.crosscheck_episodes > 0:
        _final_crosscheck(path, spec, metrics, args.crosscheck_episodes)
    return outcome


def _final_crosscheck(path: Path, spec: run_dir.RunSpec, metrics, episodes: int) -> None:
    """The final policies in Gymnasium beside their last MJX evaluation (no new compile)."""
    n = spec.config.eval_episodes
    last = {k: metrics[k][:, -1] for k in ("eval_return", "eval_return_std")}
    loaded = None
    if np.isfinite(last["eval_return"]).all() and n > 1:  # evaluated at the end
        ests = [Estimate(float(m), float(s), n) for m, s in zip(*last.values(), strict=True)]
    else:
        loaded = load_policies(path)
        s, env, policies, _ = loaded
        ests = [Estimate.of(r) for r in program_returns(s, env, policies, episodes)]
    report.print_crosscheck(cross_check(path, ests, episodes, loaded))


def run_eval(args: Eval) -> dict:
    """The program's returns per seed; with backend gymnasium also Gymnasium's and the verdict."""
    pjp.enable_compilation_cache()
    loaded = load_policies(args.run_dir, args.physics)
    spec, env, policies, step = loaded
    engine = engine_name(env)
    print(
        f"purejaxppo eval: {spec.env} ({engine}), checkpoint at update {step}, "
        f"{args.episodes} episodes/seed"
    )
    returns = program_returns(spec, env, policies, args.episodes)
    ests = [Estimate.of(r) for r in returns]
    if args.backend == "purejaxppo":
        for s, e in enumerate(ests):
            print(f"  seed {s}: purejaxppo ({engine}) {e}")
        return {"ours": [dataclasses.asdict(e) for e in ests], "engine": engine}
    out = cross_check(args.run_dir, ests, args.episodes, loaded)
    report.print_crosscheck(out)
    return out


def run_render(args: Render) -> None:
    """Writes the video and says where."""
    from purejaxppo.render import render

    out, frames, returns = render(
        args.run_dir, args.out, args.seed_index, args.episodes, args.width, args.height, args.camera
    )
    rets = ", ".join(f"{r:.1f}" for r in returns)
    print(f"wrote {out}: {frames} frames; episode returns (C MuJoCo) {rets}")


def run_envs() -> None:
    """Prints each id with a line about it."""
    for env_id in pjp.envs.registered_ids():
        print(f"{env_id:28s} {pjp.envs.describe(env_id)}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``purejaxppo`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        train_default = Train(config=preset_config(_preset_arg(argv) or "seed"))
    except pjp.ConfigError as e:
        raise SystemExit(f"error: {e}") from None
    command = tyro.cli(
        Union[  # noqa: UP007 (tyro reads the annotations)
            Annotated[Train, tyro.conf.subcommand("train", default=train_default)],
            Annotated[Eval, tyro.conf.subcommand("eval")],
            Annotated[Plot, tyro.conf.subcommand("plot")],
            Annotated[Render, tyro.conf.subcommand("render")],
            Annotated[Envs, tyro.conf.subcommand("envs")],
        ],
        prog="purejaxppo",
        args=argv,
        description="End-to-end jitted, vectorised PPO for MuJoCo in JAX. "
        f"Presets: {', '.join(PRESETS)}.",
    )
    from purejaxppo.render import RenderError

    try:
        if isinstance(command, Train):
            run_train(command)
        elif isinstance(command, Eval):
            run_eval(command)
        elif isinstance(command, Plot):
            report.print_paths(plots.plot_run(command.run_dir))
        elif isinstance(command, Render):
            run_render(command)
        else:
            run_envs()
    except (
        pjp.ConfigError,
        pjp.envs.UnknownEnvError,
        pjp.envs.EnvError,
        run_dir.RunDirError,
        RenderError,
    ) as e:
        raise SystemExit(f"error: {e}") from None
    except KeyboardInterrupt:  # outside the training loop (which handles its own): compiling
        print("\ninterrupted", file=sys.stderr)
        raise SystemExit(130) from None


def _preset_arg(argv: list[str]) -> str | None:
    """The value of --preset in a train command line, if any."""
    for i, a in enumerate(argv):
        if a == "--preset" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--preset="):
            return a.split("=", 1)[1]
    return None
