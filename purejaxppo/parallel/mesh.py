"""Device meshes: runs (seeds, sweep points) over one axis, each run's envs over the other.

A mesh is ``seeds x data`` devices (:class:`Layout`). The program is the one-device program,
partitioned by XLA (``jit`` with named shardings, JAX's "auto" axes): every array with a leading
run axis (``[S, ...]``: parameters, optimiser state, statistics, keys) is split over ``seeds``;
every per-env array (``[S, B, ...]``: env states, episode trackers, reward scalers) also over
``data``. Collectives come from the partitioner where the algorithm reduces over envs: the
observation statistics, the episode sums, the advantage normalisation and the gradient of each
minibatch (whose samples :func:`constrain_batch` spreads over ``data``, so every device
computes the gradient of its share and the shares are summed). So a run on any mesh is the same
algorithm, on the same samples, as on one device; only the order of float sums differs.

The env step is not left to the partitioner: the C engine and MuJoCo Warp are foreign calls,
which XLA would replicate (every device stepping every env). :func:`on_mesh` runs a batched
function in ``shard_map`` instead, each device on its own envs.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any

import jax
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from purejaxppo.config import ConfigError

SEEDS = "seeds"
"""The mesh axis of runs: seeds, and a sweep's points."""
DATA = "data"
"""The mesh axis of one run's envs (data parallel)."""


class MeshError(ConfigError):
    """A device count or mesh that does not fit the devices or the run; raised before compiling."""


@dataclasses.dataclass(frozen=True)
class Layout:
    """How many devices split the runs (``seeds``) and each run's envs (``data``)."""

    seeds: int = 1
    data: int = 1

    @property
    def devices(self) -> int:
        """``seeds * data``."""
        return self.seeds * self.data

    def __str__(self) -> str:
        return f"{self.seeds}x{self.data}"

    def to_json(self) -> dict[str, int]:
        """``{"seeds": ..., "data": ...}``, as run.json records it."""
        return {SEEDS: self.seeds, DATA: self.data}

    @classmethod
    def parse(cls, text: str) -> Layout:
        """``"SxD"`` (e.g. ``"2x4"``: 2 devices over seeds, 4 over each run's envs).

        Raises:
            MeshError: not two positive integers joined by ``x``.
        """
        m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
        if not m or int(m[1]) < 1 or int(m[2]) < 1:
            raise MeshError(
                f"--mesh takes SEEDSxDATA, two positive integers (e.g. 2x4), got {text!r}"
            )
        return cls(int(m[1]), int(m[2]))


def parse_devices(text: str | int | None) -> int | None:
    """``--devices``: a positive count, ``"all"`` (every device of every process), or None."""
    if text is None:
        return None
    if isinstance(text, str) and text.strip().lower() == "all":
        return jax.device_count()
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise MeshError(f"--devices takes a positive count or 'all', got {text!r}")
    return n


