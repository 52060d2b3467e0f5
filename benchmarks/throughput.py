"""Throughput: trainer steps/s beside raw env steps/s (random actions, same env and batch).

Both are timed in one run, after compiling, on the same wrapper stack (clip, time limit, vmap,
auto-reset). The ratio trainer / raw is the share of env throughput the trainer keeps.

    uv run python benchmarks/throughput.py                       # HalfCheetah-v5, 16 envs
    uv run python benchmarks/throughput.py --env brax/halfcheetah --backend positional
    uv run python benchmarks/throughput.py --quick               # tiny sizes (CI)
    uv run python benchmarks/throughput.py --session             # + the CLI's way of running:
                                                                 # chunks, CSV, TensorBoard,
                                                                 # checkpoints (runs/session.py)
    uv run python benchmarks/throughput.py --peers sb3 brax      # + Stable-Baselines3 and Brax's
                                                                 # ppo.train, each in its own env
                                                                 # (benchmarks/peers/setup.sh)
``--out-stem STEM`` writes ``STEM.json``, ``STEM.md`` (the table) and ``STEM.png`` (a bar chart).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
from pathlib import Path

import jax

import purejaxppo as pjp

sys.path.insert(0, str(Path(__file__).parent))
import common


def session_seconds(env_id: str, env_kwargs: dict, cfg: pjp.PPOConfig, seeds: int) -> float:
    """Training seconds (compile excluded) of the CLI's run: chunks, metrics files, checkpoints."""
    from purejaxppo.runs import run_dir, session

    chunk = session.chunk_updates(cfg.num_updates)
    spec = run_dir.RunSpec(
        env=env_id,
        env_kwargs=env_kwargs,
        config=cfg,
        num_seeds=seeds,
        seed=0,
        name="bench",
        chunk_updates=chunk,
        checkpoint_every=session.checkpoint_every(cfg.num_updates, chunk, None),
    )
    with tempfile.TemporaryDirectory() as tmp:
        return session.run(run_dir.new_run_dir(Path(tmp), spec)).train_seconds


def measure(
    env_id: str,
    env_kwargs: dict,
    cfg: pjp.PPOConfig,
    seeds: int,
    repeats: int = 2,
    with_session: bool = False,
) -> dict:
    """Raw env and trainer throughput for one env and batch shape.

    The programs run alternately ``repeats`` times each; the best time of each is kept, so
    that all see the same machine load and none pays a first-call cost. ``with_session`` adds
    the CLI's way of running the same training (see :func:`session_seconds`).
    """
    env = pjp.envs.make(env_id, **env_kwargs)
    key = jax.random.PRNGKey(0)
    steps = cfg.num_updates * cfg.batch_size
    raw, raw_compile = common.compiled(
        common.raw_env_fn(env, cfg.num_envs, cfg.num_steps, cfg.num_updates), key
    )
    train = pjp.make_train(cfg, env)
    if seeds == 1:
        trainer, trainer_compile = common.compiled(jax.jit(train), key)
        trainer_args = (key,)
    else:
        trainer_args = (jax.random.split(key, seeds),)
        trainer, trainer_compile = common.compiled(jax.jit(jax.vmap(train)), *trainer_args)
    raw_times, trainer_times, session_times = [], [], []
    for _ in range(repeats):
        raw_times.append(common.run_seconds(raw, key))
        trainer_times.append(common.run_seconds(trainer, *trainer_args))
        if with_session:
            session_times.append(session_seconds(env_id, env_kwargs, cfg, seeds))
    raw_sps = steps / min(raw_times)
    trainer_sps = steps * seeds / min(trainer_times)
    extra = {}
    if with_session:
        extra = {
            "session_steps_per_s": steps * seeds / min(session_times),
            "session_run_s": session_times,
            "session_over_trainer": min(trainer_times) / min(session_times),
        }
    return extra | {
        "env": env_id,
        "env_kwargs": env_kwargs,
        "num_envs": cfg.num_envs,
        "batch_size": cfg.batch_size,
        "minibatch_size": cfg.minibatch_size,
        "n_epochs": cfg.n_epochs,
        "seeds": seeds,
        "env_steps": steps * seeds,
        "raw_env_steps_per_s": raw_sps,
        "trainer_steps_per_s": trainer_sps,
        # with several seeds the trainer steps seeds x num_envs envs; compare per seed
        "ratio": trainer_sps / seeds / raw_sps,
        "raw_compile_s": raw_compile,
        "trainer_compile_s": trainer_compile,
        "raw_run_s": raw_times,
        "trainer_run_s": trainer_times,
    }


