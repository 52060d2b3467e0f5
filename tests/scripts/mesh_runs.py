"""Run by test_parallel.py in a subprocess with forced host devices: runs on meshes vs one device.

``python mesh_runs.py ENV OUT_DIR SEEDS LAYOUT [LAYOUT ...]`` trains ENV in run directories
under OUT_DIR, once on one device and once per LAYOUT (``SxD``; ``SxD+resume``: stopped after
two chunks and resumed; ``sweep:SxD``: a sweep's grid of two points x SEEDS; ``api:SxD``:
``pjp.train_on_mesh`` against ``jax.vmap(trainer)``), and prints one
JSON line: per layout, the largest difference of the final parameters (and observation
statistics and losses) from the one-device run, and for resumed runs whether the final state
is bit for bit the uninterrupted run's on the same mesh.
"""

import json
import sys
from pathlib import Path

import jax
import numpy as np

import purejaxppo as pjp
from purejaxppo.parallel.mesh import Layout
from purejaxppo.runs import checkpoint, run_dir, session, sweep

env_id, out, seeds, layouts = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
pjp.enable_compilation_cache()
cfg = pjp.PPOConfig(
    total_timesteps=6 * 256,
    num_envs=8,
    batch_size=256,
    minibatch_size=64,
    n_epochs=2,
    eval_every=3,
    eval_episodes=4,
)


def train(name: str, layout: Layout | None, stop_after: int | None = None) -> Path:
    """A run of ``cfg`` (two updates per chunk, a checkpoint after each)."""
    spec = run_dir.RunSpec(
        env=env_id, env_kwargs={}, config=cfg, num_seeds=seeds, seed=3, name=name,
        chunk_updates=2, checkpoint_every=2, mesh=layout,
    )  # fmt: skip
    path = run_dir.new_run_dir(out, spec)
    outcome = session.run(path, stop_after_chunks=stop_after)
    if stop_after is not None:
        assert outcome.status == "interrupted", outcome
        outcome = session.run(path, resume=True)
    assert outcome.status == "finished", outcome
    return path


def final(path: Path):
    runner, step = checkpoint.restore_runner(path, session.abstract_runner(path))
    assert step == cfg.num_updates, step
    return jax.device_get(runner)


def max_diff(a, b) -> float:
    pairs = zip(a, b, strict=True)
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in pairs)


ref_path = train("one", None)
ref = final(ref_path)
ref_metrics = run_dir.read_metrics(ref_path)
report = {}
for text in [t for t in layouts if t.startswith("api:")]:  # pjp.train_on_mesh
    trainer = pjp.make_train(cfg, pjp.envs.make(env_id))
    keys = jax.random.split(jax.random.PRNGKey(7), seeds)
    one = jax.jit(jax.vmap(trainer))(keys)
    got = pjp.train_on_mesh(trainer, keys, Layout.parse(text.removeprefix("api:")))
    report[text] = {
        "params": max_diff(*(jax.tree.leaves(r.policy.params) for r in (one, got))),
        "actor_loss": max_diff([one.metrics.actor_loss], [got.metrics.actor_loss]),
    }
    layouts.remove(text)
for text in [t for t in layouts if t.startswith("sweep:")]:
    env, points = pjp.envs.make(env_id), [{"entropy_coeff": 0.01}, {"entropy_coeff": 0.0}]
    one = sweep.train_grid(env, cfg, points, seeds)
    got = sweep.train_grid(env, cfg, points, seeds, Layout.parse(text.removeprefix("sweep:")))
    report[text] = {
        "params": max_diff(*(jax.tree.leaves(r["policy"].params) for r in (one, got))),
        "actor_loss": max_diff([one["metrics"].actor_loss], [got["metrics"].actor_loss]),
    }
    layouts.remove(text)
for text in layouts:
    resume = text.endswith("+resume")
    layout = Layout.parse(text.removesuffix("+resume"))
    path = train(text.replace("+", "-"), layout, stop_after=2 if resume else None)
    got = final(path)
    metrics = run_dir.read_metrics(path)
    row = {
        "devices": layout.devices,
        "run_json_mesh": json.loads((path / run_dir.RUN_FILE).read_text())["mesh"],
        "params": max_diff(*(jax.tree.leaves(r.policy.params) for r in (ref, got))),
        "obs_stats": max_diff(*(jax.tree.leaves(r.policy.obs_stats) for r in (ref, got))),
        "actor_loss": max_diff([ref_metrics["actor_loss"]], [metrics["actor_loss"]]),
    }  # fmt: skip
    if resume:
        whole = final(train(text.replace("+resume", "-whole"), layout))
        same = jax.tree.map(np.array_equal, jax.tree.leaves(whole), jax.tree.leaves(got))
        row["resume_bit_exact"] = all(same)
    report[text] = row
print(json.dumps(report))
