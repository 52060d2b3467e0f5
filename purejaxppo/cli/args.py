"""The command line's arguments: one dataclass per subcommand (tyro reads their docstrings)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Literal

import tyro

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.envs import EngineSettings, registry
from purejaxppo.envs.task import MujocoTask
from purejaxppo.runs.policy import OUR_KWARGS

DEFAULT_ENV = "HalfCheetah-v5"


@dataclasses.dataclass(frozen=True)
class EnvArgs:
    """The environment and its settings."""

    env: str = DEFAULT_ENV
    """Environment id (see `purejaxppo envs`), or a task of your own: module:Class (the working
    directory importable) or path/to/file.py:Class."""
    env_kwargs: tuple[str, ...] = ()
    """Constructor keywords as NAME=VALUE, VALUE in JSON (Gymnasium's for the v5 tasks), e.g.
    --env-kwargs ctrl_cost_weight=0.05 healthy_z_range=[0.8,2]."""
    physics: Literal["auto", "c", "mjx", "warp"] = "auto"
    """Physics engine of MuJoCo tasks: c (C MuJoCo, for CPUs), mjx (for GPUs and TPUs), warp
    (MuJoCo Warp, for NVIDIA GPUs; the warp extra), or auto (c when JAX's backend is the CPU, mjx
    on a GPU or TPU)."""
    threads: int | None = None
    """Threads of the C engine per batched step (default: this machine's CPUs); changes no value."""
    backend: str = "mjx"
    """Brax's physics backend, for brax/<name> ids: mjx, generalized, positional or spring."""
    solver_iterations: int | None = None
    """Cap on MJX's constraint-solver iterations (None: exact, the model's)."""
    ls_iterations: int | None = None
    """Cap on MJX's line-search iterations (None: exact, the model's)."""
    naconmax_per_env: int | None = None
    """The Warp engine's contacts per env of a batch (None: MuJoCo Warp's estimate)."""
    njmax: int | None = None
    """The Warp engine's constraint rows per env (None: MuJoCo Warp's estimate)."""
    solver_loops: Literal["auto", "early_exit", "fixed"] | None = None
    """MJX's solver loops (the same values): auto (early exit in a program for the CPU, a
    fixed-length line search on a GPU or TPU), early_exit, or fixed (also the Newton loop)."""

    def kwargs(self) -> dict:
        """The env's constructor keywords, the engine resolved (``c``, ``mjx`` or ``warp``).

        Raises:
            UnknownEnvError: an unknown id (naming the close matches).
            EnvError: a task that cannot be loaded, an unknown keyword (naming the close
                matches) or a bad engine setting.
            ConfigError: a malformed NAME=VALUE, or an engine flag for an env without engines.
        """
        factory = registry.factory(self.env)
        settings = EngineSettings(
            self.physics, self.threads, self.solver_iterations, self.ls_iterations,
            self.solver_loops, self.naconmax_per_env, self.njmax,
        )  # fmt: skip
        default = EngineSettings()
        asked = {k for k, v in dataclasses.asdict(settings).items() if v != getattr(default, k)}
        task = factory if isinstance(factory, type) and issubclass(factory, MujocoTask) else None
        if task is None and asked:
            brax = " (its Brax backend is --backend)" if self.env.startswith("brax/") else ""
            raise ConfigError(
                "--physics and the engine's flags choose the engine of MuJoCo tasks; "
                f"{self.env} has none{brax}"
            )
        given = parse_env_kwargs(self.env_kwargs)
        if self.env.startswith("brax/"):
            return {"backend": self.backend} | given
        if task is None:
            return given
        accepted = registry.keywords(task)
        if asked - set(accepted):
            raise ConfigError(
                f"{self.env} takes no {', '.join(sorted(asked - set(accepted)))}: its constructor "
                "does not pass the engine's keywords (**engine) on to MujocoTask"
            )
        engine = settings.resolved().to_kwargs()
        return {k: v for k, v in engine.items() if k in accepted} | given


def parse_env_kwargs(items: tuple[str, ...]) -> dict:
    """``("name=value", ...)`` -> ``{name: value}``, each value read as JSON (else a string)."""
    out = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ConfigError(
                f"--env-kwargs {item!r}: write NAME=VALUE (e.g. ctrl_cost_weight=0.05)"
            )
        if name in OUR_KWARGS:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"--env-kwargs {name}: give it as {flag}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out[name] = tuple(value) if isinstance(value, list) else value
    return out


@dataclasses.dataclass(frozen=True)
class DeviceArgs:
    """The devices, and the processes, a run is split over (README: Beyond one machine)."""

    devices: str | None = None
    """Devices to use: a count, or all (default: one; all when several processes run). Without
    --mesh they go to the seeds first (as many as divide the seed count), the rest to each run's
    envs."""
    mesh: str | None = None
    """SEEDSxDATA, e.g. 2x4: devices splitting the seeds x devices splitting each run's envs
    (data parallel: each device steps num_envs/DATA envs; every gradient step averages over all)."""
    coordinator: str | None = None
    """Several processes: host:port of process 0 (or JAX_COORDINATOR_ADDRESS)."""
    num_processes: int | None = None
    """Several processes: how many (or JAX_NUM_PROCESSES)."""
    process_id: int | None = None
    """Several processes: this one's index, 0 .. num_processes - 1 (or JAX_PROCESS_ID); process 0
    writes the run directory."""
    distributed: bool = False
    """Several processes, found by JAX from the cluster (Slurm, Open MPI, Kubernetes, TPU pods)."""


@dataclasses.dataclass(frozen=True)
class Train:
    """Train PPO: several seeds side by side in one compiled program, saved in a run directory."""

    env: Annotated[EnvArgs, tyro.conf.arg(name="")] = EnvArgs()
    num_seeds: int = 1
    """Seeds trained at once (vmapped in one program)."""
    seed: int = 0
    """Base PRNG seed; the seeds are split from it."""
    preset: str | None = None
    """Named hyperparameters replacing the defaults (flags still override): see `purejaxppo -h`."""
    runs_dir: Path = Path("runs")
    """Where run directories are made: <runs-dir>/<env>__<name>__<seed>__<time>/."""
    name: str = "ppo"
    """Run name, part of the directory name."""
    resume: Path | None = None
    """Continue this run directory from its newest checkpoint (its own settings are used)."""
    checkpoint_every: int | None = None
    """Updates between checkpoints (default: a tenth of the run); one is also written at the end."""
    crosscheck_episodes: int = 10
    """Episodes per seed of the final cross-check in the task's reference (0: skip it)."""
    progress: bool = True
    """Show a progress bar (on a terminal)."""
    live_progress: bool = False
    """Feed the bar from inside the scan at every update (then not cached: compiles each start)."""
    wandb: bool = False
    """Also log the metrics to Weights & Biases (the `wandb` extra; WANDB_MODE=offline works)."""
    parallel: Annotated[DeviceArgs, tyro.conf.arg(name="")] = DeviceArgs()
    config: Annotated[PPOConfig, tyro.conf.arg(name="")] = dataclasses.field(
        default_factory=PPOConfig
    )
    """PPO hyperparameters."""


@dataclasses.dataclass(frozen=True)
class Sweep:
    """Train a grid of hyperparameters x seeds (floats in one program); score each in Gymnasium."""

    grid: tuple[str, ...] = ()
    """The swept PPOConfig fields as NAME=V1,V2,..., e.g. --grid entropy_coeff=0.01,0
    log_std_init=-1,-0.5 hidden_sizes=64x64,256x256: every combination is a point. Float fields
    share one compiled program; each value of a static field (sizes, network, switches) is its
    own program, run one after the other."""
    env: Annotated[EnvArgs, tyro.conf.arg(name="")] = EnvArgs()
    seeds: int = 3
    """Seeds per point; seed s of every point starts from the same key."""
    seed: int = 0
    """The first seed: the runs of every point use seeds seed .. seed + seeds - 1 (more seeds of
    the same grid, trained apart from the first)."""
    preset: str | None = None
    """Named hyperparameters the grid's values replace (flags still override)."""
    episodes: int = 10
    """Gymnasium episodes per seed that score each final policy."""
    out_dir: Path = Path("sweeps")
    """Where the sweep's folder is made: <out-dir>/<env>__<time>/ (sweep.json, sweep.md)."""
    resume: Path | None = None
    """Continue this sweep folder with its own settings (its spec.json; give the same --devices
    and --mesh as before): finished programs are kept, the program it stopped in continues from
    its newest checkpoint."""
    devices: str | None = None
    """Devices to split each program over: a count, or all (default: one). Without --mesh they go
    to the runs (points x seeds) first, the rest to each run's envs."""
    mesh: str | None = None
    """SEEDSxDATA, e.g. 4x2: devices splitting the runs (points x seeds) x devices splitting each
    run's envs."""
    config: Annotated[PPOConfig, tyro.conf.arg(name="")] = dataclasses.field(
        default_factory=PPOConfig
    )
    """PPO hyperparameters of every point, before the grid's."""


@dataclasses.dataclass(frozen=True)
class Eval:
    """Run a saved run's deterministic policies in purejaxppo, or in Gymnasium's task beside it."""

    run_dir: tyro.conf.Positional[Path]
    """The run directory."""
    backend: Literal["purejaxppo", "gymnasium"] = "purejaxppo"
    """purejaxppo: in the compiled program only. gymnasium: also in the task's reference
    (Gymnasium's own v5 task, dm_control's for the suite; C MuJoCo), with a verdict
    (crosscheck.json)."""
    physics: Literal["c", "mjx", "warp"] | None = None
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
