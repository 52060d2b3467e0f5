"""A sweep's folder as the state it continues from: what it is, what it finished, where it stopped.

A sweep of 10M-step runs takes hours on a CPU; stopped (Ctrl-C, a killed job, a full disk), it
continues from its folder with the same results as an unstopped one:

- ``spec.json``: the sweep itself (env, its keywords, the base config, the grid, seeds,
  episodes); a folder is continued only by the sweep it names;
- ``sweep.json``: the rows of the finished programs (rewritten whole after each program);
- ``programs/<i>/``: while program ``i`` trains, its checkpoints (``checkpoints/<next_update>/``,
  the stacked runner state of its points x seeds, as a run's: :mod:`purejaxppo.runs.checkpoint`)
  and ``metrics_<next_update>.npz`` (its metrics ``[runs, next_update]`` so far). Removed once
  the program's rows are written.

Every program starts its runs from the same keys and calls the same compiled chunk on the same
states, so a continued program's final policies and metrics equal those of an unstopped one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.runs import checkpoint, run_dir
from purejaxppo.runs.run_dir import RunDirError
from purejaxppo.train import RunnerState, TrainMetrics

SPEC = "spec.json"
RESULT = "sweep.json"
PROGRAMS = "programs"


def grid_text(grid: dict[str, list[Any]]) -> list[str]:
    """The grid as ``--grid`` items that parse back to the same values (floats written exactly)."""

    def text(v: Any) -> str:
        if v is None:
            return "none"
        if isinstance(v, bool):
            return str(v).lower()
        if isinstance(v, str):
            return v
        if isinstance(v, (tuple, list)):
            return "x".join(str(w) for w in v)
        return repr(v)

    return [f"{name}={','.join(text(v) for v in values)}" for name, values in grid.items()]


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """What a sweep trains and scores: two sweeps with equal specs train and score the same runs.

    Attributes:
        env_id: the task's id (its reference twin scores the policies).
        env_kwargs: its constructor keywords.
        base: the config every point starts from.
        grid: the swept fields and their values (``sweep.parse_grid``).
        seeds: seeds per point, ``first_seed .. first_seed + seeds - 1``.
        episodes: reference episodes per seed.
        first_seed: the first seed.
    """

    env_id: str
    env_kwargs: dict
    base: PPOConfig
    grid: dict[str, list[Any]]
    seeds: int
    episodes: int
    first_seed: int = 0

    def to_json(self) -> dict:
        """The spec as JSON, as it reads back (lists for tuples).

        ``first_seed`` is kept only when it is not 0, so a folder written before it existed
        (its seeds from 0) is still the same sweep.
        """
        spec = {
            "env": self.env_id, "env_kwargs": self.env_kwargs, "config": self.base.to_dict(),
            "grid": grid_text(self.grid), "seeds": self.seeds, "episodes": self.episodes,
        }  # fmt: skip
        if self.first_seed:
            spec["first_seed"] = self.first_seed
        return json.loads(json.dumps(spec))


def read_spec(folder: Path) -> dict:
    """The spec a sweep folder holds; a clear :class:`RunDirError` if it is not one.

    Its base config reads back with the fields added to :class:`PPOConfig` since it was
    written, at their defaults (the older sweep's behaviour), so the sweep still continues; a
    field since removed leaves it as written, so it is another sweep.
    """
    path = Path(folder) / SPEC
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunDirError(f"{folder} is not a sweep folder (no {SPEC})") from None
    except (OSError, ValueError) as e:
        raise RunDirError(f"{path} could not be read ({e})") from None
    if not isinstance(spec, dict) or not {"env", "config", "grid", "seeds", "episodes"} <= set(
        spec
    ):
        raise RunDirError(f"{path} is not a sweep's spec")
    with contextlib.suppress(ConfigError, TypeError, ValueError):
        spec["config"] = PPOConfig.from_dict(spec["config"]).to_dict()
    return json.loads(json.dumps(spec))  # as :meth:`SweepSpec.to_json` gives it


def begin(folder: Path, spec: dict) -> dict:
    """Makes ``folder`` the sweep's, or checks it already is; returns what it finished.

    Returns:
        ``sweep.json`` as written after its last finished program (``{"meta", "rows"}``), or
        ``{}`` for a new sweep.

    Raises:
        ConfigError: ``folder`` holds another sweep (nothing in it is touched).
    """
    folder = Path(folder)
    if (folder / SPEC).exists():
        if read_spec(folder) != spec:
            raise ConfigError(
                f"{folder} holds another sweep (its {SPEC} differs); continue it with its own "
                "settings (purejaxppo sweep --resume), or give another folder"
            )
        return _finished(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / SPEC, json.dumps(spec, indent=2) + "\n")
    return {}


def _finished(folder: Path) -> dict:
    path = Path(folder) / RESULT
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError) as e:
        raise RunDirError(f"{path} could not be read ({e})") from None


def write_text(path: Path, text: str) -> None:
    """Writes ``path`` whole or not at all (a temporary file renamed over it).

    Raises:
        checkpoint.DiskFullError: no space was left; the file is as it was.
    """
    try:
        run_dir.write_whole(path, text)
    except OSError as e:
        if checkpoint.is_disk_full(e):
            raise checkpoint.DiskFullError(f"no space left to write {path}") from e
        raise


def find(root: Path, spec: dict) -> Path | None:
    """A folder in ``root`` holding the sweep ``spec`` and not finished (to continue it), if any.

    A finished sweep is not taken: the same command run again trains it again.
    """
    if not Path(root).is_dir():
        return None
    points = math.prod(len(item.partition("=")[2].split(",")) for item in spec["grid"])
    for p in sorted(Path(root).iterdir(), reverse=True):
        try:
            same = (p / SPEC).is_file() and read_spec(p) == spec
            if same and len(_finished(p).get("rows", [])) < points:
                return p
        except RunDirError:
            continue
    return None


def program_dir(folder: Path, index: int) -> Path:
    """Where program ``index`` of the sweep keeps its state while it trains."""
    return Path(folder) / PROGRAMS / str(index)


def save(state: Path, runner: RunnerState, next_update: int, metrics: TrainMetrics) -> None:
    """Checkpoints a program after ``next_update`` updates.

    The metrics ``[runs, next_update]`` first, then the runner state (each write atomic), then
    the metrics no checkpoint refers to are dropped.

    Raises:
        checkpoint.DiskFullError: the disk filled; the previous checkpoint and metrics are kept.
    """
    state.mkdir(parents=True, exist_ok=True)
    tmp = state / f"metrics_{next_update}.tmp.npz"
    try:
        arrays: dict[str, Any] = {k: np.asarray(v) for k, v in metrics._asdict().items()}
        np.savez(tmp, **arrays)
        tmp.rename(state / f"metrics_{next_update}.npz")
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if checkpoint.is_disk_full(e):
            raise checkpoint.DiskFullError(f"no space left for the metrics at {next_update}") from e
        raise
    checkpoint.save(state, runner, next_update)
    kept = {p.name for p in (state / checkpoint.DIR).iterdir()}
    for p in state.glob("metrics_*.npz"):
        if p.stem.removeprefix("metrics_") not in kept:
            p.unlink()


def read_metrics(state: Path, next_update: int) -> TrainMetrics:
    """The metrics ``[runs, next_update]`` saved with the checkpoint at ``next_update``."""
    path = state / f"metrics_{next_update}.npz"
    try:
        with np.load(path) as f:
            return TrainMetrics(**{k: f[k] for k in TrainMetrics._fields})
    except (OSError, KeyError, ValueError) as e:
        raise RunDirError(f"{path} could not be read ({e}); remove {state} to restart it") from e


def finish(folder: Path, index: int) -> None:
    """Drops program ``index``'s state once its rows are written."""
    shutil.rmtree(program_dir(folder, index), ignore_errors=True)
    with contextlib.suppress(OSError):  # the last one: no programs left in training
        (Path(folder) / PROGRAMS).rmdir()
