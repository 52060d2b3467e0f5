"""``purejaxppo train | sweep | eval | plot | render | envs`` (``python -m purejaxppo``)."""

from __future__ import annotations

import os
import sys

if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")  # off-screen rendering; before mujoco is imported

import dataclasses
import datetime
import importlib.util
import json
import re
from pathlib import Path
from typing import Annotated, Union

import jax
import tyro

import purejaxppo as pjp
from purejaxppo.cli import plots, report
from purejaxppo.cli.args import DEFAULT_ENV, Envs, Eval, Plot, Render, Sweep, Train
from purejaxppo.cli.progress import ProgressBar
from purejaxppo.parallel import hosts
from purejaxppo.parallel.mesh import choose, parse_devices
from purejaxppo.presets import default_preset, describe, preset_config, resolve
from purejaxppo.runs import checkpoint, run_dir, session
from purejaxppo.runs.crosscheck import (
    Estimate,
    cross_check_run,
    final_estimates,
    program_returns,
)
from purejaxppo.runs.policy import engine_name, load_policies


def run_train(args: Train) -> session.Outcome:
    """Validates (before compiling), trains in a run directory, then plots and cross-checks."""
    if args.wandb and importlib.util.find_spec("wandb") is None:
        raise pjp.ConfigError("--wandb needs the wandb package: uv sync --extra wandb")
    if args.resume is None:
        run_dir.check_name(args.name)
    d = args.parallel
    hosts.initialize(d.coordinator, d.num_processes, d.process_id, d.distributed)
    writer = hosts.is_writer()
    say = print if writer else lambda *a, **k: None
    pjp.enable_compilation_cache()
    devices, asked = parse_devices(d.devices), d.devices is not None or d.mesh is not None
    layout = None
    if args.resume is not None:
        path = Path(args.resume)
        text = hosts.writer_does(lambda: run_dir.run_json_text(path))  # process 0's disk
        spec = run_dir.RunSpec.from_json(json.loads(text))
        if asked:  # else the mesh in run.json
            layout = choose(devices, d.mesh, spec.num_seeds, spec.config.num_envs)
        say(f"purejaxppo: resuming {path}")
    else:
        cfg = args.config.validate()
        kwargs = args.env.kwargs()
        _check_env(args.env.env, kwargs)  # a bad keyword or task fails here, before anything
        if args.num_seeds < 1:
            raise pjp.ConfigError(f"num_seeds must be at least 1, got {args.num_seeds}")
        if not asked and jax.process_count() > 1:
            devices = jax.device_count()  # several processes: all their devices
        layout = choose(devices, d.mesh, args.num_seeds, cfg.num_envs)  # checked: before compiling
        chunk = session.chunk_updates(cfg.num_updates)
        spec = run_dir.RunSpec(
            env=args.env.env,
            env_kwargs=kwargs,
            config=cfg,
            num_seeds=args.num_seeds,
            seed=args.seed,
            name=args.name,
            chunk_updates=chunk,
            checkpoint_every=session.checkpoint_every(
                cfg.num_updates, chunk, args.checkpoint_every
            ),
            preset=resolve(args.preset or "defaults", args.env.env, cfg.total_timesteps),
            mesh=layout if layout.devices > 1 else None,
            env_origin=pjp.envs.registry.origin(args.env.env),
        )
        path = Path(hosts.writer_does(lambda: str(run_dir.new_run_dir(args.runs_dir, spec))))
        device = jax.devices()[0].device_kind
        if spec.mesh is not None:
            procs = f" in {jax.process_count()} processes" * (jax.process_count() > 1)
            device = f"{spec.mesh.devices} x {device}{procs} (mesh seeds x data = {spec.mesh})"
        preset = "" if spec.preset == "defaults" else f", preset {spec.preset}"
        say(f"purejaxppo: {spec.env} {spec.env_kwargs or ''} on {device}{preset}")
    cfg = spec.config
    say(
        f"  {cfg.num_updates} updates x {cfg.batch_size} steps ({cfg.num_envs} envs x "
        f"{cfg.num_steps}), {spec.num_seeds} seed(s), {cfg.n_epochs} epochs x "
        f"{cfg.num_minibatches} minibatches of {cfg.minibatch_size}\n  run dir: {path}"
    )
    logger = None
    if args.wandb and writer:
        from purejaxppo.runs.wandb_log import WandbLogger

        logger = WandbLogger(path)
    try:
        outcome = session.run(
            path,
            resume=args.resume is not None,
            progress=ProgressBar if args.progress else None,
            live_progress=args.live_progress,
            on_chunk=logger,
            mesh=layout,
        )
    finally:
        if logger is not None:
            logger.finish()
    if not writer:  # process 0 reports, plots and cross-checks
        if outcome.status != "finished":
            raise SystemExit(130 if outcome.status == "interrupted" else 1)
        return outcome
    if outcome.train_seconds > 0 and outcome.steps_done:
        print(
            f"  trained {outcome.steps_done:,} steps in {outcome.train_seconds:.1f} s: "
            f"{outcome.steps_done / outcome.train_seconds:,.0f} steps/s"
        )
    metrics = run_dir.read_metrics(path) if (path / run_dir.METRICS_FILE).exists() else None
    if metrics is not None:
        report.print_table(metrics, cfg.eval_every > 0)
        report.print_paths(plots.plot_run(path))
    if outcome.status in ("nonfinite", "diskfull"):
        raise SystemExit(1)
    if outcome.status == "interrupted":
        raise SystemExit(130)
    if args.crosscheck_episodes > 0:
        _final_crosscheck(path, spec, metrics, args.crosscheck_episodes)
    return outcome


