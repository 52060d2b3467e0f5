"""Scaling: trainer and raw env steps/s against num_envs and against the number of vmapped seeds.

Each point compiles a raw-env program and a trainer of the same batch shape and times both in
one run (best of ``--repeats``, alternating), after compiling. ``ratio`` is the trainer's
steps/s over the raw env's at the same total env batch (seeds x num_envs), the share of env
throughput the trainer keeps.

- num_envs: rollouts of ``--rollout`` steps per env (batch = num_envs x rollout), 32 minibatches
  per epoch, 10 epochs: the default trainer's shape (16 x 128) at other widths.
- seeds: the default shape (16 envs, batch 2048), ``jax.vmap``-ed over seeds in one program.
  ``--unfolded`` adds the trainer as vmapped seeds were batched before the env batch folded them
  in (``purejaxppo.envs.wrappers.unfolded_vmaps``), timed in turn with the other two programs.

    uv run python benchmarks/scaling.py                              # CPU sizes
    uv run python benchmarks/scaling.py --num-envs 2048 4096 8192 --seeds 1 8 64   # a GPU
    uv run python benchmarks/scaling.py --quick                      # tiny sizes (CI)
    uv run python benchmarks/scaling.py --num-envs --seeds 8 32 --unfolded --merge   # before/after
    uv run python benchmarks/scaling.py --num-envs --seeds 16 32 --repeats 1 --merge   # add points

Writes ``benchmarks/results/<platform>/scaling_<env>.{json,md,png}`` (``--out-stem`` to change).
``--merge`` keeps the points already in that JSON and adds (or replaces) the ones measured now,
so a table too slow for one sitting is built by several commands, each listed in the table with
the timed updates and repeats of its points.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import purejaxppo as pjp
from purejaxppo.envs import wrappers

sys.path.insert(0, str(Path(__file__).parent))
import common


def point(
    env: pjp.envs.Env, cfg: pjp.PPOConfig, seeds: int, repeats: int, unfolded: bool = False
) -> dict:
    """Steps/s of the trainer (``seeds`` vmapped) and of the raw env at seeds x num_envs.

    With ``unfolded`` (and ``seeds > 1``) also the trainer as seeds were batched before
    (``wrappers.unfolded_vmaps``), compiled beside it and timed in turn with the other two.
    """
    key = jax.random.PRNGKey(0)
    steps = cfg.num_updates * cfg.batch_size * seeds
    raw, raw_c = common.compiled(
        common.raw_env_fn(env, cfg.num_envs * seeds, cfg.num_steps, cfg.num_updates), key
    )
    train = pjp.make_train(cfg, env)
    args = (key,) if seeds == 1 else (jax.random.split(key, seeds),)
    trainer, trainer_c = common.compiled(jax.jit(train if seeds == 1 else jax.vmap(train)), *args)
    programs = {"raw": raw, "trainer": trainer}
    if unfolded and seeds > 1:
        with wrappers.unfolded_vmaps():
            programs["unfolded"], _ = common.compiled(jax.jit(jax.vmap(train)), *args)
    times: dict[str, list[float]] = {k: [] for k in programs}
    for _ in range(repeats):
        for name, fn in programs.items():
            times[name].append(common.run_seconds(fn, *((key,) if name == "raw" else args)))
    raw_sps, trainer_sps = steps / min(times["raw"]), steps / min(times["trainer"])
    row = {
        "num_envs": cfg.num_envs,
        "seeds": seeds,
        "batch_size": cfg.batch_size,
        "minibatch_size": cfg.minibatch_size,
        "env_steps": steps,
        "raw_env_steps_per_s": raw_sps,
        "trainer_steps_per_s": trainer_sps,
        "ratio": trainer_sps / raw_sps,
        "raw_compile_s": raw_c,
        "trainer_compile_s": trainer_c,
        "updates": cfg.num_updates,
        "repeats": repeats,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    if "unfolded" in times:
        row["unfolded_trainer_steps_per_s"] = steps / min(times["unfolded"])
    return row


def merged(old: list[dict], new: list[dict], key: str) -> list[dict]:
    """``old`` rows whose ``key`` was not measured again, then ``new``, sorted by ``key``."""
    again = {r[key] for r in new}
    return sorted([r for r in old if r[key] not in again] + new, key=lambda r: r[key])


def seeds_label(seed_rows: list[dict]) -> str:
    """The seeds table's title, with the envs each seed steps."""
    envs = sorted({r["num_envs"] for r in seed_rows})
    return f"vmapped seeds ({', '.join(map(str, envs)) or 16} envs each)"


def markdown(env_rows: list[dict], seed_rows: list[dict], meta: dict) -> str:
    """Both tables, with the command and device."""
    out = [f"# Scaling, {meta['env']} ({meta['device']})", ""]
    out += [f"- `{c}`" for c in meta["commands"]]
    out.append("")
    for title, rows, key in (
        ("num_envs (1 seed)", env_rows, "num_envs"),
        (seeds_label(seed_rows), seed_rows, "seeds"),
    ):
        if not rows:
            continue
        before = any("unfolded_trainer_steps_per_s" in r for r in rows)
        extra = " trainer, seeds unfolded (before) | now / before |" if before else ""
        out += [
            f"## {title}",
            "",
            f"| {key} | batch | trainer steps/s | raw env steps/s | trainer / raw | compile s "
            f"| timed updates x repeats |{extra}",
            "|---|---|---|---|---|---|---|" + ("---|---|" if before else ""),
        ]
        for r in rows:
            line = (
                f"| {r[key]} | {r['batch_size']} | {r['trainer_steps_per_s']:,.0f} | "
                f"{r['raw_env_steps_per_s']:,.0f} | {r['ratio']:.2f} | "
                f"{r['trainer_compile_s']:.0f} | {r['updates']} x {r['repeats']} |"
            )
            if before:
                u = r.get("unfolded_trainer_steps_per_s")
                line += f" {u:,.0f} | {r['trainer_steps_per_s'] / u:.2f}x |" if u else " | |"
            out.append(line)
        out.append("")
    return "\n".join(out)


