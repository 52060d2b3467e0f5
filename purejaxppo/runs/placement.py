"""Where a run's arrays live: on one device, or split over a ``seeds x data`` mesh.

On one device a run's program is jitted as it is. On a mesh (several devices of one process, or
of several processes) the runner state is laid out by :func:`purejaxppo.parallel.mesh.
runner_shardings` and the chunk program is compiled with those shardings in and out, so that
its output feeds the next call as it is; metrics come back whole on every process.

Checkpoints hold the whole state, gathered: they do not depend on the mesh, so a run can be
continued on another one (the same algorithm; only the order of float sums differs, so it is
bit for bit the uninterrupted run only on the same mesh).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from purejaxppo.parallel import hosts
from purejaxppo.parallel.mesh import (
    SEEDS,
    Layout,
    check,
    make_mesh,
    replicated,
    runner_shardings,
)
from purejaxppo.runs import checkpoint
from purejaxppo.train import RunnerState, Trainer, TrainResult


def per_env(runner: RunnerState) -> tuple[Any, ...]:
    """The parts of a runner state with an env axis (``[S, B, ...]``)."""
    return (runner.env_state, runner.tracker, runner.reward_scaler.returns)


class Placement:
    """A run's devices: ``layout`` None (or of one device) means the default device.

    Args:
        layout: the mesh's shape.
        num_envs: envs of each run (``B``).
    """

    def __init__(self, layout: Layout | None, num_envs: int):
        self.layout = layout if layout is not None and layout.devices > 1 else None
        self.mesh = make_mesh(self.layout) if self.layout is not None else None
        self.num_envs = num_envs

    @contextlib.contextmanager
    def tracing(self) -> Iterator[None]:
        """The context to trace programs in (the mesh, where there is one)."""
        if self.mesh is None:
            yield
        else:
            with jax.set_mesh(self.mesh):
                yield

    def _shardings(self, abstract: RunnerState) -> Any:
        assert self.mesh is not None
        return runner_shardings(abstract, self.mesh, self.num_envs, per_env)

    def start(
        self, init: Callable, *args: Any, resume_from: Path | None = None
    ) -> tuple[RunnerState, int]:
        """The runner state to start from: fresh (``init(*args)``) or the newest checkpoint's.

        With several processes, process 0 reads the checkpoint and sends it to the others.
        """
        abstract = jax.eval_shape(init, *args)
        if self.mesh is None:
            if resume_from is not None:
                return checkpoint.restore_runner(resume_from, abstract, set_aside=True)
            return jax.jit(init)(*args), 0
        shardings = self._shardings(abstract)
        if resume_from is None:
            with self.tracing():
                init = jax.jit(
                    init, in_shardings=self._arg_shardings(args), out_shardings=shardings
                )
                return init(*jax.tree.map(np.asarray, args)), 0
        read: dict[str, Any] = {}

        def restore() -> None:  # on process 0, which sends it (or its error) to the others
            runner, read["start"] = checkpoint.restore_runner(resume_from, abstract, True)
            read["host"] = jax.device_get(runner)

        hosts.writer_does(restore)
        zeros = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), abstract)
        host, start = read.get("host", zeros), read.get("start", 0)
        host, start = hosts.from_writer((host, np.asarray(start, np.int32)))
        return hosts.to_devices(host, shardings), int(start)

    def _arg_shardings(self, args: tuple) -> Any:
        """Arguments beside the runner: arrays split over the runs, scalars on every device."""
        assert self.mesh is not None
        runs, rep = NamedSharding(self.mesh, P(SEEDS)), replicated(self.mesh)
        return jax.tree.map(lambda x: runs if np.ndim(x) else rep, args)

    def compile(self, chunk: Callable, runner: RunnerState, *args: Any) -> Callable:
        """``chunk(runner, *args) -> (runner, *outputs)``, compiled for this placement.

        Of ``args``, arrays have a leading run axis (e.g. a sweep's configs) and scalars are
        the same for every run (the first update). Every output has a leading run axis and
        stays split over the runs (:meth:`to_host` brings the metrics whole to the host): no
        collective in the program but those of the algorithm. (On a CPU a gather of outputs
        that need not wait for the training loop may run before it on one device and after
        it on another; with more devices than cores, both wait for ever.)
        """
        args = tuple(self.scalar(a) if isinstance(a, int) else a for a in args)
        if self.mesh is None:
            return jax.jit(chunk).lower(runner, *args).compile()
        shardings = self._shardings(jax.eval_shape(lambda: runner))
        runs = NamedSharding(self.mesh, P(SEEDS))  # a prefix for every output but the runner

        def paired(runner: RunnerState, *args: Any) -> tuple[RunnerState, tuple]:
            out = chunk(runner, *args)
            return out[0], tuple(out[1:])

        jitted = jax.jit(
            paired,
            in_shardings=(shardings, *self._arg_shardings(args)),
            out_shardings=(shardings, runs),
        )
        with self.tracing():
            compiled = jitted.lower(runner, *args).compile()

        def call(runner: RunnerState, *args: Any) -> tuple:
            new, rest = compiled(runner, *args)
            return (new, *rest)

        return call

    def scalar(self, value: int) -> Any:
        """An int32 argument of the compiled programs (host NumPy on a mesh: every process's)."""
        return (
            np.asarray(value, np.int32)
            if self.mesh is not None
            else jax.numpy.asarray(value, jax.numpy.int32)
        )

    def to_host(self, tree: Any) -> Any:
        """``tree`` whole on the host of every process (collective on a mesh of processes)."""
        return hosts.to_host(tree) if self.mesh is not None else jax.device_get(tree)


def train_on_mesh(trainer: Trainer, keys: jax.Array, mesh: Layout) -> TrainResult:
    """``jax.vmap(trainer)(keys)``, split over a ``seeds x data`` mesh of devices.

    The same training as on one device (float sums in another order), in one compiled program.

    Args:
        trainer: from :func:`purejaxppo.make_train`.
        keys: one PRNG key per seed, ``[S, 2]``; S a multiple of ``mesh.seeds``.
        mesh: the layout; ``trainer``'s ``num_envs`` a multiple of ``mesh.data``.

    Returns:
        A :class:`~purejaxppo.train.TrainResult` with a leading seed axis, split over the devices.

    Raises:
        MeshError: the mesh does not fit the devices or the run (before compiling).
    """
    check(mesh, keys.shape[0], trainer.cfg.num_envs)
    place, U = Placement(mesh, trainer.cfg.num_envs), trainer.cfg.num_updates
    runner, _ = place.start(jax.vmap(trainer.init), keys)
    run = place.compile(lambda r, first: jax.vmap(lambda r: trainer.run(r, first, U))(r), runner, 0)
    runner, metrics = run(runner, place.scalar(0))
    return TrainResult(policy=runner.policy, metrics=metrics, state=runner)
