"""Runs on disk: run dir contents, checkpoints, resume, Ctrl-C, NaN, damaged dirs, progress."""

import csv
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.cli import main
from purejaxppo.cli.plots import FIGURES
from purejaxppo.cli.progress import ProgressBar
from purejaxppo.envs import probes, registry
from purejaxppo.runs import checkpoint, run_dir, session

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("probe_run"),
]  # one worker trains the shared run

TINY = [
    "--total-timesteps", "2048", "--num-envs", "8", "--batch-size", "256", "--n-epochs", "2",
    "--eval-every", "4", "--eval-episodes", "2", "--crosscheck-episodes", "0", "--no-progress",
]  # fmt: skip
UPDATES, SEEDS = 8, 2


def _train(tmp_path, *extra):
    main(["train", "--runs-dir", str(tmp_path), *TINY, *extra])
    (path,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return path


def _spec(tmp_path, env="probe/observation", chunk=2, every=2, env_kwargs=None, **cfg):
    base = dict(
        total_timesteps=2048, num_envs=8, batch_size=256, n_epochs=2, eval_every=4,
        eval_episodes=2,
    )  # fmt: skip
    base.update(cfg)
    spec = run_dir.RunSpec(
        env=env, env_kwargs=env_kwargs or {}, config=pjp.PPOConfig(**base), num_seeds=SEEDS, seed=3,
        name="t", chunk_updates=chunk, checkpoint_every=every,
    )  # fmt: skip
    return run_dir.new_run_dir(tmp_path, spec)


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory):
    """One tiny two-seed run through the CLI, shared by the tests that only read it."""
    return _train(tmp_path_factory.mktemp("runs"), "--env", "probe/action", "--num-seeds", "2")


def test_run_dir_has_config_versions_metrics_checkpoint_plots(probe_run):
    assert probe_run.name.startswith("probe-action__ppo__0__")
    meta = json.loads((probe_run / "run.json").read_text())
    assert meta["config"]["batch_size"] == 256 and meta["num_seeds"] == SEEDS
    assert {"jax", "mujoco", "mujoco-mjx"} <= set(meta["versions"]) and meta["device"]
    with (probe_run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == UPDATES * SEEDS
    assert {(int(r["update"]), int(r["seed"])) for r in rows} == {
        (u, s) for u in range(UPDATES) for s in range(SEEDS)
    }
    assert sorted(p.stem for p in (probe_run / "plots").glob("*.png")) == sorted(FIGURES)
    assert all(p.stat().st_size > 5000 for p in (probe_run / "plots").glob("*.png"))
    assert len(list((probe_run / "tb" / "seed_1").glob("events.out.tfevents.*"))) >= 1
    assert checkpoint.latest_step(probe_run) == UPDATES
    assert not (probe_run / "crosscheck.json").exists()  # --crosscheck-episodes 0


def test_load_policy_is_a_numpy_policy(probe_run):
    policy = pjp.load_policy(probe_run, seed=1)
    a = policy(np.zeros(1))
    assert isinstance(a, np.ndarray) and a.shape == (1,)
    # probe/action's deterministic return is -(a - 0.5)^2 with obs 0: the final evaluation in
    # training must have seen exactly this action
    final_eval = run_dir.read_metrics(probe_run)["eval_return"][1, -1]
    np.testing.assert_allclose(-((a[0] - 0.5) ** 2), final_eval, rtol=1e-5)
    assert policy(np.zeros((5, 1))).shape == (5, 1)
    with pytest.raises(run_dir.RunDirError, match=r"seeds 0\.\.1"):
        pjp.load_policy(probe_run, seed=2)


def test_plot_command_rewrites_the_figures(probe_run, capsys):
    for p in (probe_run / "plots").glob("*.png"):
        p.unlink()
    main(["plot", str(probe_run)])
    assert len(list((probe_run / "plots").glob("*.png"))) == len(FIGURES)
    assert "learning_curve" in capsys.readouterr().out


def test_chunks_end_on_the_run_end_and_a_resume_that_would_pass_it_is_refused(tmp_path):
    assert session.chunk_updates(488) == 8  # a new run: ~1/50 of it, dividing it
    assert session.chunk_updates(4882, 488) == 2  # continued from 488: divides both ends
    assert session.chunk_updates(100, 40) == 2  # gcd 20, at most 100 // 50
    path = _spec(tmp_path)  # 8 updates, 2 per call, a checkpoint every 2
    assert session.run(path, stop_after_chunks=1).next_update == 2
    spec = json.loads((path / run_dir.RUN_FILE).read_text())
    spec.update(chunk_updates=4, checkpoint_every=4)  # 2 + 4 + 4 would pass update 8
    (path / run_dir.RUN_FILE).write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"resumed at update 2 of 8, which 4 updates per call"):
        session.run(path, resume=True)


