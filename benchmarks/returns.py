"""Returns at fixed budgets, scored in each task's reference (C MuJoCo), beside published figures.

For each env: ``--seeds`` seeds vmapped in one run (the CLI's way: a run directory with
checkpoints) trained to every budget (one run continued from budget to budget when the preset does
not anneal; see :func:`run_env`), then at each budget the policy of every seed run for
``--episodes`` deterministic episodes in the task's Gymnasium twin: Gymnasium's own v5 task, or
dm_control's own environment for the suite (``dm_control/...`` ids). The score is the mean over
seeds of those returns (with the spread over seeds); the program's evaluation and the
cross-check verdict are kept. Published figures beside them: ``published.py``.

    uv run python benchmarks/returns.py                                  # 4 tasks x 500k, 1M
    uv run python benchmarks/returns.py --envs HalfCheetah-v5 --budgets 500000
    uv run python benchmarks/returns.py --preset cleanrl --budgets 1000000
    uv run python benchmarks/returns.py --envs Hopper-v5 --preset tuned --seeds 5 --seed 100
    uv run python benchmarks/returns.py --quick                          # tiny, for CI
    uv run python benchmarks/returns.py --curves --envs Ant-v5 --out-stem ...   # a table's curves
    uv run python benchmarks/returns.py --envs Ant-v5 Humanoid-v5 --seeds-apart Humanoid-v5

Writes ``benchmarks/results/<platform>/returns.{json,md,png}`` (``--out-stem`` to change). A row
already in that table, scored from the same run (spec and episodes), is kept rather than trained
again (``--retrain`` trains it again), so a table too long for one sitting is made in several,
each with the same command, even where the run directories did not survive. A row longer than a
sitting is made with ``--seeds-apart``: each seed of the envs named trains as its own run (base
seeds ``--seed``, ``--seed`` + 1, ...), whose row is kept in the table (its ``parts``) as soon as
it is scored, and the env's rows are made of them once all are.
``--curves`` trains nothing: it prints the written table's rows evaluation by evaluation (return,
spread, and the updates' entropy, KL, clip fraction and learning rate there) and how each ends
(over its last tenth, the range of the mean and the lowest seed), the figures the docs quote from
a run's course.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import purejaxppo as pjp
from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.envs.engines import resolve as resolve_physics
from purejaxppo.presets import current_name, preset_config, resolve, tuned_names
from purejaxppo.runs import checkpoint, run_dir, session
from purejaxppo.runs.crosscheck import Estimate, cross_check_run
from purejaxppo.runs.sweep_table import (
    COURSE_HEADER,
    course_line,
    health_curve,
    health_text,
    last_tenth,
    last_update,
    peak,
    peak_text,
)
from purejaxppo.runs.sweep_table import format_rate as _rate
from purejaxppo.runs.sweep_table import format_return as _num

sys.path.insert(0, str(Path(__file__).parent))
import common
from published import PUBLISHED

ROW_FILE = "returns_row.json"  # a scored run's row, in its run directory


def _spec(
    env_id: str, cfg: PPOConfig, seeds: int, seed: int, preset: str, chunk: int, physics: str
) -> run_dir.RunSpec:
    return run_dir.RunSpec(
        env=env_id,
        env_kwargs={"physics": resolve_physics(physics)},
        config=cfg,
        num_seeds=seeds,
        seed=seed,
        name=f"returns-{preset}",
        chunk_updates=chunk,
        checkpoint_every=session.checkpoint_every(cfg.num_updates, chunk, None),
        preset=preset,
    )


def run_env(
    env_id: str,
    budgets: list[int],
    seeds: int,
    preset: str,
    episodes: int,
    root: Path,
    root_kept: bool = False,
    physics: str = "auto",
    seed: int = 0,
    table: list[dict] | None = None,
) -> Iterator[dict]:
    """Trains ``seeds`` seeds to every budget; yields each budget's row as soon as it is scored.

    A preset whose updates do not depend on the budget (no learning-rate annealing: the budget
    then changes only when the program's evaluation runs, which draws no randomness from the
    run) has one training run per env: the run to the smallest budget is finished and scored,
    then its checkpoint is continued (``--resume``) in a run whose config has the next budget,
    and so on. The state at each budget is that of a separate run to that budget, bit for bit
    (checked on InvertedPendulum-v5, 4096 continued to 8192 steps against 8192 directly: equal
    parameters and episode returns), at the cost of the largest budget alone. Annealing presets
    train one run per budget. ``tuned`` takes, for each budget, the env's preset tuned for the
    nearest budget (:func:`purejaxppo.presets.tuned`); a budget whose preset differs from the
    last budget's trains its own run.

    With ``root_kept`` (``--runs-dir``) the runs stay, and a second invocation with the same
    arguments does not start over: a budget already scored is read back, a run stopped part way
    (Ctrl-C, a machine's time limit) continues from its newest checkpoint, so a table too long for
    one sitting can be made in several. Its steps/s are then those of the last sitting.
    ``table`` (the rows of the ``--out-stem`` table already written) serves the same way where
    the run directories are gone: a row with the same run spec and episodes is kept as it is
    (the spec names no versions: after a change to the training code, ``--retrain``). A budget
    after a kept row continues that row's run where ``root`` still holds it, else trains its own.
    """
    asked = preset
    prev, prev_budget, prev_preset, start = None, None, None, 0  # prev: the last budget's run
    for budget in sorted(budgets):
        untuned = asked == "tuned" and not tuned_names(env_id)
        preset = "defaults" if untuned else resolve(asked, env_id, budget)
        cfg = preset_config(preset).replace(total_timesteps=budget).validate()
        # continue the last budget's run: same preset, and its updates do not depend on the budget
        shared = prev is not None and preset == prev_preset and not cfg.anneal_lr
        start = start if shared else 0  # the update a continued run starts from
        chunk = session.chunk_updates(cfg.num_updates, start)
        spec = _spec(env_id, cfg, seeds, seed, preset, chunk, physics)
        path = _existing(root, spec) if root_kept else None
        scored_here = path is not None and (path / ROW_FILE).is_file()
        kept = _scored(table or [], spec, episodes)
        if kept is not None:  # in the table already; its finished run, if here, is continued
            row, path = kept, path if scored_here else None
        elif scored_here and path is not None:  # scored by an earlier invocation
            row = json.loads((path / ROW_FILE).read_text())
            row.setdefault("spec", _identity(spec))
            row.setdefault("episodes", episodes)
        else:
            stopped_at = checkpoint.latest_step(path) if path is not None else None
            if stopped_at is None:  # a new run (or one stopped before its first checkpoint)
                if path is not None:
                    with run_dir.claimed(path):  # never a run another process is training
                        shutil.rmtree(path)
                path = run_dir.new_run_dir(root, spec)
                if shared and prev is not None:  # continue the previous budget's run
                    shutil.copytree(prev / checkpoint.DIR, path / checkpoint.DIR)
                    shutil.copy(prev / run_dir.METRICS_FILE, path / run_dir.METRICS_FILE)
            resume = stopped_at is not None or (shared and prev is not None)
            t0 = time.perf_counter()
            try:
                outcome = session.run(path, resume=resume)
            except run_dir.RunDirError as e:
                raise SystemExit(f"error: {e}") from None
            if outcome.status != "finished":
                raise SystemExit(f"{env_id} at {cfg.total_timesteps:,}: {outcome.status} ({path})")
            row = score(path, cfg, preset, seeds, episodes, outcome, time.perf_counter() - t0)
            row["seed"] = seed
            row["continued_from"] = prev_budget if shared and prev is not None else None
            row["resumed_at_update"] = stopped_at
            row["run_dir"] = str(path) if root_kept else None
            row["spec"], row["episodes"] = _identity(spec), episodes
            row["versions"], row["cpu"] = run_dir.versions(), common.cpu_id()
            (path / ROW_FILE).write_text(json.dumps(row, indent=2))
        yield row
        prev, prev_budget, prev_preset, start = path, budget, preset, cfg.num_updates


def _identity(spec: run_dir.RunSpec) -> dict:
    """What makes two runs the same run: the spec without the versions, the date and the chunking
    (a run continued from a smaller budget has the states of one trained to its budget alone)."""
    d = spec.to_json()
    for key in ("versions", "device", "device_count", "process_count", "created"):
        d.pop(key)
    d["chunk_updates"] = d["checkpoint_every"] = None
    return d


def _scored(table: list[dict], spec: run_dir.RunSpec, episodes: int) -> dict | None:
    """The row of ``table`` scored from a run made with ``spec`` over ``episodes``, if any."""
    identity = _identity(spec)
    same = [
        r for r in table if _written(r.get("spec")) == identity and r.get("episodes") == episodes
    ]
    return same[-1] if same else None


def _written(identity: dict | None) -> dict | None:
    """A row's recorded identity with its config read back: a PPOConfig field added since the
    row was written takes its default (which reproduces the older runs), one removed since makes
    it another run (None)."""
    if identity is None:
        return None
    try:
        config = PPOConfig.from_dict(identity["config"]).to_dict()
    except (ConfigError, KeyError, TypeError):
        return None
    return {**identity, "config": config, "preset": current_name(identity.get("preset"))}


def _existing(root: Path, spec: run_dir.RunSpec) -> Path | None:
    """The newest run in ``root`` made with ``spec``, if any: a rerun with the same
    ``--runs-dir`` takes its row if it was scored, else continues it from its checkpoint."""
    if not root.is_dir():
        return None
    same = [
        p
        for p in sorted(root.iterdir())
        if (p / run_dir.RUN_FILE).is_file() and run_dir.read_spec(p) == spec
    ]
    return same[-1] if same else None


def score(
    path: Path,
    cfg: PPOConfig,
    preset: str,
    seeds: int,
    episodes: int,
    outcome: session.Outcome,
    wall: float,
) -> dict:
    """The run's final policies in Gymnasium (and its last evaluation in the program)."""
    m = run_dir.read_metrics(path)
    evaluated = np.isfinite(m["eval_return"]).any(axis=0)  # the updates that evaluated
    n = cfg.eval_episodes
    ests = [
        Estimate(float(a), float(s), n)
        for a, s in zip(m["eval_return"][:, -1], m["eval_return_std"][:, -1], strict=True)
    ]
    report = cross_check_run(path, ests, episodes)
    gym_means = np.array([row["gymnasium"]["mean"] for row in report["seeds"]])
    ret = m["episode_return"]  # (seeds, num_updates), NaN where no training episode ended
    ended = np.flatnonzero(np.isfinite(ret).any(axis=0))  # updates where some seed's ended
    train = np.nanmean(ret[:, ended], axis=0)
    return {
        "env": report["env"],
        "budget": cfg.total_timesteps,
        "preset": preset,
        "seeds": seeds,
        "gymnasium_mean": float(gym_means.mean()),
        "gymnasium_per_seed": gym_means.tolist(),
        "eval_per_seed": [e.mean for e in ests],
        "verdict": report["verdict"],
        "first_train_return": float(train[0]),
        "first_train_steps": int(m["env_steps"][0, ended[0]]),
        "last_train_return": float(train[-1]),
        "steps_per_s": outcome.steps_done / outcome.train_seconds if outcome.steps_done else None,
        "wall_s": wall,
        "curve_steps": m["env_steps"][0, evaluated].tolist(),
        "curve_eval": np.nanmean(m["eval_return"][:, evaluated], axis=0).tolist(),
        "curve_eval_min": np.nanmin(m["eval_return"][:, evaluated], axis=0).tolist(),
        "curve_eval_max": np.nanmax(m["eval_return"][:, evaluated], axis=0).tolist(),
        "last_update": last_update(m),
        "curve_health": health_curve(m, evaluated),
    }


def merge_parts(parts: list[dict]) -> dict:
    """The row of ``--seeds-apart``: one seed per part, each a row of a one-seed run.

    Args:
        parts: rows of one env, budget, preset and episode count, with equal evaluation steps,
            in the order of their base seeds.

    Returns:
        A row as :func:`score` makes one for that many seeds (``apart``: the parts' base seeds),
        with two differences: ``steps_per_s`` is the mean of the runs' (each trains one seed),
        and the training episodes are the means of the runs' first and last.
    """
    first = parts[0]
    kinds = {(p["env"], p["budget"], p["preset"], p["episodes"]) for p in parts}
    if len(kinds) != 1 or any(p["curve_steps"] != first["curve_steps"] for p in parts):
        raise ValueError(f"parts of different runs cannot make one row: {sorted(kinds)}")
    verdicts = [p["verdict"] for p in parts]
    rates = [p["steps_per_s"] for p in parts if p["steps_per_s"]]
    gym = [x for p in parts for x in p["gymnasium_per_seed"]]

    def mean_of(key: str) -> dict | None:  # a dict of numbers or of lists, per key
        got = [p.get(key) for p in parts]
        if any(not g for g in got):
            return None
        return {k: np.mean([g[k] for g in got], axis=0).tolist() for k in got[0]}

    return {
        "env": first["env"],
        "budget": first["budget"],
        "preset": first["preset"],
        "seeds": len(gym),
        "seed": first["seed"],
        "apart": [p["seed"] for p in parts],
        "gymnasium_mean": float(np.mean(gym)),
        "gymnasium_per_seed": gym,
        "eval_per_seed": [x for p in parts for x in p["eval_per_seed"]],
        "verdict": verdicts[0] if len(set(verdicts)) == 1 else ", ".join(verdicts),
        "first_train_return": float(np.mean([p["first_train_return"] for p in parts])),
        "first_train_steps": max(p["first_train_steps"] for p in parts),
        "last_train_return": float(np.mean([p["last_train_return"] for p in parts])),
        "steps_per_s": float(np.mean(rates)) if rates else None,
        "wall_s": sum(p["wall_s"] for p in parts),
        "curve_steps": first["curve_steps"],
        "curve_eval": np.mean([p["curve_eval"] for p in parts], axis=0).tolist(),
        "curve_eval_min": np.min([p["curve_eval_min"] for p in parts], axis=0).tolist(),
        "curve_eval_max": np.max([p["curve_eval_max"] for p in parts], axis=0).tolist(),
        "last_update": mean_of("last_update"),
        "curve_health": mean_of("curve_health"),
        "episodes": first["episodes"],
        "versions": first.get("versions"),
        "cpu": first.get("cpu"),
    }


def _seeds(row: dict) -> str:
    """How many seeds, and from which base seed (``PRNGKey(seed)`` split into them); rows of
    ``--seeds-apart``: the base seeds of their one-seed runs."""
    apart = row.get("apart")
    if apart:
        return f"{row['seeds']} (one run each: {apart[0]}-{apart[-1]})"
    return f"{row['seeds']} (from {row.get('seed', 0)})"


def _peak(row: dict) -> str:
    """The best evaluation in the program (mean over seeds) and where it was."""
    return peak_text(peak(row["curve_steps"], row["curve_eval"]))


def _health(row: dict) -> str:
    """The last update's entropy, approximate KL, clip fraction, rate; rows scored without: -."""
    return health_text(row.get("last_update"))


def markdown(rows: list[dict], device: str, command: str) -> str:
    """The results table, with the published figures beside each row."""
    lines = [
        f"# Returns ({device})",
        "",
        f"`{command}`",
        "",
        "Score: mean over seeds of the final deterministic policy's return in the task's reference",
        "(Gymnasium's own v5 task; dm_control's own environment for `dm_control/...`; C MuJoCo),",
        "each seed over the stated episodes; min-max over seeds in brackets, the",
        "standard deviation over seeds, each seed's score. Seeds: how many, split from",
        "PRNGKey(base seed) (a sweep's seeds are PRNGKey(0), PRNGKey(1), ...); one run each:",
        "each seed trained as its own run from the base seeds given (`--seeds-apart`), steps/s",
        "then a run's (mean) and training episodes the runs' mean. Eval: the program's own last",
        "evaluation (mean over seeds).",
        "Budgets of one env share one training run when the preset does not anneal its learning",
        "rate (the smaller budget's run is continued to the larger: the same states as separate",
        "runs); steps/s is the training throughput of all seeds together, over the steps the",
        "run trained in its last stretch (from the smaller budget, or from a checkpoint after a",
        "stop). Training episodes: the mean return of the stochastic policy's episodes in the",
        "first update where any ended (at the steps given) and in the last: what the run",
        "learned. Eval peak: the best of the program's evaluations (mean over seeds) and its",
        "steps. Last update: the policy's entropy, the approximate KL, the clip fraction and the",
        "learning rate of the run's last update (mean over seeds): updates far outside the clip",
        "range, or a spread that ran away, show there.",
        "",
        "| env | budget | preset | seeds | Gymnasium return | std | per seed | eval | eval peak "
        "| cross-check | steps/s | training episodes | last update | published |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = np.array(r["gymnasium_per_seed"])
        pub = "; ".join(f"{s} {v} at {b / 1e6:g}M" for s, b, v in PUBLISHED.get(r["env"], []))
        lines.append(
            f"| {r['env']} | {r['budget']:,} | {r['preset']} | {_seeds(r)} | "
            f"{_num(g.mean())} [{_num(g.min())}, {_num(g.max())}] | {_num(g.std())} | "
            f"{', '.join(_num(x) for x in g)} | "
            f"{_num(np.mean(r['eval_per_seed']))} | {_peak(r)} | {r['verdict']} | "
            f"{_rate(r['steps_per_s'])} | {_num(r['first_train_return'])} at "
            f"{r['first_train_steps']:,} -> {_num(r['last_train_return'])} | {_health(r)} | {pub} |"
        )
    return "\n".join(lines) + "\n"


def curves(rows: list[dict]) -> str:
    """Each row's course, one line per evaluation: steps, return (mean over seeds, min-max),
    and the update there as the table's last-update column gives it (:func:`_health`; "-" for
    rows scored without it); each row's last line, how it ends (:func:`last_tenth`)."""
    out = []
    for r in rows:
        out.append(f"{r['env']} {r['budget']:,} {r['preset']}, seeds {_seeds(r)}:")
        out.append(COURSE_HEADER)
        health = r.get("curve_health") or None
        lo, hi = r.get("curve_eval_min"), r.get("curve_eval_max")
        for i, (x, y) in enumerate(zip(r["curve_steps"], r["curve_eval"], strict=True)):
            spread = f"[{_num(lo[i])}, {_num(hi[i])}]" if lo and hi else ""
            there = None if health is None else {k: v[i] for k, v in health.items()}
            out.append(course_line(x, _num(y), spread, there))
        out.append(last_tenth(r["curve_steps"], r["curve_eval"], lo))
    return "\n".join(out)


def plot(rows: list[dict], path: Path) -> None:
    """Evaluation return in the program against steps (mean over seeds, min-max shaded)."""
    envs = sorted({r["env"] for r in rows})
    ncols = min(4, len(envs))
    nrows = math.ceil(len(envs) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.5 * nrows), squeeze=False)
    for ax in axes.flat[len(envs) :]:
        ax.set_visible(False)
    for ax, env in zip(axes.flat, envs, strict=False):
        for r in rows:
            if r["env"] == env:
                x, y = np.array(r["curve_steps"]), np.array(r["curve_eval"])
                ok = np.isfinite(y)
                (line,) = ax.plot(x[ok], y[ok], marker="o", ms=2, label=f"{r['budget']:,} steps")
                if "curve_eval_min" in r:
                    lo, hi = np.array(r["curve_eval_min"]), np.array(r["curve_eval_max"])
                    ax.fill_between(x[ok], lo[ok], hi[ok], color=line.get_color(), alpha=0.2)
        top = max(r["budget"] for r in rows if r["env"] == env)
        shown = [p for p in PUBLISHED.get(env, []) if p[1] <= top]
        styles = itertools.cycle(["--", ":", "-.", (0, (5, 2, 1, 2, 1, 2))])
        for (source, budget, value), ls in zip(shown, styles, strict=False):
            label = f"{source}: {value} at {budget / 1e6:g}M"  # legend: close lines' text overlaps
            ax.axhline(value, ls=ls, lw=1, color="dimgray", label=label)
        ax.set_title(env)
        ax.set_xlabel("environment steps (per seed)")
        ax.set_ylabel("evaluation return (in the program)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--envs", nargs="*", default=None, help=f"default: {list(PUBLISHED)[:4]}")
    p.add_argument("--budgets", nargs="*", type=int, default=None, help="default: 500000 1000000")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument(
        "--preset",
        default="defaults",
        help="a preset, or tuned: each env's own (defaults where none)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="base seed: the runs' keys are split from it"
    )
    p.add_argument("--episodes", type=int, default=20, help="Gymnasium episodes per seed")
    p.add_argument("--physics", default="auto", choices=common.ENGINES, help="v5 engine")
    p.add_argument("--quick", action="store_true", help="InvertedPendulum-v5, 4096+8192 (CI)")
    p.add_argument(
        "--out-stem",
        type=Path,
        default=None,
        help="where the table goes; its rows already scored with the same runs are kept",
    )
    p.add_argument(
        "--retrain", action="store_true", help="train every row, none kept from the table"
    )
    p.add_argument(
        "--curves",
        action="store_true",
        help="train nothing: print the table's rows (of --envs, --budgets if given) per evaluation",
    )
    p.add_argument(
        "--seeds-apart",
        nargs="*",
        default=None,
        metavar="ENV",
        help="these envs (none named: all) train each seed as its own run, from base seeds "
        "--seed, --seed + 1, ..., each kept in the table as it is scored",
    )
    p.add_argument(
        "--runs-dir",
        type=Path,
        default=None,
        help="keep the run directories here (default: a temporary directory, deleted)",
    )
    a = p.parse_args()
    stem = a.out_stem or common.results_dir() / "returns"
    written = stem.with_suffix(".json")
    if a.curves:
        if not written.is_file():
            p.error(f"--curves reads a written table; there is none at {written}")
        rows = [
            r
            for r in json.loads(written.read_text())["rows"]
            if (a.envs is None or r["env"] in a.envs)
            and (a.budgets is None or r["budget"] in a.budgets)
        ]
        if not rows:
            p.error(f"no row of {written} is of envs {a.envs} and budgets {a.budgets}")
        print(curves(rows))
        return
    a.envs = list(PUBLISHED)[:4] if a.envs is None else a.envs
    a.budgets = [500_000, 1_000_000] if a.budgets is None else a.budgets
    pjp.enable_compilation_cache()
    if a.quick:
        a.envs, a.budgets, a.seeds, a.episodes = ["InvertedPendulum-v5"], [4096, 8192], 2, 3
        a.retrain = True
    meta = common.meta()
    old = json.loads(written.read_text()) if written.is_file() else {"meta": {}, "rows": []}
    table = [] if a.retrain else old["rows"]
    table_parts = [] if a.retrain else old.get("parts", [])
    apart = set(a.envs if a.seeds_apart == [] else a.seeds_apart or [])
    if not apart <= set(a.envs):
        p.error(f"--seeds-apart names envs not in --envs: {sorted(apart - set(a.envs))}")
    rows: list[dict] = []
    parts: list[dict] = []

    def save(final: bool = False) -> None:  # after every row or part: a stop loses nothing
        pending = [] if final else [r for r in table if r not in rows]
        unreached = [q for q in table_parts if q not in parts]  # a kept part is the table's
        write(stem, meta, rows + pending, parts + ([] if final else unreached))

    def report(r: dict) -> None:
        print(
            f"{r['env']:16s} {r['budget']:>9,}  Gymnasium {r['gymnasium_mean']:8.1f}  "
            f"(seeds {np.round(r['gymnasium_per_seed'], 0).tolist()})  "
            f"{r['verdict']}  {_rate(r['steps_per_s'])} steps/s  training episodes "
            f"{r['first_train_return']:.1f} -> {r['last_train_return']:.1f}",
            flush=True,
        )

    with tempfile.TemporaryDirectory() as tmp:
        root = a.runs_dir or Path(tmp)
        for env_id in a.envs:
            keep_runs = a.runs_dir is not None
            if env_id in apart:
                by_budget: dict[int, list[dict]] = {}
                for i in range(a.seeds):
                    base = a.seed + i
                    one_seed = run_env(
                        env_id, a.budgets, 1, a.preset, a.episodes, root, keep_runs, a.physics,
                        base, table_parts,
                    )  # fmt: skip
                    for part in one_seed:
                        by_budget.setdefault(part["budget"], []).append(part)
                        parts.append(part)
                        print(f"seed {base}: ", end="")
                        report(part)
                        save()
                env_rows: Iterable[dict] = [merge_parts(by_budget[b]) for b in sorted(by_budget)]
            else:
                env_rows = run_env(
                    env_id, a.budgets, a.seeds, a.preset, a.episodes, root, keep_runs, a.physics,
                    a.seed, table,
                )  # fmt: skip
            for r in env_rows:
                rows.append(r)
                report(r)
                save()
    save(final=True)
    print(f"wrote {stem}.json, .md, .png")


def write(stem: Path, meta: dict, rows: list[dict], parts: list[dict] | None = None) -> None:
    """The JSON (with the ``--seeds-apart`` runs' rows, ``parts``), the Markdown table and the
    plot of the rows so far."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    part = stem.with_suffix(".json.part")  # written whole, then renamed: a stop leaves no half
    doc = {"meta": meta, "rows": rows, **({"parts": parts} if parts else {})}
    part.write_text(json.dumps(doc, indent=2))
    part.replace(stem.with_suffix(".json"))
    common.write_markdown(stem.with_suffix(".md"), markdown(rows, meta["device"], meta["command"]))
    if rows:
        plot(rows, stem.with_suffix(".png"))


if __name__ == "__main__":
    main()
