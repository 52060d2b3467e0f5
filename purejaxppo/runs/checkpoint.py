"""Orbax checkpoints of a run: ``<run_dir>/checkpoints/<next_update>/``.

Each checkpoint holds three items:

- ``runner``: the whole :class:`~purejaxppo.train.RunnerState` of every seed (parameters, Adam
  state, normaliser statistics, reward scaler, env states, episode trackers, PRNG keys), with a
  leading seed axis: everything ``--resume`` needs to continue exactly where the run stopped;
- ``policy``: the :class:`~purejaxppo.train.Policy` of every seed (parameters and observation
  statistics), small, for :func:`purejaxppo.load_policy`;
- ``meta``: ``{"next_update": int, "run": ...}``, the run's spec (env, seeds, the full config),
  so that a checkpoint copied elsewhere still says what it is.

Orbax does not store zero-size arrays (``mjx.Data`` has several, e.g. ``act`` of a model without
actuator state), so each item is stored as ``{leaf index: array}`` over its non-empty leaves and
rebuilt from the abstract tree on restore.

Checkpoints are written synchronously and atomically (orbax writes to a temporary directory and
renames it), so a run killed mid-write keeps its previous checkpoint. The two newest are kept;
a newest one that cannot be read is passed over for the one before.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from purejaxppo.runs.run_dir import RunDirError
from purejaxppo.train import Policy, RunnerState

DIR = "checkpoints"


class DiskFullError(RuntimeError):
    """The disk filled up while a checkpoint was written; the previous checkpoints are intact."""


def is_disk_full(e: BaseException) -> bool:
    """Whether ``e`` says the disk (or a quota) is full, as the OS or tensorstore says it."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(e)
    return "RESOURCE_EXHAUSTED" in text or "No space left on device" in text


def _manager(run_dir: Path) -> ocp.CheckpointManager:
    # Of several processes only the first reads and writes checkpoints (runs.placement gathers
    # the state to it first): orbax must not wait for the others.
    multi: dict[str, Any] = {}
    if jax.process_count() > 1:
        solo = ocp.options.MultiprocessingOptions(primary_host=0, active_processes={0})
        multi = {"multiprocessing_options": solo, "create": False}
        (Path(run_dir) / DIR).mkdir(exist_ok=True)
    options = ocp.CheckpointManagerOptions(max_to_keep=2, enable_async_checkpointing=False, **multi)
    return ocp.CheckpointManager(
        (Path(run_dir) / DIR).absolute(),
        options=options,
        item_names=("runner", "policy", "meta"),
    )


def _pack(tree: Any) -> dict[str, Any]:
    return {str(i): x for i, x in enumerate(jax.tree.leaves(tree)) if x.size > 0}


def _unpack(packed: dict[str, Any], abstract: Any) -> Any:
    leaves, treedef = jax.tree.flatten(abstract)
    out = [
        packed[str(i)] if str(i) in packed else jnp.zeros(x.shape, x.dtype)
        for i, x in enumerate(leaves)
    ]
    return jax.tree.unflatten(treedef, out)


def save(run_dir: Path, runner: RunnerState, next_update: int, run: dict | None = None) -> None:
    """Writes the checkpoint taken after updates ``0 .. next_update - 1`` (``run``: run.json).

    A step already saved is kept as it is: a save done again after a Ctrl-C in the middle of a
    chunk's host work does nothing.

    Raises:
        DiskFullError: no space was left; orbax writes into a temporary directory and renames
            it when done, so the checkpoints written before are kept as they were.
    """
    try:
        with _manager(run_dir) as mgr:
            if next_update in mgr.all_steps():
                return
            mgr.save(
                next_update,
                args=ocp.args.Composite(
                    runner=ocp.args.StandardSave(_pack(runner)),
                    policy=ocp.args.StandardSave(_pack(runner.policy)),
                    meta=ocp.args.JsonSave({"next_update": int(next_update), "run": run or {}}),
                ),
                force=True,
            )
            mgr.wait_until_finished()
    except Exception as e:
        if is_disk_full(e):
            raise DiskFullError(f"no space left for the checkpoint at update {next_update}") from e
        raise


