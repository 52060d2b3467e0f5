"""A training run with a run directory: compiled chunks, checkpoints, progress, faults, resume.

The run is ``num_updates`` updates of ``make_train``'s update, executed as one compiled program
of ``chunk_updates`` updates (a ``lax.scan``, vmapped over seeds) called repeatedly. After each
chunk its metrics go to metrics.csv and TensorBoard, and every ``checkpoint_every`` updates (and
at the end) an orbax checkpoint of the whole runner state is written. Because every run of a spec
calls the same program on the same states, ``--resume`` from a checkpoint gives exactly the
result of an uninterrupted run.

Why chunks rather than one scan with a host callback for the progress bar: JAX does not write
programs that contain host callbacks to its persistent compilation cache, and the cache turns a
minute of compiling into seconds on the second start. The chunked program has no callback and is
cached; the bar then advances once per chunk (about 50 per run). ``live_progress=True`` puts the
callback inside the scan instead (``make_train(progress=...)``): per-update progress, no cache.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo.envs.warp.physics import WarpData, overflow_message
from purejaxppo.runs import checkpoint, run_dir
from purejaxppo.runs.policy import env_of
from purejaxppo.train import RunnerState, Trainer, TrainMetrics, make_train

PROGRESS_CHUNKS = 50
"""About this many chunks per run (fewer when num_updates has no divisor near num_updates/50)."""


class Progress(Protocol):
    """What shows a run's progress (the command line's bar, or anything alike)."""

    def on_update(self, env_steps: Any, episode_return: Any, eval_return: Any) -> None:
        """One update of one seed is done."""

    def close(self) -> None:
        """The run stopped."""


ProgressFactory = Callable[[int, int, int], Progress]
"""``factory(total_steps, num_seeds, initial_steps) -> Progress``, called once compiled."""


class NonFiniteError(RuntimeError):
    """A loss or parameter became NaN or infinite; the last good checkpoint is kept."""


def _init_fn(spec: run_dir.RunSpec, train: Trainer) -> tuple[Callable, jax.Array]:
    """(jitted init of every seed's runner state, the seeds' keys ``[num_seeds, 2]``)."""
    cfg = spec.config.validate()
    keys = jax.random.split(jax.random.PRNGKey(spec.seed), spec.num_seeds)
    return jax.jit(jax.vmap(lambda k: train.init(k, cfg))), keys


def abstract_runner(path: Path) -> RunnerState:
    """Shapes and dtypes of a run's runner state (``[num_seeds, ...]``), as :func:`run` makes it."""
    spec = run_dir.read_spec(path)
    init, keys = _init_fn(spec, make_train(spec.config.validate(), env_of(spec)))
    return jax.eval_shape(init, keys)


