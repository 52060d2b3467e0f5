"""A hyperparameter sweep: a grid x seeds in one compiled program, every policy scored in Gymnasium.

The float fields of :class:`~purejaxppo.config.PPOConfig` are traced, so every point of a grid
of them (the product of the values given for each field) trains in one program, vmapped over
points and seeds (``jax.vmap(trainer.run)`` over runner states and stacked configs). Seed ``s``
of every point starts from the same key (common random numbers: the points differ only by their
hyperparameters). Each final policy is then scored by deterministic episodes in Gymnasium's own
task, beside the run's last evaluation in the program. ``purejaxppo sweep`` runs it.

A sweep given a folder checkpoints each program as it trains and continues from there when run
again with the same folder (:mod:`purejaxppo.runs.sweep_state`), with the results of an
unstopped sweep.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import difflib
import itertools
import json
import time
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from purejaxppo.config import ConfigError, PPOConfig, stack_configs
from purejaxppo.envs.base import Env
from purejaxppo.parallel.mesh import Layout, choose
from purejaxppo.runs import checkpoint, run_dir, session, sweep_state
from purejaxppo.runs.chunks import run_chunks
from purejaxppo.runs.crosscheck import gymnasium_returns
from purejaxppo.runs.placement import Placement
from purejaxppo.runs.policy import LoadedPolicy, gymnasium_id
from purejaxppo.runs.sweep_state import SweepSpec
from purejaxppo.runs.sweep_table import (
    HEALTH,
    health_curve,
    last_update,
    markdown,
    peak,
    value_text,
)
from purejaxppo.train import RunnerState, TrainMetrics, make_train

RESULT = sweep_state.RESULT
TABLE = "sweep.md"


def parse_grid(items: list[str], base: PPOConfig) -> dict[str, list[Any]]:
    """``["name=v1,v2", ...]`` -> ``{name: [v1, v2]}``, each value of the field's type.

    A float field's values share one program. A static field (a size, the network, a switch) makes
    one program per value: ``num_envs=16,64``, ``hidden_sizes=64x64,256x256``,
    ``activation=tanh,relu``, ``anneal_lr=true,false``, ``critic_hidden_sizes=none,256x256``.

    Raises:
        ConfigError: before anything is compiled, for a malformed item, an unknown field (with
            the close matches), a value the field cannot take, or a field given twice.
    """
    return _parse(items, base, "--grid", "name=v1,v2 (e.g. entropy_coeff=0.01,0)")


def parse_settings(items: list[str], base: PPOConfig) -> PPOConfig:
    """``base`` with ``["name=value", ...]`` set: the sweep's base written out on its command line.

    A sweep that starts from a preset starts from the preset as it stands; the settings pin the
    fields a later preset may change, so that the command trains the same base at any commit.

    Raises:
        ConfigError: as :func:`parse_grid`, and for an item with more than one value.
    """
    settings = _parse(items, base, "--set", "name=value (e.g. entropy_coeff=0.003)")
    for name, values in settings.items():
        if len(values) != 1:
            raise ConfigError(f"--set {name}: one value (a grid of them is --grid's)")
    return base.replace(**{name: values[0] for name, values in settings.items()})


def _parse(items: list[str], base: PPOConfig, flag: str, form: str) -> dict[str, list[Any]]:
    """``["name=v1,v2", ...]`` -> ``{name: [v1, v2]}``; errors name ``flag`` and show ``form``."""
    names = [f.name for f in dataclasses.fields(base)]
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not values:
            raise ConfigError(f"{flag} item {item!r}: write {form}")
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{flag} {name}: not a PPOConfig field.{hint}")
        if name in grid:
            raise ConfigError(f"{flag} {name}: given twice; list its values once (v1,v2,...)")
        grid[name] = [_value(name, v, base, flag) for v in values.split(",")]
    return grid


_SIZES = ("hidden_sizes", "critic_hidden_sizes")  # tuples of widths, written 64x64


def _value(name: str, text: str, base: PPOConfig, flag: str) -> Any:
    """One grid value, converted to the type of PPOConfig's field ``name``."""
    text = text.strip()
    default = getattr(base, name)
    try:
        if name in _SIZES:
            if text.lower() == "none" and name == "critic_hidden_sizes":
                return None
            return tuple(int(w) for w in text.lower().split("x"))
        if name == "episode_length":
            return None if text.lower() == "none" else int(text)
        if isinstance(default, bool):
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{text!r} is not true or false")
            return text.lower() == "true"
        if isinstance(default, int):
            return int(text)
        if isinstance(default, str):
            return text
        return float(text)
    except ValueError as e:
        kind = "widths like 64x64" if name in _SIZES else type(default).__name__
        raise ConfigError(f"{flag} {name}={text}: values must be {kind} ({e})") from None


