"""A training run on disk: ``runs/<env>__<name>__<seed>__<time>/``.

Layout::

    run.json          env id and keywords, seeds, the full resolved PPOConfig, versions, device
    metrics.csv       one row per update per seed (the fields of TrainMetrics)
    tb/seed_<k>/      the same metrics as TensorBoard scalars (tensorboardX)
    checkpoints/      orbax checkpoints (see purejaxppo.runs.checkpoint)
    plots/*.png       the six figures (see purejaxppo.cli.plots)
    crosscheck.json   the Gymnasium cross-check of the final policy

Nothing here is overwritten by a new run: a new run gets a new directory, and ``--resume``
appends to the one it continues (after dropping metric rows the checkpoint does not cover).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import math
import os
import platform
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import jax
import numpy as np

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.parallel.mesh import Layout
from purejaxppo.presets import current_name
from purejaxppo.train import TrainMetrics

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
"""Holds the id of the process training the folder (a run's or a sweep's): :func:`claimed`."""
METRICS_FILE = "metrics.csv"
METRIC_FIELDS = ("update", "seed", *TrainMetrics._fields)


class RunDirError(RuntimeError):
    """A run directory that is missing, incomplete or damaged."""


@dataclass(frozen=True)
class RunSpec:
    """What a run is: enough to rebuild its environment and its training program."""

    env: str
    env_kwargs: dict
    config: PPOConfig
    num_seeds: int
    seed: int
    name: str
    chunk_updates: int
    """Updates per call of the compiled program (a divisor of the run's updates)."""
    checkpoint_every: int
    """Updates between checkpoints (a multiple of ``chunk_updates``); also one at the end."""
    preset: str | None = None
    """The preset the config started from (recorded; the config is what runs)."""
    mesh: Layout | None = None
    """The devices the run is split over (seeds x data); None: one device."""
    env_origin: dict | None = None
    """Where a task of the user's is defined, for another process to find it again
    (:func:`purejaxppo.envs.registry.origin`); None for the ids purejaxppo always knows."""

    def to_json(self) -> dict:
        """The spec plus the versions and device this process runs with."""
        return {
            "env": self.env,
            "env_kwargs": self.env_kwargs,
            "num_seeds": self.num_seeds,
            "seed": self.seed,
            "name": self.name,
            "chunk_updates": self.chunk_updates,
            "checkpoint_every": self.checkpoint_every,
            "preset": self.preset,
            "mesh": None if self.mesh is None else self.mesh.to_json(),
            "env_origin": self.env_origin,
            "config": self.config.to_dict(),
            "versions": versions(),
            "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
            "device_count": jax.device_count(),
            "process_count": jax.process_count(),
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
        }

    @classmethod
    def from_json(cls, d: dict) -> RunSpec:
        """Reads what :meth:`to_json` wrote."""
        return cls(
            env=d["env"],
            env_kwargs=d["env_kwargs"],
            config=PPOConfig.from_dict(d["config"]),
            num_seeds=int(d["num_seeds"]),
            seed=int(d["seed"]),
            name=d["name"],
            chunk_updates=int(d["chunk_updates"]),
            checkpoint_every=int(d["checkpoint_every"]),
            preset=current_name(d.get("preset")),
            mesh=Layout(**d["mesh"]) if d.get("mesh") else None,
            env_origin=d.get("env_origin"),
        )


def versions() -> dict[str, str]:
    """Versions of the packages that decide what a run computes."""
    out = {"python": platform.python_version()}
    for pkg in ("purejaxppo", "jax", "jaxlib", "mujoco", "mujoco-mjx", "brax", "gymnasium"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


_NAME = re.compile(r"[A-Za-z0-9._+=,-]+")


def check_name(name: str) -> None:
    """Checks a run's name: ASCII letters, digits and ``. _ + = , -``.

    Its directory then stays inside the runs directory (no ``/``, no path of its own).

    Raises:
        RunDirError: another character, or no name (saying which).
    """
    if not _NAME.fullmatch(name):
        bad = sorted({c for c in name if not _NAME.fullmatch(c)})
        why = f"it has {' '.join(repr(c) for c in bad)}" if bad else "it is empty"
        raise RunDirError(
            f"--name {name!r}: {why}; a run's name is ASCII letters, digits and . _ + = , - (it "
            "names a folder inside --runs-dir)"
        )


def new_run_dir(root: Path, spec: RunSpec) -> Path:
    """Makes a new ``root/<env>__<name>__<seed>__<time>`` (never reusing one); writes run.json.

    Raises:
        RunDirError: a name that is not a plain folder name (:func:`check_name`).
    """
    check_name(spec.name)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    env = re.sub(r"[^A-Za-z0-9._-]+", "-", spec.env.rpartition(":")[2] or spec.env)
    base = root / f"{env}__{spec.name}__{spec.seed}__{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    write_whole(path / RUN_FILE, json.dumps(spec.to_json(), indent=2) + "\n")
    return path


@contextlib.contextmanager
def claimed(folder: Path) -> Iterator[None]:
    """Holds ``folder`` (a run's or a sweep's) for this process while the block runs.

    Two processes training one folder would both append to its metrics and overwrite each
    other's checkpoints; the second is refused here, before anything is compiled or written.
    The hold is an advisory lock (``flock``) on ``folder/.lock``, which the operating system
    drops when the process ends however it ends, so a killed run leaves nothing to clean up.
    Where ``flock`` does not exist (Windows) nothing is held.

    Raises:
        RunDirError: another process holds the folder (it says which and what to do).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    f = Path(folder) / LOCK_FILE
    with f.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise RunDirError(
                f"{folder} is being trained by another process (pid {holder}); wait for it to "
                "end, or stop it, then run the same command again: it continues from the newest "
                "checkpoint"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_spec(run_dir: Path) -> RunSpec:
    """The spec of an existing run; a clear :class:`RunDirError` if it is not a readable run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is not a directory (expected a run made by purejaxppo train)")
    f = run_dir / RUN_FILE
    if not f.is_file():
        raise RunDirError(f"{run_dir} has no {RUN_FILE}: not a purejaxppo run directory")
    try:
        return RunSpec.from_json(json.loads(f.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, ConfigError) as e:
        raise RunDirError(f"{f} is damaged ({type(e).__name__}: {e}); nothing was changed") from e


def write_whole(path: Path, text: str) -> None:
    """Writes ``path`` whole or not at all.

    A temporary file beside it, flushed to the disk, then renamed over it: a kill, a crash or a
    full disk leaves the old file as it was.

    Raises:
        OSError: the write failed (the temporary file removed; ``path`` untouched).
    """
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, or a Ctrl-C: no temporary file left
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # the rename itself to the disk, where the OS allows
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def run_json_text(run_dir: Path) -> str:
    """run.json's text, checked to be a readable spec (:func:`read_spec`'s errors)."""
    read_spec(run_dir)
    return (Path(run_dir) / RUN_FILE).read_text()


def append_metrics(run_dir: Path, first_update: int, metrics: TrainMetrics) -> None:
    """Appends rows for updates ``first_update, ...``; metrics have shape ``[seeds, n]``."""
    f = Path(run_dir) / METRICS_FILE
    arrays = [np.asarray(x, np.float64) for x in metrics]
    seeds, n = arrays[0].shape
    new = not f.exists() or f.stat().st_size == 0  # a file made but never written: the header
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    if new:
        w.writerow(METRIC_FIELDS)
    for j in range(n):
        for s in range(seeds):
            w.writerow([first_update + j, s, *(_num(a[s, j]) for a in arrays)])
    with f.open("a", newline="") as fh:
        fh.write(text.getvalue())  # one write: a Ctrl-C lands before or after it


def _num(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() else repr(float(x))


def read_metrics(run_dir: Path) -> dict[str, np.ndarray]:
    """metrics.csv as ``{field: array [seeds, updates]}`` (NaN where a row is missing)."""
    f = Path(run_dir) / METRICS_FILE
    if not f.is_file():
        raise RunDirError(f"{run_dir} has no {METRICS_FILE} yet")
    try:
        with f.open() as fh:
            rows = list(csv.DictReader(fh))
        update = np.array([int(r["update"]) for r in rows])
        seed = np.array([int(r["seed"]) for r in rows])
        shape = (seed.max() + 1, update.max() + 1) if rows else (0, 0)
        out = {}
        for k in TrainMetrics._fields:
            a = np.full(shape, np.nan)
            a[seed, update] = [float(r[k]) for r in rows]
            out[k] = a
    except (KeyError, ValueError, TypeError) as e:
        raise RunDirError(f"{f} is damaged ({type(e).__name__}: {e})") from e
    return out


def truncate_metrics(run_dir: Path, next_update: int) -> None:
    """Drops rows for updates ``>= next_update`` (written after the checkpoint being resumed)."""
    f = Path(run_dir) / METRICS_FILE
    if not f.is_file():
        return
    with f.open() as fh:
        lines = fh.readlines()
    whole = bool(lines) and lines[0].endswith("\n")  # else a header cut short: written whole
    header = lines[0] if whole else ",".join(METRIC_FIELDS) + "\n"
    keep = [header] + [ln for ln in lines[1:] if _update_of(ln) < next_update]
    write_whole(f, "".join(keep))


def _update_of(line: str) -> int | float:
    """A metrics row's update; a row cut short by a kill (no newline) counts as after them all."""
    head = line.split(",", 1)[0]
    whole = line.endswith("\n") and head.isascii() and head.isdigit()
    return int(head) if whole else math.inf


def write_tensorboard(run_dir: Path, metrics: TrainMetrics) -> None:
    """The chunk's metrics as TensorBoard scalars, ``tb/seed_<k>``, stepped by env steps.

    Scalars at or after the chunk's first step are purged first, so a resumed run does not show
    the updates it recomputes twice.
    """
    from tensorboardX import SummaryWriter

    arrays = {k: np.asarray(v, np.float64) for k, v in metrics._asdict().items()}
    steps = arrays.pop("env_steps")
    for s in range(steps.shape[0]):
        first_step = int(steps[s, 0])
        with SummaryWriter(str(Path(run_dir) / "tb" / f"seed_{s}"), purge_step=first_step) as w:
            for j in range(steps.shape[1]):
                for k, a in arrays.items():
                    if np.isfinite(a[s, j]):
                        w.add_scalar(k, a[s, j], int(steps[s, j]))