def chunk_updates(num_updates: int) -> int:
    """The largest divisor of ``num_updates`` not above ``num_updates / PROGRESS_CHUNKS`` (>= 1)."""
    target = max(1, num_updates // PROGRESS_CHUNKS)
    return max(d for d in range(1, target + 1) if num_updates % d == 0)


def checkpoint_every(num_updates: int, chunk: int, wanted: int | None) -> int:
    """Updates between checkpoints: ``wanted`` (default: a tenth of the run), in whole chunks."""
    wanted = max(1, num_updates // 10) if wanted is None else max(1, wanted)
    return min(num_updates, chunk * math.ceil(wanted / chunk))


@dataclass
class Outcome:
    """How a call of :func:`run` ended."""

    run_dir: Path
    status: str
    """'finished', 'interrupted' (Ctrl-C), 'nonfinite' or 'diskfull'."""
    next_update: int
    """Updates done and saved in the newest checkpoint."""
    compile_seconds: float
    train_seconds: float
    steps_done: int
    """Env steps (all seeds) computed by this call."""


def run(
    path: Path,
    resume: bool = False,
    progress: ProgressFactory | None = None,
    live_progress: bool = False,
    stop_after_chunks: int | None = None,
    on_chunk: Callable[[int, TrainMetrics], None] | None = None,
) -> Outcome:
    """Runs (or continues) the run in ``path`` until it is finished or stops.

    It stops on Ctrl-C, on a non-finite loss or parameter, and when the disk is full, each time
    with the newest checkpoint kept and a message that says what to do.

    Args:
        path: a run directory made by :func:`purejaxppo.runs.run_dir.new_run_dir`.
        resume: continue from its newest checkpoint (else start from update 0).
        progress: makes the progress display, once the program is compiled (None: none).
        live_progress: feed it from inside the scan (uncached program; see module doc).
        stop_after_chunks: stop after this many chunks as if interrupted (for tests).
        on_chunk: called with each chunk's first update and metrics (``[seeds, updates]`` on
            the host) once they are written, e.g. to log them elsewhere.
    """
    spec = run_dir.read_spec(path)
    run_json = json.loads((path / run_dir.RUN_FILE).read_text())
    cfg = spec.config.validate()
    env = env_of(spec)
    U, K, S = cfg.num_updates, spec.chunk_updates, spec.num_seeds
    bar: Progress | None = None  # made after compiling, so it does not sit on the screen idle

    def callback(*args) -> None:
        if bar is not None:
            bar.on_update(*args)

    train = make_train(cfg, env, progress=callback if (progress and live_progress) else None)

    def chunk(runner: RunnerState, first: jax.Array):
        if S == 1:  # the unbatched program: vmap over one seed is slower on CPU
            one = jax.tree.map(lambda x: x[0], runner)
            runner, metrics = jax.tree.map(lambda x: x[None], train.run(one, first, K))
        else:
            runner, metrics = jax.vmap(lambda r: train.run(r, first, K))(runner)
        leaves = [*jax.tree.leaves(runner.policy.params), metrics.total_loss]
        finite = jnp.all(jnp.stack([jnp.isfinite(x).all() for x in leaves]))
        return runner, metrics, finite

    t0 = time.perf_counter()
    init, keys = _init_fn(spec, train)
    if resume:
        abstract = jax.eval_shape(init, keys)
        runner, start = checkpoint.restore_runner(path, abstract)
        run_dir.truncate_metrics(path, start)
    else:
        runner, start = init(keys), 0
    first0 = jnp.asarray(start, jnp.int32)
    step_chunk = jax.jit(chunk).lower(runner, first0).compile()
    compile_s = time.perf_counter() - t0
    print(
        f"  compiled in {compile_s:.1f} s ({K} update{'s' * (K > 1)} per call; "
        f"{'not cached: live progress' if live_progress else 'cached for the next start'})"
    )
    if progress is not None:
        bar = progress(U * cfg.batch_size * S, S, start * cfg.batch_size * S)

    def finish_chunk(first: int, out) -> bool:
        """Host work for a computed chunk (files, bar, checkpoint); False if it is not finite."""
        new_runner, metrics, finite = out
        metrics = jax.device_get(metrics)
        run_dir.append_metrics(path, first, metrics)
        run_dir.write_tensorboard(path, metrics)
        if on_chunk is not None:
            on_chunk(first, metrics)
        if not bool(finite):
            _report_nonfinite(path, metrics, first, new_runner)
            return False
        if bar is not None and not live_progress:
            _advance(bar, metrics)
        if (first + K) % spec.checkpoint_every == 0 or first + K == U:
            checkpoint.save(path, new_runner, first + K, run_json)
        return True

    # Pipelined: chunk n+1 is dispatched (JAX runs it asynchronously) before the host work of
    # chunk n, so writing files and checkpoints overlaps the computation.
    status, done, t1, pending = "finished", start, time.perf_counter(), None
    try:
        for n, first in enumerate(range(start, U, K)):
            if stop_after_chunks is not None and n >= stop_after_chunks:
                raise KeyboardInterrupt
            out = step_chunk(runner, jnp.asarray(first, jnp.int32))
            runner = out[0]
            if pending is not None:
                if not finish_chunk(*pending):
                    status = "nonfinite"
                    break
                done = pending[0] + K
            pending = (first, out)
        else:
            if pending is not None:
                if finish_chunk(*pending):
                    done = pending[0] + K
                else:
                    status = "nonfinite"
    except (checkpoint.DiskFullError, OSError) as e:
        if not (isinstance(e, checkpoint.DiskFullError) or checkpoint.is_disk_full(e)):
            raise
        status, why = "diskfull", e
    except KeyboardInterrupt:
        status = "interrupted"
        try:  # keep the chunk already dispatched (a second Ctrl-C abandons it)
            if pending is not None and pending[0] == done and finish_chunk(*pending):
                done = pending[0] + K
        except KeyboardInterrupt:
            pass
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t1
    saved = checkpoint.latest_step(path) or 0
    if status == "interrupted":
        print(
            f"  interrupted after update {done} of {U}; metrics and the checkpoint at update "
            f"{saved} are in {path}\n  continue with: purejaxppo train --resume {path}"
        )
    elif status == "diskfull":
        kept = f"the checkpoint at update {saved} is kept" if saved else "no checkpoint was kept"
        print(
            f"  stopped: the disk is full ({why}); {kept} in {path}.\n"
            f"  Free some space, then continue with: purejaxppo train --resume {path}"
        )
    return Outcome(path, status, saved, compile_s, seconds, (done - start) * cfg.batch_size * S)


def _advance(bar: Progress, metrics: TrainMetrics) -> None:
    """Feeds a chunk's updates to the bar, as the in-scan callback would have."""
    steps = np.asarray(metrics.env_steps)
    for j in range(steps.shape[1]):
        for s in range(steps.shape[0]):
            bar.on_update(steps[s, j], metrics.episode_return[s, j], metrics.eval_return[s, j])


def _report_nonfinite(path: Path, metrics: TrainMetrics, first: int, runner: RunnerState) -> None:
    loss = np.asarray(metrics.total_loss)
    bad = np.argwhere(~np.isfinite(loss))
    where = (
        f"update {first + bad[0][1]} of seed {bad[0][0]}"
        if bad.size
        else f"the parameters, in updates {first}..{first + loss.shape[1] - 1}"
    )
    saved = checkpoint.latest_step(path)
    kept = (
        f"the checkpoint at update {saved} is kept" if saved else "no checkpoint had been written"
    )
    hint = "Try a smaller --learning-rate or --max-grad-norm, or keep --normalize-obs on."
    data = runner.env_state.data
    if isinstance(data, WarpData):  # NaN states on purpose where the engine ran out of capacity
        hint = overflow_message(np.asarray(data.state["overflow"])) or (
            f"{hint} On the Warp engine a step that runs out of contact or constraint capacity "
            "gives NaN (an auto-reset may have cleared its flag): if so, raise "
            "--naconmax-per-env or --njmax."
        )
    print(f"  stopped: a non-finite loss or parameter in {where}; {kept} in {path}.\n  {hint}")