def choose(devices: int | None, mesh: str | Layout | None, num_seeds: int, num_envs: int) -> Layout:
    """The layout for ``--devices`` / ``--mesh``, checked against the run and the devices.

    Without ``--mesh``, ``devices`` go to the seeds first (their axis needs no communication:
    as many as divide ``num_seeds``), the rest to each run's envs.

    Args:
        devices: the device count asked for (None: the mesh's, or 1).
        mesh: ``"SxD"`` or a layout (None: chosen as above).
        num_seeds: runs side by side (seeds, or sweep points x seeds).
        num_envs: envs of each run.

    Raises:
        MeshError: the devices are too few, or a count does not divide what it splits.
    """
    layout = Layout.parse(mesh) if isinstance(mesh, str) else mesh
    if layout is None:
        n = devices or 1
        seeds = math.gcd(n, num_seeds)
        layout = Layout(seeds, n // seeds)
    elif devices is not None and devices != layout.devices:
        raise MeshError(
            f"--devices {devices} and --mesh {layout} disagree: the mesh has {layout.devices} "
            "devices (give one of the two)"
        )
    check(layout, num_seeds, num_envs)
    return layout


def check(layout: Layout, num_seeds: int, num_envs: int) -> None:
    """Raises :class:`MeshError` unless ``layout`` fits the devices and splits the run evenly."""
    have = jax.device_count()
    if layout.devices > have:
        procs = f" over {jax.process_count()} processes" if jax.process_count() > 1 else ""
        raise MeshError(
            f"the mesh {layout} needs {layout.devices} devices, but {have} "
            f"{jax.devices()[0].platform} device(s) are available{procs}. Ask for fewer "
            "(--devices / --mesh), or start on more (several processes: see the README's "
            "'Beyond one machine')"
        )
    if jax.process_count() > 1 and layout.devices != have:
        raise MeshError(
            f"the mesh {layout} has {layout.devices} devices; a run of {jax.process_count()} "
            f"processes uses all their {have} devices: give a mesh of {have} (or none, and "
            "--devices all)"
        )
    if num_seeds % layout.seeds:
        raise MeshError(
            f"{num_seeds} run(s) do not split over {layout.seeds} devices on the seeds axis: "
            "make the seed count a multiple of it"
        )
    if num_envs % layout.data:
        raise MeshError(
            f"num_envs {num_envs} does not split over {layout.data} devices on the data axis: "
            "make it a multiple"
        )


def make_mesh(layout: Layout) -> Mesh:
    """The ``seeds x data`` mesh over the first ``layout.devices`` devices (data inside a host)."""
    devices = jax.devices()[: layout.devices]
    return jax.make_mesh(
        (layout.seeds, layout.data), (SEEDS, DATA), (AxisType.Auto, AxisType.Auto), devices=devices
    )


def runner_shardings(abstract: Any, mesh: Mesh, num_envs: int, per_env: Callable) -> Any:
    """Named shardings for a runner state with a leading run axis.

    Args:
        abstract: the runner state's shapes (``jax.eval_shape``), every leaf ``[S, ...]``.
        mesh: a ``seeds x data`` mesh.
        num_envs: ``B``, the envs of each run.
        per_env: ``per_env(runner) -> subtrees`` whose leaves are per-env (``[S, B, ...]``).

    Returns:
        A tree like ``abstract``: ``P(seeds, data)`` on per-env leaves, ``P(seeds)`` elsewhere.
    """
    env_ids = {id(x) for x in jax.tree.leaves(per_env(abstract))}

    def one(x: Any) -> NamedSharding:
        if id(x) in env_ids and x.ndim >= 2 and x.shape[1] == num_envs:
            return NamedSharding(mesh, P(SEEDS, DATA))
        return NamedSharding(mesh, P(SEEDS))

    return jax.tree.map(one, abstract)


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (metrics, flags: small, read by every process)."""
    return NamedSharding(mesh, P())


def _mesh_sizes() -> dict[str, int] | None:
    """The traced program's mesh axes and sizes, or None outside a ``seeds x data`` mesh."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or DATA not in mesh.axis_names:
        return None
    return dict(zip(mesh.axis_names, mesh.axis_sizes, strict=True))


def in_mesh() -> bool:
    """Whether the program being traced runs on a ``seeds x data`` mesh (``jax.set_mesh``)."""
    return _mesh_sizes() is not None


def on_mesh(batched: Callable[..., Any], lead: int) -> Callable[..., Any]:
    """``batched`` run by every device on its own share of the batch, inside a mesh.

    Outside a mesh (or of one without a ``data`` axis) it is ``batched`` itself. Inside,
    ``shard_map`` splits the leading axes of every argument: ``[B, ...]`` (``lead=1``) over
    ``data``; ``[S, B, ...]`` (``lead=2``) over ``seeds`` and ``data``. An axis whose size the
    mesh axis does not divide (e.g. evaluation episodes) is not split: every device of that axis
    computes it all, the same values. ``batched`` must treat batch entries independently.

    Args:
        batched: a function whose argument and result leaves all share the ``lead`` axes.
        lead: how many leading axes are batch axes (1 or 2).
    """

    def call(*args: Any) -> Any:
        sizes = _mesh_sizes()
        if sizes is None:
            return batched(*args)
        shape = jax.tree.leaves(args)[0].shape
        names = (SEEDS, DATA)[2 - lead :]
        spec = P(*(n if shape[i] % sizes.get(n, 1) == 0 else None for i, n in enumerate(names)))
        if all(n is None for n in spec):
            return batched(*args)
        mapped = jax.shard_map(
            batched, in_specs=tuple(spec for _ in args), out_specs=spec, check_vma=False
        )
        return mapped(*args)

    return call


def constrain_batch(x: Any, axis: int) -> Any:
    """``x`` with axis ``axis`` of each leaf split over ``data`` inside a mesh; else ``x``.

    Where the algorithm reduces over a batch (a minibatch's gradient), this keeps each device on
    its share and makes the partitioner sum the shares, instead of gathering the batch.
    """
    sizes = _mesh_sizes()
    if sizes is None:
        return x

    def one(leaf: Any) -> Any:
        if leaf.shape[axis] % sizes[DATA]:
            return leaf
        spec = P(*([P.UNCONSTRAINED] * axis), DATA)
        return jax.lax.with_sharding_constraint(leaf, spec)

    return jax.tree.map(one, x)
