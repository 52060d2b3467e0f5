"""The command line (tiny budgets), its errors, and multi-device seed sharding."""

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.cli import main

pytestmark = pytest.mark.e2e

TINY = [
    "--total-timesteps",
    "512",
    "--num-envs",
    "8",
    "--batch-size",
    "256",
    "--n-epochs",
    "2",
    "--eval-every",
    "1",
    "--eval-episodes",
    "2",
]


def test_train_prints_progress_table(capsys, tmp_path):
    main(["train", "--env", "probe/action", "--num-seeds", "2", "--runs-dir", str(tmp_path), *TINY])
    out = capsys.readouterr().out
    assert "compiled in" in out and "steps/s" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("256", "512"))]
    assert [r[0] for r in rows] == ["256", "512"]  # one row per evaluation
    assert all(float(r[2]) <= 0 for r in rows)  # eval return of probe/action is -(a-0.5)^2


def test_envs_lists_ids(capsys):
    main(["envs"])
    out = capsys.readouterr().out
    assert "probe/truncation" in out and "brax/halfcheetah" in out
    assert "MJX (physics='mjx'): yes" in out.splitlines()[1]  # the engines first


def test_version_says_the_versions_and_which_engines_run_here(capsys):
    main(["--version"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"purejaxppo {pjp.__version__} (Python ")
    assert lines[1].startswith("C MuJoCo (physics='c'): yes, built against MuJoCo ")
    assert lines[-1] == "physics='auto' runs C MuJoCo here (JAX's backend: cpu)"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--num-envs", "48"], "num_envs to a divisor of 2048 (e.g. 32 or 64)"),
        (["--minibatch-size", "100"], "minibatch_size=100"),
        (["--learning-rate", "-1"], "learning_rate=-1.0 is outside"),
        (["--env", "brax/halfchetah"], "Did you mean: brax/halfcheetah"),
        (["--env", "probe/action", "--preset", "tuned"], "no tuned preset for probe/action"),
        (["--preset", "hoper"], "Did you mean hopper"),
    ],
)
def test_bad_input_fails_early_with_a_clear_message(args, message, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["train", "--runs-dir", str(tmp_path), *args])
    assert message in str(e.value)
    assert not any(tmp_path.iterdir())  # failed before a run directory was made


def test_preset_tuned_is_the_env_own_and_flags_still_override(monkeypatch):
    from purejaxppo.cli import commands
    from purejaxppo.presets import preset_config, resolve

    seen = []
    monkeypatch.setattr(commands, "run_train", seen.append)
    main(["train", "--env", "Hopper-v5", "--preset", "tuned", "--gamma", "0.98"])
    main(["train", "--env=Hopper-v5", "--preset=seed"])  # the old name of defaults
    tuned, defaults = seen
    assert tuned.config == preset_config("hopper").replace(gamma=0.98)
    assert defaults.config == preset_config("defaults")
    budgets = (  # tyro reads either spelling
        ["--total-timesteps=20000000"],
        ["--total_timesteps", "20000000"],
        ["--total-timesteps", "1000000"],
    )
    for budget in budgets:
        main(["train", "--env", "Hopper-v5", "--preset", "tuned", *budget])
    *_, far, far_underscored, near = seen  # the nearest budget's preset, and the flag kept
    assert far.config == preset_config("hopper-10m").replace(total_timesteps=20_000_000)
    assert far_underscored.config == far.config
    assert near.config == preset_config("hopper")
    del seen[2:]
    monkeypatch.setattr(commands.jax, "default_backend", lambda: "gpu")  # a GPU's default
    main(["train"])
    main(["train", "--preset", "defaults"])
    assert seen[2].config == preset_config("gpu") and seen[2].preset == "gpu"
    assert seen[2].config.num_envs >= 1024 and seen[3].config == preset_config("defaults")
    main(["train", "--env", "dm_control/finger-spin-v0", "--preset", "tuned"])  # its family's
    assert seen[4].config == preset_config("dmc")
    assert resolve("tuned", "dm_control/finger-spin-v0") == "dmc"