def test_a_run_folder_is_trained_by_one_process_at_a_time(tmp_path):
    path = _spec(tmp_path)
    (path / run_dir.LOCK_FILE).write_text("12345\n")  # left by a killed process: holds nothing
    with run_dir.claimed(path):
        assert (path / run_dir.LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with pytest.raises(run_dir.RunDirError, match=rf"another process \(pid {os.getpid()}\)"):
            session.run(path)  # refused before compiling or writing anything
    assert checkpoint.latest_step(path) is None and not (path / run_dir.METRICS_FILE).exists()
    with pytest.raises(run_dir.RunDirError, match="not a purejaxppo run directory"):
        session.run(tmp_path)  # a folder without run.json: no lock file left in it
    assert not (tmp_path / run_dir.LOCK_FILE).exists()


@pytest.mark.parametrize(
    "env,env_kwargs,cfg",
    [
        ("probe/observation", {}, {}),
        ("probe/action", {}, {"adaptive_lr": True}),  # the learning rate is in the checkpoint
        ("Hopper-v5", {"physics": "c"}, {}),
    ],
)
def test_resume_gives_the_uninterrupted_result(tmp_path, env, env_kwargs, cfg):
    whole = _spec(tmp_path / "a", env=env, every=4, env_kwargs=env_kwargs, **cfg)
    cut = _spec(tmp_path / "b", env=env, every=4, env_kwargs=env_kwargs, **cfg)
    assert session.run(whole).status == "finished"
    stopped = session.run(cut, stop_after_chunks=3)  # like Ctrl-C
    assert stopped.status == "interrupted" and stopped.next_update == 4  # checkpoints every 4
    assert checkpoint.latest_step(cut) == 4
    restored, _ = checkpoint.restore_runner(cut, session.abstract_runner(cut))
    # uncommitted like a fresh init's, so the resumed program is the cached one
    assert not any(x.committed for x in jax.tree.leaves(restored))
    assert session.run(cut, resume=True).status == "finished"
    a, b = run_dir.read_metrics(whole), run_dir.read_metrics(cut)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # rows 4..5 were recomputed once
    pa, pb = pjp.load_policy(whole, 1).policy, pjp.load_policy(cut, 1).policy
    jax.tree.map(np.testing.assert_array_equal, pa, pb)


def test_a_ctrl_c_after_a_checkpoint_is_saved_does_not_redo_the_chunk(tmp_path, monkeypatch):
    path = _spec(tmp_path)  # 8 updates, 2 per call, a checkpoint every 2
    save, calls = checkpoint.save, []

    def save_then_interrupted(*args, **kwargs):
        before = checkpoint.latest_step(args[0])
        save(*args, **kwargs)
        if checkpoint.latest_step(args[0]) != before:  # calls: the steps written
            calls.append(args[2])
            if len(calls) == 2:  # the chunk's host work is interrupted after its checkpoint
                raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save", save_then_interrupted)
    stopped = session.run(path)
    assert stopped.status == "interrupted" and calls == [2, 4] and stopped.next_update == 4
    m = run_dir.read_metrics(path)
    rows = (path / run_dir.METRICS_FILE).read_text().splitlines()[1:]
    keys = [tuple(r.split(",")[:2]) for r in rows]  # (update, seed)
    assert len(keys) == len(set(keys))  # no row written twice
    assert np.isfinite(m["env_steps"]).all() and m["env_steps"].shape == (SEEDS, 4)
    monkeypatch.undo()
    assert session.run(path, resume=True).status == "finished"
    assert run_dir.read_metrics(path)["env_steps"].shape == (SEEDS, 8)


def test_a_damaged_newest_checkpoint_is_passed_over_for_the_one_before(tmp_path, capsys):
    path = _spec(tmp_path)  # 8 updates, 2 per call, a checkpoint every 2
    assert session.run(path, stop_after_chunks=3).next_update == 6  # checkpoints 4 and 6 kept
    newest = path / checkpoint.DIR / "6"
    for f in (newest / "runner").rglob("*"):
        if f.is_file() and f.stat().st_size > 64:
            f.write_bytes(f.read_bytes()[:16])  # every data file of the runner cut short
    (path / checkpoint.DIR / "7.orbax-checkpoint-tmp-0").mkdir()  # a write killed half way
    assert session.run(path, resume=True).status == "finished"
    err = capsys.readouterr().err
    assert "checkpoint 6 could not be read; using checkpoint 4" in err and "damaged-6" in err
    assert (path / checkpoint.DIR / "damaged-6").is_dir()  # kept, out of the way
    assert checkpoint.latest_step(path) == 8
    assert run_dir.read_metrics(path)["env_steps"].shape == (SEEDS, 8)


def test_resume_cli_and_damaged_or_missing_run_dirs(tmp_path, capsys):
    with pytest.raises(SystemExit, match="not a directory"):
        main(["train", "--resume", str(tmp_path / "nope")])
    with pytest.raises(SystemExit, match=r"no run\.json"):
        main(["eval", str(tmp_path)])
    path = _spec(tmp_path)
    with pytest.raises(SystemExit, match="no checkpoint yet"):
        main(["train", "--resume", str(path), "--no-progress"])
    text = (path / "run.json").read_text()
    (path / "run.json").write_text(text[: len(text) // 2])
    with pytest.raises(SystemExit, match="damaged"):
        main(["train", "--resume", str(path)])
    assert (path / "run.json").read_text() == text[: len(text) // 2]  # nothing overwritten


class _NanLater(probes.TruncationProbe):
    """Reward 1, but NaN from each env's 97th step: the fourth update (32 steps each) is NaN."""

    def __init__(self):
        super().__init__(episode_length=100_000)

    def step(self, state, action):
        state = super().step(state, action)
        count = state.data + 1
        return state.replace(data=count, reward=jnp.where(count > 96, jnp.nan, state.reward))


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    if "test/nan-later" not in registry.registered_ids(include_brax=False):
        registry.register("test/nan-later", _NanLater)
    path = _spec(tmp_path, env="test/nan-later", chunk=1, every=1)
    outcome = session.run(path)
    out = capsys.readouterr().out
    assert outcome.status == "nonfinite" and outcome.next_update == 3
    assert "non-finite loss or parameter in update 3" in out and "update 3 is kept" in out
    policy = pjp.load_policy(path).policy
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(policy))


def test_live_progress_callback_runs_once_per_update_and_seed():
    calls = []
    bar = ProgressBar(total_steps=1024 * 3, num_seeds=3)

    def progress(*args):
        calls.append(args)
        bar.on_update(*args)

    cfg = pjp.PPOConfig(total_timesteps=1024, num_envs=8, batch_size=256, n_epochs=1, eval_every=2)
    train = pjp.make_train(cfg, probes.ObservationReward(), progress=progress)
    jax.block_until_ready(jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 3)))
    assert sorted(int(c[0]) for c in calls) == sorted([256, 512, 768, 1024] * 3)
    assert sum(np.isfinite(float(c[2])) for c in calls) == 2 * 3  # eval at updates 2 and 4
    assert bar.done == 1024 * 3


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(SystemExit, match=r"unknown preset .defualts.\. Did you mean defaults"):
        main(["train", "--preset", "defualts"])


def test_preset_sets_defaults_and_flags_still_override(tmp_path):
    path = _train(tmp_path, "--env", "probe/constant", "--preset", "cleanrl", "--no-anneal-lr")
    cfg = json.loads((path / "run.json").read_text())["config"]
    assert cfg["shared_network"] is False and cfg["clip_value"] is True  # from the preset
    assert cfg["entropy_coeff"] == 0.0 and cfg["log_std_init"] == 0.0
    assert cfg["total_timesteps"] == 2048 and cfg["anneal_lr"] is False  # flags win


def test_checkpoint_carries_the_config(probe_run):
    meta = json.loads((probe_run / "checkpoints" / str(UPDATES) / "meta" / "metadata").read_text())
    assert meta["next_update"] == UPDATES
    assert meta["run"]["config"]["batch_size"] == 256 and meta["run"]["env"] == "probe/action"


def test_a_full_disk_stops_the_run_with_a_message_and_keeps_the_last_checkpoint(
    tmp_path, capsys, monkeypatch
):
    real = checkpoint._manager
    saves = []

    class FullAfterOne:  # the second checkpoint finds the disk full, as tensorstore reports it
        def __init__(self, run_dir):
            self.mgr = real(run_dir)

        def __enter__(self):
            self.mgr.__enter__()
            return self

        def __exit__(self, *exc):
            return self.mgr.__exit__(*exc)

        def save(self, step, **kw):
            saves.append(step)
            if len(saves) > 1:
                raise ValueError("RESOURCE_EXHAUSTED: Error writing: No space left on device")
            return self.mgr.save(step, **kw)

        def __getattr__(self, name):
            return getattr(self.mgr, name)

    monkeypatch.setattr(checkpoint, "_manager", FullAfterOne)
    path = _spec(tmp_path, every=2)
    outcome = session.run(path)
    out = capsys.readouterr().out
    assert outcome.status == "diskfull" and saves == [2, 4]
    assert "the disk is full" in out and "the checkpoint at update 2 is kept" in out
    assert f"purejaxppo train --resume {path}" in out
    monkeypatch.setattr(checkpoint, "_manager", real)
    assert checkpoint.latest_step(path) == 2  # intact: the run can be resumed from it
    assert session.run(path, resume=True).status == "finished"


class _FakeWandbRun:
    def __init__(self, **kwargs):
        self.init, self.logged, self.finished = kwargs, [], False

    def log(self, row, step):
        self.logged.append((step, row))

    def finish(self):
        self.finished = True


def test_wandb_logs_every_update_of_every_seed_and_resumes_the_same_run(tmp_path, monkeypatch):
    import importlib.machinery
    import types

    runs = []
    fake = types.ModuleType("wandb")
    fake.__spec__ = importlib.machinery.ModuleSpec("wandb", None)
    fake.init = lambda **kw: runs.append(_FakeWandbRun(**kw)) or runs[-1]
    monkeypatch.setitem(__import__("sys").modules, "wandb", fake)
    path = _train(tmp_path, "--env", "probe/action", "--num-seeds", "2", "--wandb")
    (run,) = runs
    run_id = (path / "wandb_id.txt").read_text().strip()
    assert run.init["id"] == run_id and run.init["resume"] == "allow" and run.finished
    assert run.init["config"]["env"] == "probe/action"
    assert [s for s, _ in run.logged] == [256 * (u + 1) for u in range(UPDATES)]
    assert {"seed_0/total_loss", "seed_1/total_loss"} <= set(run.logged[0][1])
    main(["train", "--resume", str(path), "--wandb", "--no-progress"])
    assert runs[-1].init["id"] == run_id  # the same W&B run continues