def last_third_steps_per_s(env_id: str, env_kwargs: dict, cfg: pjp.PPOConfig) -> float:
    """Trainer steps/s over the last third of a run three times ``cfg``'s length, one seed.

    Brax's ``ppo.train`` is timed this way (between its last two progress calls, after its first
    call compiled): by then its policy has trained on two thirds of the run. The physics costs
    what the policy's actions make it cost (``benchmarks/action_cost.py``), so the two trainers
    are timed on the same stretch of training: ``train.run`` over the first two thirds untimed,
    then over the last third, the same compiled program each time.
    """
    env = pjp.envs.make(env_id, **env_kwargs)
    n = cfg.num_updates
    long_cfg = cfg.replace(total_timesteps=3 * n * cfg.batch_size)
    train = pjp.make_train(long_cfg, env)
    runner = jax.jit(lambda k: train.init(k, long_cfg))(jax.random.PRNGKey(0))
    first = jax.numpy.zeros((), jax.numpy.int32)
    run, _ = common.compiled(jax.jit(lambda r, i: train.run(r, i, n)), runner, first)
    for third in range(2):
        runner, _ = jax.block_until_ready(run(runner, first + third * n))
    seconds = common.run_seconds(run, runner, first + 2 * n)
    return n * cfg.batch_size / seconds


BRAX_LOG_STD = math.log(math.log(2.0) + 0.001)
"""Brax's initial policy spread (``softplus(0) + 0.001``, before its tanh) as a ``log_std_init``.

HalfCheetah-v5's MJX physics costs less under wider actions (``benchmarks/action_cost.py``), so
beside Brax purejaxppo is also timed starting from Brax's spread: the trainers compared, not the
actions.
"""

PEERS = {
    "sb3": ("benchmarks/.peers/sb3/bin/python", "benchmarks/peers/sb3_ppo.py"),
    "brax": ("benchmarks/.peers/brax/bin/python", "benchmarks/peers/brax_ppo.py"),
}


def run_peer(name: str, env_id: str, steps: int) -> dict:
    """Runs a peer trainer in its own environment; its last output line is a JSON result."""
    import subprocess
    import sys

    python, script = PEERS[name]
    if not Path(python).exists():
        sys.exit(f"{python} is missing: make it with `bash benchmarks/peers/setup.sh {name}`")
    done = subprocess.run(
        [python, script, "--env", env_id, "--steps", str(steps)],
        capture_output=True,
        text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--backend", default="mjx", help="Brax backend, for brax/<name> envs")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--total-timesteps", type=int, default=2048 * 25)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    p.add_argument("--session", action="store_true", help="also time the CLI's chunked run")
    p.add_argument(
        "--peers",
        nargs="*",
        default=[],
        choices=sorted(PEERS),
        help="also run these trainers (each in its own environment) on the same env",
    )
    p.add_argument("--physics", default="auto", choices=common.ENGINES, help="v5 engine")
    p.add_argument("--solver-iterations", type=int, default=None, help="MJX solver cap (v5)")
    p.add_argument("--ls-iterations", type=int, default=None, help="MJX line-search cap (v5)")
    p.add_argument("--out-stem", type=Path, default=None, help="write STEM.json, .md and .png")
    a = p.parse_args()

    pjp.enable_compilation_cache()
    if a.env.startswith("brax/"):
        env_kwargs = {"backend": a.backend}
    else:
        caps = {"solver_iterations": a.solver_iterations, "ls_iterations": a.ls_iterations}
        env_kwargs = {"physics": a.physics} | {k: v for k, v in caps.items() if v is not None}
    cfg = pjp.PPOConfig(total_timesteps=a.total_timesteps, num_envs=a.num_envs, eval_every=0)
    if a.quick:
        cfg = cfg.replace(total_timesteps=512, batch_size=256, num_envs=8, n_epochs=2)
    r = measure(a.env, env_kwargs, cfg, a.seeds, with_session=a.session)
    r.update(
        device=jax.devices()[0].device_kind,
        jax=jax.__version__,
        cpus=os.cpu_count(),
        machine=platform.machine(),
    )
    print(
        f"{a.env} {env_kwargs}  num_envs={cfg.num_envs} batch={cfg.batch_size} "
        f"minibatch={cfg.minibatch_size} epochs={cfg.n_epochs} seeds={a.seeds} on {r['device']}"
    )
    for label, kind in (("raw env", "raw_env"), ("trainer", "trainer")):
        sps, compile_s = r[f"{kind}_steps_per_s"], r[f"{kind.split('_')[0]}_compile_s"]
        print(f"  {label:8s}: {sps:10.0f} steps/s   (compile {compile_s:.1f} s)")
    print(f"  ratio trainer / raw env: {r['ratio']:.2f}")
    if a.session:
        print(
            f"  session : {r['session_steps_per_s']:10.0f} steps/s   (chunks, CSV, TensorBoard, "
            f"checkpoints); session / trainer: {r['session_over_trainer']:.2f}"
        )
    if a.peers:
        r["peers"] = compare_peers(a.peers, a.env, env_kwargs, cfg, a.seeds)
    if a.out_stem:
        r["meta"] = common.meta()
        r["command"] = r["meta"]["command"]
        a.out_stem.parent.mkdir(parents=True, exist_ok=True)
        a.out_stem.with_suffix(".json").write_text(json.dumps(r, indent=2))
        a.out_stem.with_suffix(".md").write_text(markdown(r))
        bar_chart(r, a.out_stem.with_suffix(".png"))