def setting_text(value: Any) -> str:
    """A config value as ``--set`` and ``--grid`` write it (64x64, none, true, 0.0003).

    The inverse of their parsing, exact for floats (``repr``), unlike the table's ``value_text``.
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "x".join(str(w) for w in value)
    return repr(value) if isinstance(value, float) else str(value)


def points_of(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (one point with nothing swept for an empty grid)."""
    names = list(grid)
    return [dict(zip(names, vs, strict=True)) for vs in itertools.product(*grid.values())]


def programs_of(points: list[dict[str, Any]], base: PPOConfig) -> list[tuple[dict, list[int]]]:
    """Groups points by their static values: ``[(static values, indices of its points)]``.

    Each group is one compiled program; groups come in the order of their first point.
    """
    static = set(base.static_fields())
    groups: dict[tuple, tuple[dict, list[int]]] = {}
    for i, point in enumerate(points):
        fixed = {k: v for k, v in point.items() if k in static}
        groups.setdefault(tuple(sorted(fixed.items(), key=str)), (fixed, []))[1].append(i)
    return list(groups.values())


def train_grid(
    env: Env,
    base: PPOConfig,
    points: list[dict[str, float]],
    seeds: int,
    mesh: Layout | None = None,
    verbose: bool = True,
    state: Path | None = None,
    stop_after_chunks: int | None = None,
    first_seed: int = 0,
) -> dict:
    """Trains every point x seed in one vmapped program, in chunks with a progress line.

    Args:
        env: the (unbatched) environment.
        base: the config whose static fields (sizes) every point shares.
        points: the float fields each point sets (``{}`` for ``base`` itself).
        seeds: runs per point; seed ``s`` of every point starts from
            ``PRNGKey(first_seed + s)``.
        mesh: devices to split the runs (``seeds`` axis) and each run's envs (``data``) over;
            checked with :func:`~purejaxppo.parallel.mesh.check` (None: one device).
        verbose: print a progress line after every chunk.
        state: the program's folder (:func:`sweep_state.program_dir`): it continues from the
            newest checkpoint there, and checkpoints every tenth of the run and at its end.
            None: nothing is kept.
        stop_after_chunks: raise KeyboardInterrupt after this many chunks (for tests).
        first_seed: the first seed (seeds ``first_seed .. first_seed + seeds - 1``), so that
            more seeds of the same points can be trained apart from the first ones.

    Returns:
        ``policy`` and ``metrics`` with a leading axis of ``len(points) * seeds`` (point-major),
        ``configs`` (one per point), ``steps`` and ``steps_per_s`` (all runs together, of the
        updates this call trained, compile excluded), ``compile_s`` and ``start`` (the update
        it continued from).

    Raises:
        KeyboardInterrupt: Ctrl-C; with ``state``, the newest checkpoint is kept there.
    """
    configs = [base.replace(**p).validate() for p in points]  # a bad value fails here, early
    trainer = make_train(base, env)
    stacked = stack_configs([c for c in configs for _ in range(seeds)])
    keys = jnp.stack([jax.random.PRNGKey(first_seed + s) for _ in points for s in range(seeds)])
    U, K = base.num_updates, session.chunk_updates(base.num_updates)

    place = Placement(mesh, base.num_envs)
    resume = state is not None and checkpoint.latest_step(state) is not None
    runner, start = place.start(
        jax.vmap(trainer.init), keys, stacked, resume_from=state if resume else None
    )
    chunks: dict[int, TrainMetrics] = {}  # a chunk's first update -> its metrics on the host
    if state is not None and start:
        chunks[0] = sweep_state.read_metrics(state, start)  # updates 0..start-1
    if start and verbose:
        print(f"  continued from the checkpoint at update {start} of {U} ({state})")
    chunk = jax.vmap(lambda r, c, first: trainer.run(r, first, K, c), in_axes=(0, 0, None))
    t0 = time.perf_counter()
    run = place.compile(chunk, runner, stacked, 0) if start < U else None
    compile_s = time.perf_counter() - t0
    every = session.checkpoint_every(U, K, None)

    def so_far() -> TrainMetrics:  # every chunk's metrics, in update order: [runs, updates]
        parts = [chunks[first] for first in sorted(chunks)]
        return jax.tree.map(lambda *xs: np.concatenate(xs, axis=1), *parts)

    def host_work(first: int, out: tuple) -> str:  # once more after a Ctrl-C: the same result
        chunks[first] = jax.device_get(out[1])
        if state is not None and ((first + K) % every == 0 or first + K == U):
            sweep_state.save(state, place.to_host(out[0]), first + K, so_far())  # once per step
        if verbose:
            ret = np.asarray(chunks[first].episode_return).reshape(len(points), seeds, K)
            with warnings.catch_warnings():  # NaN for a point none of whose episodes ended yet
                warnings.simplefilter("ignore", RuntimeWarning)
                per_point = np.nanmean(ret, axis=(1, 2))
            done = (first + K) * base.batch_size
            print(f"  {done:>10,} steps  training return per point {np.round(per_point).tolist()}")
        return "ok"

    def step(runner: RunnerState, first: int) -> tuple:
        assert run is not None
        return run(runner, stacked, place.scalar(first))

    t0 = time.perf_counter()
    ended = run_chunks(step, host_work, runner, start, U, K, stop_after_chunks)
    if ended.status == "interrupted":
        raise KeyboardInterrupt
    runner = ended.carry
    seconds = time.perf_counter() - t0
    metrics = so_far()
    steps = len(points) * seeds * (U - start) * base.batch_size
    return {
        "policy": runner.policy,
        "metrics": metrics,
        "configs": configs,
        "steps": steps,
        "steps_per_s": steps / seconds if steps else None,
        "compile_s": compile_s,
        "start": start,
    }