def _final_crosscheck(path: Path, spec: run_dir.RunSpec, metrics, episodes: int) -> None:
    """The final policies in Gymnasium beside their last evaluation in the program."""
    ests = final_estimates(
        metrics["eval_return"], metrics["eval_return_std"], spec.config.eval_episodes
    )
    loaded = None
    if ests is None:  # the last update did not evaluate: new episodes in the program
        loaded = load_policies(path)
        s, env, policies, _ = loaded
        ests = [Estimate.of(r) for r in program_returns(s, env, policies, episodes)]
    report.print_crosscheck(cross_check_run(path, ests, episodes, loaded))


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
    out = cross_check_run(args.run_dir, ests, args.episodes, loaded)
    report.print_crosscheck(out)
    return out


def run_render(args: Render) -> None:
    """Writes the video and says where."""
    from purejaxppo.cli.render import render

    out, frames, returns, engine = render(
        args.run_dir, args.out, args.seed_index, args.episodes, args.width, args.height, args.camera
    )
    rets = ", ".join(f"{r:.1f}" for r in returns)
    print(f"wrote {out}: {frames} frames; episode returns ({engine}) {rets}")


def run_sweep(args: Sweep) -> dict:
    """Validates (before compiling), trains and scores the grid, prints and writes the table.

    ``--resume FOLDER`` takes the sweep from the folder's ``spec.json`` and continues it.
    """
    from purejaxppo.runs import sweep, sweep_state

    pjp.enable_compilation_cache()
    if args.resume is not None:
        out = Path(args.resume)
        saved = sweep_state.read_spec(out)
        env_id, kwargs = saved["env"], saved.get("env_kwargs", {})
        base = pjp.PPOConfig.from_dict(saved["config"]).validate()
        grid = sweep.parse_grid(saved["grid"], base)
        seeds, episodes = int(saved["seeds"]), int(saved["episodes"])
        first_seed = int(saved.get("first_seed", 0))
        print(f"purejaxppo: continuing the sweep in {out}")
    else:
        env_id, kwargs = args.env.env, args.env.kwargs()
        base = args.config.validate()
        grid = sweep.parse_grid(list(args.grid), base)
        seeds, episodes, first_seed = args.seeds, args.episodes, args.seed
        if not grid:
            raise pjp.ConfigError(
                "--grid is empty: give NAME=V1,V2 for one or more PPOConfig fields"
            )
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = env_id.rpartition(":")[2]  # a task named by its file or module: its class
        out = args.out_dir / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', name)}__{stamp}"
        _check_env(env_id, kwargs)
    env = pjp.envs.make(env_id, **kwargs)
    split = "".join(f" --{n} {v}" for n, v in (("devices", args.devices), ("mesh", args.mesh)) if v)
    again = f"purejaxppo sweep --resume {out}{split}"  # the same split: the same results
    try:
        spec = sweep_state.SweepSpec(env_id, kwargs, base, grid, seeds, episodes, first_seed)
        result = sweep.run_sweep(env, spec, out, parse_devices(args.devices), args.mesh)
    except KeyboardInterrupt:
        print(
            f"\n  interrupted; the finished programs and the newest checkpoint (if one was "
            f"written) are in {out}\n  continue with: {again}",
            file=sys.stderr,
        )
        raise SystemExit(130) from None
    except checkpoint.DiskFullError as e:
        raise SystemExit(
            f"error: the disk is full ({e}); the finished programs and the checkpoint before are "
            f"in {out}.\n  Free some space, then continue with: {again}"
        ) from None
    print(sweep.markdown(result["meta"], result["rows"]))
    print(f"  wrote {out / sweep.RESULT} and {sweep.TABLE}")
    return result


