"""Several processes (hosts) in one run: ``jax.distributed``, one writer, state in and out.

Every process runs the same command and the same program over the global mesh; process 0 alone
writes the run directory (run.json, metrics, TensorBoard, checkpoints, plots) and prints. What it
reads (a resumed run's spec and checkpoint) it sends to the others, so the hosts need no shared
file system.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from purejaxppo.config import ConfigError

ENV_VARS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
"""The variables that start a multi-process run (besides the cluster's own, with ``auto``)."""


_JOINED = [False]


def initialize(
    coordinator: str | None = None,
    num_processes: int | str | None = None,
    process_id: int | str | None = None,
    auto: bool = False,
) -> bool:
    """Joins a multi-process run (``jax.distributed.initialize``) when one is asked for.

    Asked for by the arguments, by :data:`ENV_VARS`, or by ``auto`` (JAX's detection of Slurm,
    Open MPI, Kubernetes, TPU pods ...). Call before anything else uses JAX's devices; a second
    call does nothing.

    Returns:
        Whether this process joined a multi-process run.

    Raises:
        ConfigError: only part of the three settings are given.
    """
    if _JOINED[0]:
        return True
    env = os.environ
    coordinator = coordinator or env.get("JAX_COORDINATOR_ADDRESS")
    n = _int(
        "--num-processes",
        num_processes if num_processes is not None else env.get("JAX_NUM_PROCESSES"),
    )
    i = _int("--process-id", process_id if process_id is not None else env.get("JAX_PROCESS_ID"))
    given = [x is not None for x in (coordinator, n, i)]
    if not any(given) and not auto:
        return False
    if any(given) and not all(given) and not auto:
        raise ConfigError(
            "a multi-process run needs all of --coordinator (JAX_COORDINATOR_ADDRESS), "
            "--num-processes (JAX_NUM_PROCESSES) and --process-id (JAX_PROCESS_ID), or "
            "--distributed to detect them from the cluster"
        )
    if n is not None and (n < 1 or not 0 <= (i or 0) < n):
        raise ConfigError(f"--process-id {i} is not in 0 .. {n - 1} (--num-processes {n})")
    jax.distributed.initialize(coordinator, n, i)
    _JOINED[0] = True
    return True


def _int(name: str, value: int | str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def is_writer() -> bool:
    """Whether this process writes the run directory and prints (process 0)."""
    return jax.process_index() == 0


def to_host(tree: Any) -> Any:
    """Every leaf whole, as NumPy, on every process (gathered from the devices that hold it)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def from_writer(tree: Any) -> Any:
    """Process 0's ``tree`` (NumPy leaves) on every process; the others pass one of its shape."""
    if jax.process_count() == 1:
        return tree
    return jax.device_get(multihost_utils.broadcast_one_to_all(tree, is_source=is_writer()))


def text_from_writer(text: str | None) -> str:
    """Process 0's ``text`` on every process (e.g. the run's spec; the others pass None)."""
    if jax.process_count() == 1:
        return text or ""
    data = np.frombuffer((text or "").encode(), np.uint8)
    n = int(from_writer(np.asarray(len(data), np.int32)))
    buf = np.zeros(n, np.uint8)
    if is_writer():
        buf[:] = data
    return bytes(from_writer(buf)).decode()


def to_devices(tree: Any, shardings: Any) -> Any:
    """Host arrays (the same on every process) as global arrays laid out by ``shardings``."""
    return jax.tree.map(
        lambda x, s: jax.make_array_from_callback(np.shape(x), s, lambda i: np.asarray(x)[i]),
        tree,
        shardings,
    )