def plot(env_rows: list[dict], seed_rows: list[dict], path: Path, title: str) -> None:
    """Steps/s of trainer and raw env against num_envs and against seeds (log-log)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, rows, key, label in (
        (axes[0], env_rows, "num_envs", "num_envs (1 seed)"),
        (axes[1], seed_rows, "seeds", seeds_label(seed_rows)),
    ):
        if rows:
            x = [r[key] for r in rows]
            ax.plot(x, [r["trainer_steps_per_s"] for r in rows], "o-", label="trainer")
            ax.plot(x, [r["raw_env_steps_per_s"] for r in rows], "s--", label="raw env")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.legend()
        ax.set_xlabel(label)
        ax.set_ylabel("env steps / s (all seeds)")
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def show(label: str, r: dict) -> None:
    """One line of progress."""
    print(
        f"{label:14s} trainer {r['trainer_steps_per_s']:9.0f}  raw {r['raw_env_steps_per_s']:9.0f}"
        f"  ratio {r['ratio']:.2f}  (compile {r['trainer_compile_s']:.0f} s)"
        + (
            f"  unfolded (before) {r['unfolded_trainer_steps_per_s']:9.0f}"
            if "unfolded_trainer_steps_per_s" in r
            else ""
        ),
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--num-envs", nargs="*", type=int, help="default 1 4 16 64 256")
    p.add_argument("--seeds", nargs="*", type=int, help="vmapped seeds; default 1 2 4 8")
    p.add_argument("--rollout", type=int, default=128, help="steps per env per update")
    p.add_argument("--updates", type=int, default=2, help="updates timed per point")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument(
        "--unfolded",
        action="store_true",
        help="also time each seeds point's trainer as seeds were batched before (unfolded vmaps)",
    )
    p.add_argument("--physics", default="auto", choices=common.ENGINES, help="v5 engine")
    p.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    p.add_argument("--out-stem", type=Path, default=None)
    p.add_argument(
        "--merge", action="store_true", help="keep the points already in the output JSON"
    )
    a = p.parse_args()
    if a.quick:  # tiny sizes; --num-envs and --seeds given with --quick are kept
        a.env, a.rollout, a.updates, a.repeats = "InvertedPendulum-v5", 16, 1, 1
    if a.num_envs is None:
        a.num_envs = [2, 4] if a.quick else [1, 4, 16, 64, 256]
    if a.seeds is None:
        a.seeds = [2] if a.quick else [1, 2, 4, 8]
    stem = a.out_stem or common.results_dir() / f"scaling_{a.env.lower().replace('-', '_')}"
    provenance = common.meta()
    command = provenance.pop("command")
    meta = {
        **provenance,
        "env": a.env,
        "commands": [command],
        "date": time.strftime("%Y-%m-%d"),
    }
    old = {"num_envs": [], "seeds": []}
    if a.merge and stem.with_suffix(".json").exists():
        old = json.loads(stem.with_suffix(".json").read_text())
        if (old["meta"]["env"], old["meta"]["device"]) != (meta["env"], meta["device"]):
            sys.exit(
                f"--merge: {stem}.json holds {old['meta']['env']} on {old['meta']['device']}, "
                f"not {meta['env']} on {meta['device']}: give another --out-stem"
            )
        new = [c for c in meta["commands"] if c not in old["meta"]["commands"]]
        meta["commands"] = old["meta"]["commands"] + new
    pjp.enable_compilation_cache()
    env = pjp.envs.make(a.env, physics=a.physics)
    base = pjp.PPOConfig(eval_every=0)
    env_rows: list[dict] = []
    seed_rows: list[dict] = []

    def write() -> None:
        """The results so far (merged with ``old``), after every point."""
        rows = (
            merged(old["num_envs"], env_rows, "num_envs"),
            merged(old["seeds"], seed_rows, "seeds"),
        )
        stem.parent.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".json").write_text(
            json.dumps({"meta": meta, "num_envs": rows[0], "seeds": rows[1]}, indent=2)
        )
        stem.with_suffix(".md").write_text(markdown(*rows, meta))
        plot(*rows, stem.with_suffix(".png"), f"{a.env} on {meta['device']}")

    for n in a.num_envs:
        batch = n * a.rollout
        cfg = base.replace(
            num_envs=n,
            batch_size=batch,
            minibatch_size=max(batch // 32, 1),
            total_timesteps=a.updates * batch,
        ).validate()
        env_rows.append(point(env, cfg, 1, a.repeats))
        show(f"num_envs {n}", env_rows[-1])
        write()
    cfg = base.replace(total_timesteps=a.updates * base.batch_size)
    if a.quick:
        cfg = cfg.replace(num_envs=4, batch_size=64, minibatch_size=16, total_timesteps=64)
    for s in a.seeds:
        seed_rows.append(point(env, cfg.validate(), s, a.repeats, a.unfolded))
        show(f"seeds {s}", seed_rows[-1])
        write()
    write()
    print(f"wrote {stem}.json, .md, .png")


if __name__ == "__main__":
    main()