def latest_step(run_dir: Path) -> int | None:
    """``next_update`` of the newest checkpoint, or None if there is none."""
    if not (Path(run_dir) / DIR).is_dir():
        return None
    with _manager(run_dir) as mgr:
        return mgr.latest_step()


def _restore(run_dir: Path, item: str, abstract: Any, set_aside: bool) -> tuple[Any, int]:
    """The newest checkpoint that can be read, and its step.

    A newer one that cannot be read twice over (a file cut short, a disk that failed) is
    passed over, saying so; ``set_aside`` (a resume, which saves that step again) renames it
    ``damaged-<step>`` in the same folder, kept. Where none can be read (a checkpoint of
    another layout fails on every step) the newest one's error is raised and nothing is moved.

    Raises:
        RunDirError: no checkpoint, or none that can be read (the newest one's error).
    """
    folder = Path(run_dir) / DIR
    if not folder.is_dir():
        raise RunDirError(f"{run_dir} has no checkpoint yet (nothing to resume or load)")
    with _manager(run_dir) as mgr:
        steps = sorted(mgr.all_steps(), reverse=True)
    if not steps:
        raise RunDirError(f"{run_dir} has no checkpoint yet (nothing to resume or load)")
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, _pack(abstract))
    args = ocp.args.Composite(**{item: ocp.args.StandardRestore(target)})
    errors: list[str] = []
    for i, step in enumerate(steps):
        out, why = _read(run_dir, step, args)
        if why is not None and i == 0:  # the newest read again: a passing fault
            out, why = _read(run_dir, step, args)
        if why is not None:
            errors.append(f"checkpoint {step} in {run_dir} could not be read ({why})")
            continue
        for bad in steps[:i]:
            kept = f"; it is kept as {_set_aside(folder, bad)}" if set_aside else ""
            print(
                f"purejaxppo: checkpoint {bad} could not be read; using checkpoint {step}{kept}",
                file=sys.stderr,
            )
        return _unpack(out[item], abstract), step
    raise RunDirError(errors[0])


def _read(run_dir: Path, step: int, args: Any) -> tuple[Any, str | None]:
    """Checkpoint ``step``'s items, or None and why it could not be read."""
    try:
        with _manager(run_dir) as mgr:
            return mgr.restore(step, args=args), None
    except Exception as e:  # orbax raises many kinds for a damaged or mismatched one
        return None, f"{type(e).__name__}: {e}"


def _set_aside(folder: Path, step: int) -> Path:
    """Renames checkpoint ``step`` to a free ``damaged-<step>[-n]`` beside it; its new path."""
    aside, n = folder / f"damaged-{step}", 1
    while aside.exists():
        n += 1
        aside = folder / f"damaged-{step}-{n}"
    (folder / str(step)).rename(aside)
    return aside


def restore_runner(
    run_dir: Path, abstract: RunnerState, set_aside: bool = False
) -> tuple[RunnerState, int]:
    """The newest runner state (shaped like ``abstract``, e.g. from ``jax.eval_shape``).

    ``set_aside``: a resume's; a newer checkpoint that cannot be read is renamed out of the way.

    Its arrays are uncommitted, like a fresh ``init``'s: restored arrays are committed to a
    device, which puts sharding annotations into a program lowered with them, so a resumed run's
    program would differ from a fresh start's and miss the compilation cache.
    """
    runner, step = _restore(run_dir, "runner", abstract, set_aside)
    return jax.tree.map(jnp.asarray, jax.device_get(runner)), step


def restore_policy(run_dir: Path, abstract: Policy) -> tuple[Policy, int]:
    """The newest policies of all seeds (shaped like ``abstract``)."""
    return _restore(run_dir, "policy", abstract, set_aside=False)