def test_python_dash_m_is_the_same_command():
    out = subprocess.run(
        [sys.executable, "-m", "purejaxppo", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--learning-rate" in out and "--num-seeds" in out


def test_sweep_trains_a_grid_per_program_and_scores_every_policy(tmp_path, capsys):
    main(["sweep", "--env", "InvertedPendulum-v5", "--grid", "entropy_coeff=0.01,0",
          "n_epochs=1,2", "--seeds", "2", "--episodes", "2", "--out-dir", str(tmp_path),
          *TINY])  # fmt: skip
    (folder,) = tmp_path.iterdir()
    result = json.loads((folder / "sweep.json").read_text())
    assert [r["point"] for r in result["rows"]] == [
        {"entropy_coeff": e, "n_epochs": n} for e in (0.01, 0.0) for n in (1, 2)
    ]
    assert all(len(r["gymnasium_per_seed"]) == 2 for r in result["rows"])
    for r in result["rows"]:  # the peak is the best evaluation, the last among them
        assert r["eval_peak"]["return"] >= np.mean(r["eval_per_seed"]) - 1e-3
        assert 0 < r["eval_peak"]["steps"] <= result["meta"]["steps"]
        assert set(r["last_update"]) == {"entropy", "approx_kl", "clip_fraction", "learning_rate"}
        assert r["curve"]["health"]["learning_rate"] == pytest.approx(
            [3e-4] * len(r["curve"]["steps"])
        )
        curve = r["curve"]  # every evaluation of each seed; its last is the row's eval
        steps, total = curve["steps"], result["meta"]["steps"]
        assert steps == sorted(steps) and 0 < steps[-1] <= total
        assert [e[-1] for e in curve["eval_per_seed"]] == r["eval_per_seed"]
        best = max(np.mean(curve["eval_per_seed"], axis=0))
        assert best == pytest.approx(r["eval_peak"]["return"])
        assert {k: v[-1] for k, v in curve["health"].items()} == pytest.approx(r["last_update"])
    programs = result["meta"]["programs"]
    assert [p["static"] for p in programs] == [{"n_epochs": "1"}, {"n_epochs": "2"}]
    assert all(p["points"] == 2 for p in programs)
    assert result["meta"]["env_kwargs"] == {"physics": "c"}
    assert "Gymnasium return" in capsys.readouterr().out and (folder / "sweep.md").is_file()
    with pytest.raises(SystemExit, match="not divisible by num_envs=7"):  # before compiling
        main(["sweep", "--grid", "num_envs=8,7", "--out-dir", str(tmp_path / "bad")])
    with pytest.raises(SystemExit, match="seed must be at least 0, got -1"):
        main(["sweep", "--grid", "gamma=0.99", "--seed", "-1", "--out-dir", str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()


def test_a_stopped_sweep_continues_to_the_results_of_an_unstopped_one(tmp_path, capsys):
    from purejaxppo.config import PPOConfig
    from purejaxppo.envs import make
    from purejaxppo.runs import run_dir, sweep, sweep_state

    grid = ["entropy_coeff=0.01,0", "n_epochs=1,2"]  # two programs of two points
    args = ["sweep", "--env", "InvertedPendulum-v5", "--grid", *grid, "--seeds", "2",
            "--episodes", "2", *TINY]  # fmt: skip
    main([*args, "--out-dir", str(tmp_path / "whole")])
    (whole,) = (tmp_path / "whole").iterdir()
    # the CLI's config (the defaults preset with TINY's flags), to stop the same sweep part way
    base = PPOConfig.from_dict(sweep_state.read_spec(whole)["config"])
    env, kwargs = make("InvertedPendulum-v5"), {"physics": "c"}
    stopped = tmp_path / "stopped"
    parsed = sweep.parse_grid(grid, base)
    for _ in range(2):  # stops in program 0 after update 1; then finishes it, stops program 1
        with pytest.raises(KeyboardInterrupt):
            spec = sweep_state.SweepSpec("InvertedPendulum-v5", kwargs, base, parsed, 2, 2)
            sweep.run_sweep(env, spec, stopped, stop_after_chunks=1)
    assert (stopped / "programs" / "1" / "checkpoints" / "1").is_dir()
    assert not (stopped / "programs" / "0").exists()  # finished: its rows are in sweep.json
    assert len(json.loads((stopped / "sweep.json").read_text())["rows"]) == 2
    refused = pytest.raises(SystemExit, match="being trained by another process")
    with run_dir.claimed(stopped), refused:  # as if another process were training it
        main(["sweep", "--resume", str(stopped)])
    assert (stopped / "programs" / "1" / "checkpoints" / "1").is_dir()  # left as it was
    capsys.readouterr()
    main(["sweep", "--resume", str(stopped)])
    out = capsys.readouterr().out
    assert "finished before, its rows kept" in out
    assert "continued from the checkpoint at update 1 of 2" in out
    a, b = (json.loads((d / "sweep.json").read_text()) for d in (whole, stopped))
    keys = ("point", "gymnasium_per_seed", "eval_per_seed", "last_train_return_per_seed",
            "eval_peak", "last_update", "curve")  # fmt: skip
    assert [{k: r[k] for k in keys} for r in b["rows"]] == [
        {k: r[k] for k in keys} for r in a["rows"]
    ]
    assert [p["continued_from"] for p in b["meta"]["programs"]] == [1, 1]
    assert not (stopped / "programs").exists()
    main(["sweep", "--resume", str(stopped)])  # finished: the table again, nothing trained
    assert capsys.readouterr().out.count("finished before, its rows kept") == 2
    assert json.loads((stopped / "sweep.json").read_text())["rows"] == b["rows"]
    with pytest.raises(SystemExit, match="not a sweep folder"):
        main(["sweep", "--resume", str(tmp_path)])


def test_a_program_continued_from_an_older_checkpoint_trains_the_same_runs(tmp_path):
    import jax
    import numpy as np

    from purejaxppo.config import PPOConfig
    from purejaxppo.envs import make
    from purejaxppo.runs import sweep

    # 20 updates of 1 per call, a checkpoint every 2: stopped after 3, it continues from 2
    base = PPOConfig(total_timesteps=20 * 256, num_envs=8, batch_size=256, n_epochs=1,
                     eval_every=5, eval_episodes=2)  # fmt: skip
    env, points = make("InvertedPendulum-v5"), [{"entropy_coeff": 0.01}, {"entropy_coeff": 0.0}]
    whole = sweep.train_grid(env, base, points, 2, verbose=False)
    state = tmp_path / "program"
    with pytest.raises(KeyboardInterrupt):
        sweep.train_grid(env, base, points, 2, verbose=False, state=state, stop_after_chunks=3)
    assert sorted(p.name for p in (state / "checkpoints").iterdir()) == ["2"]
    out = sweep.train_grid(env, base, points, 2, verbose=False, state=state)
    assert out["start"] == 2 and out["steps"] == 4 * 18 * 256
    for a, b in zip(jax.tree.leaves((whole["metrics"], whole["policy"])),
                    jax.tree.leaves((out["metrics"], out["policy"])), strict=True):  # fmt: skip
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert whole["metrics"].env_steps.shape == (4, 20)
    # seed 1 alone (``first_seed``) trains as seed 1 of the two: more seeds can come later. A
    # program one seed wide sums floats in another order than one two seeds wide, and the last
    # bits grow over 20 updates (7e-4 relative on some CPUs); seed 0 is another run altogether.
    later = sweep.train_grid(env, base, points, 1, verbose=False, first_seed=1)
    for a, b in zip(jax.tree.leaves((whole["metrics"], whole["policy"])),
                    jax.tree.leaves((later["metrics"], later["policy"])), strict=True):  # fmt: skip
        np.testing.assert_allclose(np.asarray(a)[[1, 3]], np.asarray(b), rtol=1e-2, atol=1e-3)
    returns = lambda out: np.asarray(out["metrics"].episode_return)  # noqa: E731
    assert np.nanmax(np.abs(returns(whole)[[0, 2]] - returns(later))) > 0.1


def test_env_kwargs_are_checked_recorded_and_honoured(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="Did you mean reset_noise_scale"):
        main(["train", "--env", "InvertedPendulum-v5", "--env-kwargs", "reset_noise_scal=0.02",
              "--runs-dir", str(tmp_path)])  # fmt: skip
    with pytest.raises(SystemExit, match="give it as --physics"):
        main(["train", "--env-kwargs", "physics=c", "--runs-dir", str(tmp_path)])
    assert not any(tmp_path.iterdir())  # failed before a run directory was made
    made = []
    real_make = gym.make
    monkeypatch.setattr(gym, "make", lambda *a, **kw: made.append(kw) or real_make(*a, **kw))
    main(["train", "--env", "InvertedPendulum-v5", "--env-kwargs", "reset_noise_scale=0.02",
          "--runs-dir", str(tmp_path), *TINY, "--crosscheck-episodes", "2"])  # fmt: skip
    (run,) = tmp_path.iterdir()
    kwargs = json.loads((run / "run.json").read_text())["env_kwargs"]
    assert kwargs == {"physics": "c", "reset_noise_scale": 0.02}
    assert made and all(kw.get("reset_noise_scale") == 0.02 for kw in made)  # the cross-check's
