"""Several processes (hosts) in one run: ``jax.distributed``, one writer, state in and out.

Every process runs the same command and the same program over the global mesh; process 0 alone
writes the run directory (run.json, metrics, TensorBoard, checkpoints, plots) and prints. What it
reads (a resumed run's spec and checkpoint) it sends to the others, so the hosts need no shared
file system.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
    if coordinator is not None:
        check_address("--coordinator (JAX_COORDINATOR_ADDRESS)", coordinator)
    if env.get("JAX_COORDINATOR_BIND_ADDRESS"):
        check_address("JAX_COORDINATOR_BIND_ADDRESS", env["JAX_COORDINATOR_BIND_ADDRESS"])
    try:
        # process 0 may plot and cross-check for minutes after training: the others wait
        jax.distributed.initialize(coordinator, n, i, shutdown_timeout_seconds=3600)
    except RuntimeError as e:  # e.g. the coordinator cannot be reached in time
        raise ConfigError(
            f"could not join the multi-process run at {coordinator or 'the cluster'} as process "
            f"{i} of {n}: {e}. Start every process with the same --coordinator (process 0's "
            "address and a free port) and --num-processes, each with its own --process-id"
        ) from None
    _JOINED[0] = True
    return True


def check_address(flag: str, address: str) -> None:
    """Checks a coordinator's address: ``host:port``, an IPv6 host in brackets (``[::1]:1234``).

    Raises:
        ConfigError: no port, a port outside 1-65535, an empty host or an unbracketed IPv6 host.
    """
    host, sep, port = address.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]") and len(host) > 2
    fine = (
        sep
        and host
        and port.isascii()
        and port.isdigit()
        and len(port) <= 5
        and 0 < int(port) < 65536
        and not any(c.isspace() for c in host)
        and (bracketed or not any(c in host for c in ":[]"))
    )
    if not fine:
        raise ConfigError(
            f"{flag} {address!r} is not host:port: give process 0's host and a free port, "
            "e.g. host0:1234, 10.0.0.1:1234 or [::1]:1234"
        )


def _int(name: str, value: int | str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


class WriterError(ConfigError):
    """Process 0 failed at what it does for all (reading or writing the run directory)."""


def is_writer() -> bool:
    """Whether this process writes the run directory and prints (process 0)."""
    return jax.process_index() == 0


def to_host(tree: Any) -> Any:
    """Every leaf whole, as NumPy, on every process (gathered from the devices that hold it)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)


def from_writer(tree: Any) -> Any:
    """Process 0's ``tree`` (NumPy leaves) on every process; the others pass one of its shape.

    Sent as raw bits (floats viewed as unsigned integers), so every value arrives exactly.
    """
    if jax.process_count() == 1:
        return tree

    def bits(x: Any) -> np.ndarray:
        x = np.asarray(x)
        return x.view(f"u{x.dtype.itemsize}") if x.dtype.kind == "f" else x

    sent = multihost_utils.broadcast_one_to_all(jax.tree.map(bits, tree), is_source=is_writer())
    return jax.tree.map(
        lambda got, x: np.asarray(got).view(np.asarray(x).dtype), jax.device_get(sent), tree
    )


def writer_does(fn: Callable[[], str | None]) -> str:
    """``fn()`` on process 0, its text on every process; its error raised on every process.

    What process 0 alone does (reading or making the run directory) must not leave the others
    waiting for it when it fails: they raise :class:`WriterError` with its message.
    """
    if jax.process_count() == 1:
        return fn() or ""
    text, failed = "", ""
    if is_writer():
        try:
            text = fn() or ""
        except Exception as e:  # every process learns it, then each raises
            failed = f"{type(e).__name__}: {e}"
            error = e
    failed = text_from_writer(failed if is_writer() else None)
    if failed:
        if is_writer():
            raise error
        raise WriterError(f"process 0 stopped: {failed}")
    return text_from_writer(text if is_writer() else None)


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