def score(
    env_id: str,
    env_kwargs: dict,
    out: dict,
    points: list[dict],
    seeds: int,
    episodes: int,
    first_seed: int = 0,
) -> list[dict]:
    """A row per point: Gymnasium returns of its seeds' final policies, and the program's eval.

    Besides the final scores a row keeps how the run went: ``eval_peak`` (the best of the
    program's evaluations, mean over seeds, and its steps), ``last_update`` (the last update's
    entropy, approximate KL, clip fraction and learning rate, mean over seeds) and ``curve``: at
    each evaluated update its ``steps``, each seed's evaluation (``eval_per_seed``,
    ``(seeds, evaluations)``) and the mean over seeds of those four (``health``), so that a
    point whose seeds swung or whose updates outgrew the clip range late in a long run shows it
    in the results file.
    """
    m = out["metrics"]
    rows = []
    for i, (point, cfg) in enumerate(zip(points, out["configs"], strict=True)):
        gym, ours, train = [], [], []
        for s in range(seeds):
            j = i * seeds + s
            one = jax.tree.map(lambda x, j=j: x[j], out["policy"])
            if all(np.isfinite(x).all() for x in jax.tree.leaves(one)):
                policy = LoadedPolicy.of(env_id, cfg, one, env_kwargs)
                gym.append(float(gymnasium_returns(policy, episodes).mean()))
            else:  # this run diverged: scored NaN, the others still count
                print(
                    f"  {point} seed {first_seed + s}: parameters not finite (diverged); scored NaN"
                )
                gym.append(float("nan"))
            ours.append(float(m.eval_return[j, -1]))
            ended = np.isfinite(m.episode_return[j])
            train.append(float(m.episode_return[j][ended][-1]) if ended.any() else float("nan"))
        runs = slice(i * seeds, (i + 1) * seeds)
        evals = np.asarray(m.eval_return[runs])
        evaluated = np.isfinite(evals).any(axis=0)
        with warnings.catch_warnings():  # NaN where every seed diverged
            warnings.simplefilter("ignore", RuntimeWarning)
            curve = np.nanmean(evals[:, evaluated], axis=0)
        steps = np.asarray(m.env_steps[i * seeds])[evaluated].tolist()
        health = {k: np.asarray(getattr(m, k)[runs]) for k in HEALTH}
        rows.append({"point": point, "gymnasium_per_seed": gym, "eval_per_seed": ours,
                     "last_train_return_per_seed": train, "eval_peak": peak(steps, curve.tolist()),
                     "last_update": last_update(health),
                     "curve": {"steps": steps, "eval_per_seed": evals[:, evaluated].tolist(),
                               "health": health_curve(health, evaluated)}})  # fmt: skip
    return rows


