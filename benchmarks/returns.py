"""Returns at fixed budgets, scored in Gymnasium's own tasks (C MuJoCo), beside published figures.

For each env and budget: ``--seeds`` seeds vmapped in one run (the CLI's way: a run directory
with checkpoints), then the final policy of every seed run for ``--episodes`` deterministic
episodes in ``gymnasium.make(env_id)``. The score is the mean over seeds of those Gymnasium
returns (with the spread over seeds); the MJX evaluation and the cross-check verdict are kept.

    uv run python benchmarks/returns.py                                  # 4 tasks x 500k, 1M
    uv run python benchmarks/returns.py --envs HalfCheetah-v5 --budgets 500000
    uv run python benchmarks/returns.py --preset cleanrl --budgets 1000000
    uv run python benchmarks/returns.py --quick                          # tiny, for CI

Writes ``benchmarks/results/returns_<device>.{json,md,png}`` (``--out-stem`` to change).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import purejaxppo as pjp
from purejaxppo import run_dir, session
from purejaxppo.crosscheck import Estimate, cross_check
from purejaxppo.presets import preset_config

# Published PPO figures: (source, budget, return).
PUBLISHED = {
    "HalfCheetah-v5": [
        ("the seed (v5)", 500_000, 1560),
        ("CleanRL PPO (v4)", 1_000_000, 1443),
        ("SLM-Lab PPO (v5)", 10_000_000, 6241),
    ],
    "Hopper-v5": [("CleanRL PPO (v4)", 1_000_000, 2383)],
    "Walker2d-v5": [("CleanRL PPO (v4)", 1_000_000, 2288), ("SLM-Lab PPO (v5)", 10_000_000, 4379)],
    "Ant-v5": [("SLM-Lab PPO (v5)", 10_000_000, 2138)],
}


def run_one(env_id: str, budget: int, seeds: int, preset: str, episodes: int, root: Path) -> dict:
    """Trains ``seeds`` seeds for ``budget`` steps; scores them in Gymnasium."""
    cfg = preset_config(preset).replace(total_timesteps=budget).validate()
    chunk = session.chunk_updates(cfg.num_updates)
    spec = run_dir.RunSpec(
        env=env_id,
        env_kwargs={},
        config=cfg,
        num_seeds=seeds,
        seed=0,
        name=f"returns-{preset}",
        chunk_updates=chunk,
        checkpoint_every=session.checkpoint_every(cfg.num_updates, chunk, None),
    )
    path = run_dir.new_run_dir(root, spec)
    t0 = time.perf_counter()
    outcome = session.run(path, show_progress=False)
    wall = time.perf_counter() - t0
    m = run_dir.read_metrics(path)
    n = cfg.eval_episodes
    ests = [
        Estimate(float(a), float(s), n)
        for a, s in zip(m["eval_return"][:, -1], m["eval_return_std"][:, -1], strict=True)
    ]
    report = cross_check(path, ests, episodes)
    gym_means = np.array([row["gymnasium"]["mean"] for row in report["seeds"]])
    return {
        "env": env_id,
        "budget": budget,
        "preset": preset,
        "seeds": seeds,
        "gymnasium_mean": float(gym_means.mean()),
        "gymnasium_per_seed": gym_means.tolist(),
        "mjx_per_seed": [e.mean for e in ests],
        "verdict": report["verdict"],
        "steps_per_s": outcome.steps_done / outcome.train_seconds,
        "wall_s": wall,
        "curve_steps": np.nanmax(m["env_steps"], axis=0).tolist(),
        "curve_eval": np.nanmean(m["eval_return"], axis=0).tolist(),
    }


def markdown(rows: list[dict], device: str, command: str) -> str:
    """The results table, with the published figures beside each row."""
    lines = [
        f"# Returns ({device})",
        "",
        f"`{command}`",
        "",
        "Score: mean over seeds of the final deterministic policy's return in Gymnasium's own task",
        "(C MuJoCo), each seed over the stated episodes; min-max over seeds in brackets.",
        "",
        "| env | budget | preset | seeds | Gymnasium return | MJX eval | cross-check | published |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = np.array(r["gymnasium_per_seed"])
        pub = "; ".join(f"{s} {v} at {b / 1e6:g}M" for s, b, v in PUBLISHED.get(r["env"], []))
        lines.append(
            f"| {r['env']} | {r['budget']:,} | {r['preset']} | {r['seeds']} | "
            f"{g.mean():.0f} [{g.min():.0f}, {g.max():.0f}] | {np.mean(r['mjx_per_seed']):.0f} | "
            f"{r['verdict']} | {pub} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Evaluation return (MJX, mean over seeds) against steps, one panel per env."""
    envs = sorted({r["env"] for r in rows})
    fig, axes = plt.subplots(1, len(envs), figsize=(4.5 * len(envs), 3.5), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        for r in rows:
            if r["env"] == env:
                x, y = np.array(r["curve_steps"]), np.array(r["curve_eval"])
                ok = np.isfinite(y)
                ax.plot(x[ok], y[ok], marker="o", ms=2, label=f"{r['budget']:,} steps")
        for source, budget, value in PUBLISHED.get(env, []):
            if budget <= max(r["budget"] for r in rows if r["env"] == env):
                ax.axhline(value, ls="--", lw=1, color="gray")
                ax.annotate(source, (0, value), fontsize=7, color="gray", va="bottom")
        ax.set_title(env)
        ax.set_xlabel("environment steps (per seed)")
        ax.set_ylabel("evaluation return (MJX)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--envs", nargs="*", default=list(PUBLISHED))
    p.add_argument("--budgets", nargs="*", type=int, default=[500_000, 1_000_000])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--preset", default="seed")
    p.add_argument("--episodes", type=int, default=10, help="Gymnasium episodes per seed")
    p.add_argument("--quick", action="store_true", help="InvertedPendulum-v5, 4096 steps (CI)")
    p.add_argument("--out-stem", type=Path, default=None)
    a = p.parse_args()
    pjp.enable_compilation_cache()
    if a.quick:
        a.envs, a.budgets, a.seeds, a.episodes = ["InvertedPendulum-v5"], [4096], 2, 3
    device = jax.devices()[0].platform
    stem = a.out_stem or Path(__file__).parent / "results" / f"returns_{device}"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for env_id in a.envs:
            for budget in a.budgets:
                r = run_one(env_id, budget, a.seeds, a.preset, a.episodes, Path(tmp))
                rows.append(r)
                print(
                    f"{env_id:16s} {budget:>9,}  Gymnasium {r['gymnasium_mean']:8.1f}  "
                    f"(seeds {np.round(r['gymnasium_per_seed'], 0).tolist()})  "
                    f"{r['verdict']}  {r['steps_per_s']:.0f} steps/s",
                    flush=True,
                )
    import sys

    command = "uv run python benchmarks/returns.py " + " ".join(sys.argv[1:])
    stem.parent.mkdir(parents=True, exist_ok=True)
    meta = {"device": jax.devices()[0].device_kind, "jax": jax.__version__, "command": command}
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    stem.with_suffix(".md").write_text(markdown(rows, meta["device"], command))
    plot(rows, stem.with_suffix(".png"))
    print(f"wrote {stem}.json, .md, .png")


if __name__ == "__main__":
    main()
