"""Compile time of the trainer: cold (empty persistent cache) and warm (new process, same cache).

Each measurement is a fresh Python process that imports purejaxppo, builds the env, traces and
lowers the default trainer (``jax.jit(make_train(cfg, env))``) and compiles it, with
``PUREJAXPPO_CACHE_DIR`` pointing at a folder that starts empty: the first process compiles
(cold), the second finds the program in the cache (warm).

    uv run python benchmarks/compile_time.py                       # HalfCheetah, Hopper, Ant
    uv run python benchmarks/compile_time.py --envs Humanoid-v5 --num-envs 2048
    uv run python benchmarks/compile_time.py --quick               # InvertedPendulum (CI)

Writes ``benchmarks/results/<platform>/compile_time.{json,md,png}`` (``--out-stem`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import common

T0 = time.perf_counter()


def child(env_id: str, num_envs: int, physics: str) -> None:
    """Runs in the measured process: prints one JSON line of phase times (seconds)."""
    import jax

    import purejaxppo as pjp

    t_import = time.perf_counter() - T0
    pjp.enable_compilation_cache()
    t = time.perf_counter()
    env = pjp.envs.make(env_id, physics=physics)
    cfg = pjp.PPOConfig(num_envs=num_envs, batch_size=num_envs * 128)
    train = pjp.make_train(cfg, env)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    lowered = jax.jit(train).lower(jax.random.PRNGKey(0))
    t_lower = time.perf_counter() - t
    t = time.perf_counter()
    lowered.compile()
    t_compile = time.perf_counter() - t
    print(
        json.dumps(
            {
                "import_s": t_import,
                "build_s": t_build,
                "trace_lower_s": t_lower,
                "compile_s": t_compile,
                "total_s": time.perf_counter() - T0,
                "device": jax.devices()[0].device_kind,
            }
        )
    )


def measure(env_id: str, num_envs: int, physics: str) -> dict:
    """Cold then warm, each in a new process sharing one initially empty cache folder."""
    out = {"env": env_id, "num_envs": num_envs, "physics": physics}
    with tempfile.TemporaryDirectory() as cache:
        for phase in ("cold", "warm"):
            cmd = [sys.executable, __file__, "--child", "--envs", env_id, "--physics", physics]
            done = subprocess.run(
                [*cmd, "--num-envs", str(num_envs)],
                capture_output=True,
                text=True,
                env=dict(os.environ, PUREJAXPPO_CACHE_DIR=cache),
            )
            if done.returncode != 0:
                sys.exit(f"{env_id} ({phase}) failed:\n{done.stderr[-3000:]}")
            out[phase] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def markdown(rows: list[dict], meta: dict) -> str:
    """The table: seconds per phase, cold and warm."""
    lines = [
        f"# Compile time ({meta['device']})",
        "",
        f"`{meta['command']}`",
        "",
        "Seconds in a new process: import, trace + lower, compile, and from start to a program",
        "ready to run. Cold: empty persistent cache; warm: the cache the cold process filled.",
        "",
        "| env | num_envs | cold: trace + lower | cold: compile | cold: total | "
        "warm: trace + lower | warm: compile | warm: total |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, w = r["cold"], r["warm"]
        lines.append(
            f"| {r['env']} | {r['num_envs']} | {c['trace_lower_s']:.1f} | {c['compile_s']:.1f} | "
            f"{c['total_s']:.1f} | {w['trace_lower_s']:.1f} | {w['compile_s']:.1f} | "
            f"{w['total_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Seconds from start to a ready program, cold and warm, per env."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(1.8 * len(rows) + 3, 3.5))
    for i, phase in enumerate(("cold", "warm")):
        ax.bar(x + (i - 0.5) * 0.38, [r[phase]["total_s"] for r in rows], 0.38, label=phase)
    ax.set_xticks(x, [r["env"] for r in rows])
    ax.set_ylabel("seconds to a compiled trainer")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--envs", nargs="*", default=["HalfCheetah-v5", "Hopper-v5", "Ant-v5"])
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--quick", action="store_true", help="InvertedPendulum-v5 only (CI)")
    p.add_argument("--out-stem", type=Path, default=None)
    p.add_argument("--physics", default="auto", choices=common.ENGINES, help="v5 engine")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a.envs[0], a.num_envs, a.physics)
    if a.quick:
        a.envs = ["InvertedPendulum-v5"]
    rows = []
    for env_id in a.envs:
        rows.append(measure(env_id, a.num_envs, a.physics))
        c, w = rows[-1]["cold"], rows[-1]["warm"]
        print(f"{env_id:24s} cold {c['total_s']:6.1f} s   warm {w['total_s']:6.1f} s", flush=True)
    device = rows[0]["cold"]["device"]
    stem = a.out_stem or common.results_dir() / "compile_time"
    meta = common.meta()
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    stem.with_suffix(".md").write_text(markdown(rows, meta))
    plot(rows, stem.with_suffix(".png"), f"Compile time on {device}")
    print(f"wrote {stem}.json, .md, .png")


if __name__ == "__main__":
    main()