def run_sweep(
    env: Env,
    spec: SweepSpec,
    out_dir: Path | None = None,
    devices: int | None = None,
    mesh: str | None = None,
    stop_after_chunks: int | None = None,
) -> dict:
    """Trains and scores the grid; writes ``sweep.json`` and ``sweep.md`` into ``out_dir``.

    The float values of the grid share a program; each combination of static values is its own
    program (compiled and run one after the other). The files are rewritten after every program.
    With ``out_dir``, a sweep stopped part way continues when called again with the same folder
    and the same sweep: finished programs are kept, the one it stopped in continues from its
    checkpoint (:mod:`purejaxppo.runs.sweep_state`).

    Args:
        env: the environment, built from the spec's ``env_id`` and ``env_kwargs``.
        spec: what to train and score (:class:`~purejaxppo.runs.sweep_state.SweepSpec`).
        out_dir: the sweep's folder (made if missing; continued if it holds this sweep); None
            writes nothing and keeps no checkpoints.
        devices: devices to split each program over (``--devices``; None: one, or the mesh's).
        mesh: ``"SxD"``: S devices over the program's runs (points x seeds), D over each run's
            envs (:func:`purejaxppo.parallel.mesh.choose`; checked for every program first).
        stop_after_chunks: stop each program after this many chunks (for tests).

    Returns:
        ``{"meta": ..., "rows": [...]}``, as written; rows in the order of :func:`points_of`.

    Raises:
        ConfigError: the env has no Gymnasium twin to score in, ``seeds`` < 1 or
            ``first_seed`` < 0, a point's config is invalid
            (every point is checked before the first program compiles), or ``out_dir`` holds
            another sweep.
        KeyboardInterrupt: Ctrl-C; the folder keeps what was done (run again to continue).
    """
    env_id, env_kwargs, base, grid = spec.env_id, spec.env_kwargs, spec.base, spec.grid
    seeds, episodes, first_seed = spec.seeds, spec.episodes, spec.first_seed
    if gymnasium_id(env) is None:
        raise ConfigError(
            f"{env_id} names no Gymnasium twin (a task's gymnasium_id): a sweep scores policies "
            "in Gymnasium"
        )
    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds}")
    if first_seed < 0:
        raise ConfigError(f"seed must be at least 0, got {first_seed}")
    points = points_of(grid)
    for point in points:  # a bad combination fails here, before anything compiles
        base.replace(**point).validate()
    programs = programs_of(points, base)
    layouts = [
        choose(devices, mesh, len(members) * seeds, base.replace(**fixed).num_envs)
        if devices is not None or mesh is not None
        else None
        for fixed, members in programs
    ]
    print(
        f"{env_id}: {len(points)} points x {seeds} seeds x {base.total_timesteps:,} steps, "
        f"{len(programs)} program(s)"
    )
    rows: list[dict | None] = [None] * len(points)
    programs_meta: list[dict | None] = [None] * len(programs)
    meta: dict[str, Any] = {
        "env": env_id, "env_kwargs": env_kwargs, "steps": base.total_timesteps, "seeds": seeds,
        "first_seed": first_seed, "episodes": episodes, "runs": len(points) * seeds,
        "grid": {k: [value_text(v) for v in vs] for k, vs in grid.items()},
        "config": base.to_dict(), "programs": [], "versions": run_dir.versions(),
        "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
    }  # fmt: skip
    kept: dict[str, dict] = {}  # a stopped sweep's finished rows, by point
    with contextlib.ExitStack() as hold:
        if out_dir is not None:
            previous = sweep_state.begin(out_dir, spec.to_json())
            hold.enter_context(run_dir.claimed(out_dir))  # refuses a second process on it
            kept = {_key(r["point"]): r for r in previous.get("rows", [])}
            for p in previous.get("meta", {}).get("programs", []):
                programs_meta[p["index"]] = p
        for k, ((fixed, members), layout) in enumerate(zip(programs, layouts, strict=True)):
            name = ", ".join(f"{n}={value_text(v)}" for n, v in fixed.items())
            done_before = all(_key(points[i]) in kept for i in members)
            finished = programs_meta[k] is not None and done_before
            if out_dir is not None and finished:
                for i in members:
                    rows[i] = kept[_key(points[i])]
                print(f"  program {name or 0}: finished before, its rows kept")
                sweep_state.finish(out_dir, k)  # were it left behind
                continue
            if len(programs) > 1:
                print(f"  program {name}")
            cfg = base.replace(**fixed).validate()
            floats = [{k: v for k, v in points[i].items() if k not in fixed} for i in members]
            state = None if out_dir is None else sweep_state.program_dir(out_dir, k)
            out = train_grid(
                env, cfg, floats, seeds, layout, state=state,
                stop_after_chunks=stop_after_chunks, first_seed=first_seed,
            )  # fmt: skip
            scored = score(env_id, env_kwargs, out, floats, seeds, episodes, first_seed)
            for i, row in zip(members, scored, strict=True):
                rows[i] = {**row, "point": points[i], "steps_per_s": out["steps_per_s"]}
            rate = out["steps_per_s"]
            programs_meta[k] = {
                "index": k, "points": len(members),
                "static": {n: value_text(v) for n, v in fixed.items()},
                "steps": out["steps"], "train_s": out["steps"] / rate if rate else 0.0,
                "steps_per_s": rate, "compile_s": out["compile_s"], "continued_from": out["start"],
                "mesh": None if layout is None else layout.to_json(),
                "versions": run_dir.versions(),  # a continued sweep's programs may differ
                "finished": datetime.datetime.now().isoformat(timespec="seconds"),
            }  # fmt: skip
            _totals(meta, programs_meta)
            if out_dir is not None:
                done = [r for r in rows if r is not None]
                result = json.dumps({"meta": meta, "rows": done}, indent=2) + "\n"
                sweep_state.write_text(out_dir / RESULT, result)
                sweep_state.write_text(out_dir / TABLE, markdown(meta, done))
                sweep_state.finish(out_dir, k)
    _totals(meta, programs_meta)
    return {"meta": meta, "rows": rows}


def _totals(meta: dict, programs: list[dict | None]) -> None:
    """The programs finished so far into ``meta``: their list, compile time and steps/s."""
    meta["programs"] = [p for p in programs if p is not None]
    seconds = sum(p["train_s"] for p in meta["programs"])
    meta["compile_s"] = sum(p["compile_s"] for p in meta["programs"])
    steps = sum(p["steps"] for p in meta["programs"])
    meta["steps_per_s"] = steps / seconds if seconds else None


def _key(point: dict) -> str:
    """A point as text, equal for a point and its JSON copy (tuples read back as lists)."""
    return json.dumps(point, sort_keys=True)