def rows(r: dict) -> list[tuple[str, float, str]]:
    """(trainer, steps/s, note) of a result: raw env, purejaxppo, each peer beside our rerun."""
    out = [
        ("raw env (random actions)", r["raw_env_steps_per_s"], "same env, wrappers and batch"),
        ("purejaxppo", r["trainer_steps_per_s"], f"minibatch {r['minibatch_size']}"),
    ]
    for name, p in r.get("peers", {}).items():
        peer = p["peer"]
        versions = ", ".join(f"{k} {v}" for k, v in peer.get("versions", {}).items())
        out.append((peer["trainer"], peer["steps_per_s"], versions))
        mb = p["purejaxppo_minibatch_size"]
        timed = p.get("purejaxppo_timed", "from the start")
        speedup = f"**{p['speedup']:.2f}x** {name}"
        note = f"run right after {name}, minibatch {mb}, timed {timed}: {speedup}"
        out.append((f"purejaxppo (beside {name})", p["purejaxppo_steps_per_s"], note))
        if "purejaxppo_at_brax_spread_steps_per_s" in p:
            note = (
                f"same, policy std starting at Brax's 0.69 (log_std_init {BRAX_LOG_STD:.3f}): "
                f"**{p['speedup_at_brax_spread']:.2f}x** {name}"
            )
            out.append(
                (
                    f"purejaxppo (beside {name}, its spread)",
                    p["purejaxppo_at_brax_spread_steps_per_s"],
                    note,
                )
            )
    return out


def markdown(r: dict) -> str:
    """The result as a Markdown table."""
    lines = [
        f"# Throughput, {r['env']} ({r['device']}, {r['cpus']} cores)",
        "",
        f"`{r.get('command', '')}`",
        "",
        f"{r['num_envs']} envs, batch {r['batch_size']}, {r['n_epochs']} epochs, "
        f"{r['seeds']} seed(s); compile time excluded. Trainer / raw env: {r['ratio']:.2f}.",
        "",
        "| trainer | env steps/s | notes |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {sps:,.0f} | {note} |" for name, sps, note in rows(r)]
    return "\n".join(lines) + "\n"


def bar_chart(r: dict, path: Path) -> None:
    """Steps/s of each trainer (and the raw env), one bar each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = rows(r)
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(data) + 1.2))
    ax.barh([d[0] for d in data][::-1], [d[1] for d in data][::-1], color="tab:blue")
    for i, d in enumerate(data[::-1]):
        ax.annotate(f"{d[1]:,.0f}", (d[1], i), va="center", fontsize=8)
    ax.set_xlabel("env steps / s")
    ax.set_title(f"{r['env']} on {r['device']} ({r['cpus']} cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def compare_peers(
    peers: list[str], env_id: str, env_kwargs: dict, cfg: pjp.PPOConfig, seeds: int
) -> dict:
    """Each peer beside purejaxppo at the peer's batch shape, in this one run."""
    out = {}
    steps = cfg.num_updates * cfg.batch_size
    for name in peers:
        if name == "brax":  # minibatches of whole 128-step unrolls; its timing: the last third
            ours_cfg = cfg.replace(minibatch_size=128)
            peer = run_peer(name, env_id, 3 * steps)
            ours = last_third_steps_per_s(env_id, env_kwargs, ours_cfg)
            timed = "the last third of 3x the steps, as Brax"
            spread_cfg = ours_cfg.replace(log_std_init=BRAX_LOG_STD)
            same_spread = last_third_steps_per_s(env_id, env_kwargs, spread_cfg)
        else:
            ours_cfg = cfg
            peer = run_peer(name, env_id, steps)
            ours = measure(env_id, env_kwargs, ours_cfg, seeds)["trainer_steps_per_s"]
            timed = "from the start, as the peer"
            same_spread = None
        out[name] = {
            "peer": peer,
            "purejaxppo_steps_per_s": ours,
            "purejaxppo_minibatch_size": ours_cfg.minibatch_size,
            "purejaxppo_timed": timed,
            "speedup": ours / peer["steps_per_s"],
        }
        if same_spread is not None:
            out[name]["purejaxppo_at_brax_spread_steps_per_s"] = same_spread
            out[name]["speedup_at_brax_spread"] = same_spread / peer["steps_per_s"]
            print(f"  purejaxppo at Brax's initial action spread: {same_spread:8.0f} steps/s")
        print(
            f"  vs {peer['trainer']:18s}: {peer['steps_per_s']:8.0f} steps/s; purejaxppo "
            f"(minibatch {ours_cfg.minibatch_size}) {ours:8.0f} = {ours / peer['steps_per_s']:.2f}x"
        )
    return out


if __name__ == "__main__":
    main()