def _check_env(env_id: str, kwargs: dict) -> None:
    """Builds the env once and runs its checks, before any file is written.

    A task of the user's runs one reset (:meth:`MujocoTask.check`); purejaxppo's own tasks,
    whose first observations the tests check, only their shapes (nothing compiled).
    """
    env = pjp.envs.make(env_id, **kwargs).unwrapped
    if isinstance(env, pjp.envs.MujocoTask):
        if type(env).__module__.startswith("purejaxppo."):
            _ = env.observation_size
        else:
            env.check()


def run_envs() -> None:
    """Prints the engines this install runs, then each id with a line about it."""
    for line in pjp.envs.engines.installed():
        print(line)
    print()
    for env_id in pjp.envs.registered_ids():
        print(f"{env_id:28s} {pjp.envs.describe(env_id)}")


def print_version() -> None:
    """``purejaxppo --version``: this version, what it runs on, and its engines."""
    import platform

    import jaxlib.version
    import mujoco

    print(
        f"purejaxppo {pjp.__version__} (Python {platform.python_version()}, jax {jax.__version__}, "
        f"jaxlib {jaxlib.version.__version__}, mujoco {mujoco.__version__})"
    )
    for line in pjp.envs.engines.installed():
        print(line)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``purejaxppo`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):
        print_version()
        return
    try:
        if argv[:1] == ["train"]:  # before anything starts JAX's backend (the preset's check)
            hosts.initialize(
                _flag(argv, "--coordinator"),
                _flag(argv, "--num-processes"),
                _flag(argv, "--process-id"),
                "--distributed" in argv,
            )
    except pjp.ConfigError as e:
        raise SystemExit(f"error: {e}") from None
    name = _flag(argv, "--preset")
    if name is None and argv[:1] in (["train"], ["sweep"]) and "--resume" not in argv:
        name = default_preset(jax.default_backend())  # defaults on a CPU, gpu elsewhere
    try:
        budget = _flag(argv, "--total-timesteps")  # tuned: the preset for the nearest budget
        steps = int(budget) if budget is not None and budget.isdigit() else None
        preset = preset_config(name or "defaults", _flag(argv, "--env") or DEFAULT_ENV, steps)
    except pjp.ConfigError as e:
        raise SystemExit(f"error: {e}") from None
    train, sweep = Train(config=preset, preset=name), Sweep(config=preset, preset=name)
    command = tyro.cli(
        Union[  # noqa: UP007 (tyro reads the annotations)
            Annotated[Train, tyro.conf.subcommand("train", default=train)],
            Annotated[Sweep, tyro.conf.subcommand("sweep", default=sweep)],
            Annotated[Eval, tyro.conf.subcommand("eval")],
            Annotated[Plot, tyro.conf.subcommand("plot")],
            Annotated[Render, tyro.conf.subcommand("render")],
            Annotated[Envs, tyro.conf.subcommand("envs")],
        ],
        prog="purejaxppo",
        args=argv,
        description="End-to-end jitted, vectorised PPO for MuJoCo in JAX. "
        f"Presets (--preset NAME):\n\n{describe()}",
    )
    from purejaxppo.cli.render import RenderError

    try:
        if isinstance(command, Train):
            run_train(command)
        elif isinstance(command, Sweep):
            run_sweep(command)
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


def _flag(argv: list[str], flag: str) -> str | None:
    """The value of ``flag`` (``--preset``, ``--total-timesteps``) in a command line, if given.

    Spelt with ``-`` or ``_`` between words, as tyro reads it: the preset chosen here must be the
    one whose values tyro's parse then starts from.
    """
    for i, a in enumerate(argv):
        name, eq, value = a.partition("=")
        if name.replace("_", "-") != flag:
            continue
        if eq:
            return value
        if i + 1 < len(argv):
            return argv[i + 1]
    return None
