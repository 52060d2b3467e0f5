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
from purejaxppo.parallel import hosts
from purejaxppo.parallel.mesh import Layout, MeshError, check
from purejaxppo.runs import checkpoint, run_dir
from purejaxppo.runs.chunks import run_chunks
from purejaxppo.runs.placement import Placement
from purejaxppo.runs.policy import env_of
from purejaxppo.train import RunnerState, Trainer, TrainMetrics, make_train

STATUSES = ("ok", "nonfinite", "diskfull", "error")
"""What a chunk's host work can end in (process 0 tells the others by index)."""

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
    """(init of every seed's runner state, vmapped; the seeds' keys ``[num_seeds, 2]``)."""
    cfg = spec.config.validate()
    keys = jax.random.split(jax.random.PRNGKey(spec.seed), spec.num_seeds)
    return jax.vmap(lambda k: train.init(k, cfg)), keys


def abstract_runner(path: Path) -> RunnerState:
    """Shapes and dtypes of a run's runner state (``[num_seeds, ...]``), as :func:`run` makes it."""
    spec = run_dir.read_spec(path)
    init, keys = _init_fn(spec, make_train(spec.config.validate(), env_of(spec)))
    return jax.eval_shape(init, keys)


def chunk_updates(num_updates: int, start: int = 0) -> int:
    """Updates per call of a run from update ``start`` to ``num_updates``.

    The largest divisor of both not above ``num_updates / PROGRESS_CHUNKS`` (>= 1), so the
    calls end on the run's end. ``start`` is 0 for a new run; a run continued from another's
    checkpoint starts there (``benchmarks/returns.py``, 1M -> 10M steps at 2,048 per update:
    488 -> 4,882 updates, 2 per call).
    """
    ends = math.gcd(num_updates, start)  # num_updates itself when start is 0
    target = max(1, num_updates // PROGRESS_CHUNKS)
    return max(d for d in range(1, min(ends, target) + 1) if ends % d == 0)


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
    mesh: Layout | None = None,
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
        mesh: the devices to split the run over (default: run.json's ``mesh``, else one);
            checked before compiling. With several processes every process calls this, and
            only process 0 (:func:`~purejaxppo.parallel.hosts.is_writer`) touches ``path``.

    Raises:
        RunDirError: ``path`` is not a run directory, or another process is training it
            (:func:`purejaxppo.runs.run_dir.claimed`).
    """
    if not hosts.is_writer():
        return _run(path, resume, progress, live_progress, stop_after_chunks, on_chunk, mesh)
    run_dir.read_spec(path)  # a clear error for a folder that is not a run, before holding it
    with run_dir.claimed(path):
        return _run(path, resume, progress, live_progress, stop_after_chunks, on_chunk, mesh)


def _run(
    path: Path,
    resume: bool,
    progress: ProgressFactory | None,
    live_progress: bool,
    stop_after_chunks: int | None,
    on_chunk: Callable[[int, TrainMetrics], None] | None,
    mesh: Layout | None,
) -> Outcome:
    """:func:`run`, with ``path`` held by this process (process 0's; the others hold nothing)."""
    writer = hosts.is_writer()
    run_json = json.loads(hosts.writer_does(lambda: run_dir.run_json_text(path)))
    spec = run_dir.RunSpec.from_json(run_json)
    cfg = spec.config.validate()
    layout = _layout(spec, mesh, resume)
    if resume and (layout if layout and layout.devices > 1 else None) != spec.mesh:
        run_json["mesh"] = layout.to_json() if layout and layout.devices > 1 else None
        hosts.writer_does(lambda: _write_json(path / run_dir.RUN_FILE, run_json))
    place = Placement(layout, cfg.num_envs)
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
        per_seed = [jnp.isfinite(x).reshape(S, -1).all(axis=1) for x in leaves]
        return runner, metrics, jnp.stack(per_seed).all(axis=0)  # finite: [S]

    t0 = time.perf_counter()
    init, keys = _init_fn(spec, train)
    runner, start = place.start(init, keys, resume_from=path if resume else None)
    if (U - start) % K:  # the last call would run past the end
        raise ValueError(
            f"{path}: resumed at update {start} of {U}, which {K} updates per call do not reach "
            f"exactly; give the run a chunk_updates of session.chunk_updates({U}, {start})"
        )
    if resume:
        hosts.writer_does(lambda: run_dir.truncate_metrics(path, start))
    step_chunk = place.compile(chunk, runner, start)
    compile_s = time.perf_counter() - t0
    say = print if writer else _silent
    on = f" on {place.layout.devices} devices (mesh {place.layout})" if place.layout else ""
    say(
        f"  compiled in {compile_s:.1f} s{on} ({K} update{'s' * (K > 1)} per call; "
        f"{'not cached: live progress' if live_progress else 'cached for the next start'})"
    )
    if progress is not None and writer:
        bar = progress(U * cfg.batch_size * S, S, start * cfg.batch_size * S)

    work = _HostWork(path, spec, run_json, place, bar, live_progress, on_chunk)
    t1 = time.perf_counter()
    try:
        ended = run_chunks(
            lambda runner, first: step_chunk(runner, place.scalar(first)),
            work,
            runner,
            start,
            U,
            K,
            stop_after_chunks,
        )
    finally:
        if bar is not None:
            bar.close()
    status, done = ended.status, ended.done
    seconds = time.perf_counter() - t1
    saved = (checkpoint.latest_step(path) or 0) if writer else done
    if writer and status == "interrupted":
        print(
            f"  interrupted after update {done} of {U}; metrics and the checkpoint at update "
            f"{saved} are in {path}\n  continue with: purejaxppo train --resume {path}"
        )
    elif writer and status == "diskfull":
        kept = f"the checkpoint at update {saved} is kept" if saved else "no checkpoint was kept"
        print(
            f"  stopped: the disk is full ({work.disk_full}); {kept} in {path}.\n"
            f"  Free some space, then continue with: purejaxppo train --resume {path}"
        )
    return Outcome(path, status, saved, compile_s, seconds, (done - start) * cfg.batch_size * S)


class _HostWork:
    """The host work of a computed chunk: metrics, logs, the bar, a checkpoint when due.

    Called as ``work(first, out)`` by :func:`~purejaxppo.runs.chunks.run_chunks`, it returns
    ``'ok'``, ``'nonfinite'`` or ``'diskfull'`` (:data:`STATUSES`); with several processes every
    process calls it and gets process 0's word. Called again for the same chunk (a Ctrl-C in the
    middle of it), it does only what was left: no row written twice, no checkpoint saved twice.
    """

    def __init__(
        self,
        path: Path,
        spec: run_dir.RunSpec,
        run_json: dict,
        place: Placement,
        bar: Progress | None,
        live_progress: bool,
        on_chunk: Callable[[int, TrainMetrics], None] | None,
    ):
        self.path, self.spec, self.run_json, self.place = path, spec, run_json, place
        self.bar = None if live_progress else bar  # a live bar is fed from inside the scan
        self.on_chunk = on_chunk
        self.done: dict[int, set[str]] = {}  # a chunk's first update -> the parts done
        self.disk_full: BaseException | None = None  # what filled the disk, once it has

    def __call__(self, first: int, out: tuple) -> str:
        K, U = self.spec.chunk_updates, self.spec.config.num_updates
        new_runner = out[0]
        metrics, finite = self.place.to_host((out[1], out[2]))
        due = (first + K) % self.spec.checkpoint_every == 0 or first + K == U
        state = self.place.to_host(new_runner) if (due and self.place.layout) else new_runner
        status = "ok" if bool(np.all(finite)) else "nonfinite"
        if status == "nonfinite":
            new_runner = self.place.to_host(new_runner)
        error: BaseException | None = None
        if hosts.is_writer():
            try:
                self._write(first, metrics, status, new_runner, state if due else None)
            except Exception as e:  # every process learns how process 0's host work ended
                if isinstance(e, checkpoint.DiskFullError) or checkpoint.is_disk_full(e):
                    status, self.disk_full = "diskfull", e
                else:
                    status, error = "error", e
        word = STATUSES[int(hosts.from_writer(np.asarray(STATUSES.index(status), np.int32)))]
        if word == "error":
            if error is not None:
                raise error
            raise hosts.WriterError("process 0 stopped while writing the run directory")
        return word

    def _write(
        self, first: int, metrics: TrainMetrics, status: str, runner: RunnerState, state: Any
    ) -> None:
        """Process 0's part: each piece once, the checkpoint ``state`` (None: not due)."""
        done = self.done.setdefault(first, set())
        if "metrics" not in done:
            run_dir.append_metrics(self.path, first, metrics)
            done.add("metrics")
        if "logs" not in done:
            done.add("logs")  # a logger interrupted half way is not called again
            run_dir.write_tensorboard(self.path, metrics)
            if self.on_chunk is not None:
                self.on_chunk(first, metrics)
        if status == "nonfinite":
            if "report" not in done:
                done.add("report")
                _report_nonfinite(self.path, metrics, first, runner)
            return
        if self.bar is not None and "bar" not in done:
            done.add("bar")
            _advance(self.bar, metrics)
        if state is not None:  # a step already saved is left as it is
            checkpoint.save(self.path, state, first + self.spec.chunk_updates, self.run_json)


def _layout(spec: run_dir.RunSpec, mesh: Layout | None, resume: bool) -> Layout | None:
    """The mesh to run on (``mesh``, else the run's), checked; says so when a resume changes it."""
    saved = spec.mesh or Layout()
    if mesh is None:
        if spec.mesh is not None:
            try:
                check(spec.mesh, spec.num_seeds, spec.config.num_envs)
            except MeshError as e:
                raise MeshError(
                    f"{e}.\nThe run was made on the mesh {spec.mesh} (run.json): continue it "
                    "there, or give --devices / --mesh to continue on these devices"
                ) from None
        return spec.mesh
    check(mesh, spec.num_seeds, spec.config.num_envs)
    if resume and mesh != saved and hosts.is_writer():
        print(
            f"  continuing on the mesh {mesh} (the run was made on {saved}): the same algorithm "
            "and samples, with float sums in another order, so not bit for bit the "
            "uninterrupted run"
        )
    return mesh


def _write_json(path: Path, data: dict) -> None:
    run_dir.write_whole(path, json.dumps(data, indent=2) + "\n")


def _silent(*_: Any, **__: Any) -> None:
    """``print`` on the processes that do not write (all but process 0)."""


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
