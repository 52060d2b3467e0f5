"""The Gymnasium cross-check, eval and render on a tiny InvertedPendulum-v5 run; the verdict."""

import json
import math
import warnings

import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.cli import main
from purejaxppo.runs.crosscheck import Estimate, verdict

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("pendulum_run"),
]  # one worker trains the shared run

TINY = [
    "--env", "InvertedPendulum-v5", "--total-timesteps", "1024", "--num-envs", "8",
    "--batch-size", "256", "--n-epochs", "2", "--eval-every", "4", "--eval-episodes", "16",
    "--crosscheck-episodes", "16", "--no-progress", "--num-seeds", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def pendulum_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    main(["train", "--runs-dir", str(root), *TINY])
    (path,) = list(root.iterdir())
    return path


def test_train_ends_with_a_crosscheck_that_agrees(pendulum_run):
    report = json.loads((pendulum_run / "crosscheck.json").read_text())
    assert report["env"] == "InvertedPendulum-v5" and len(report["seeds"]) == 2
    assert report["engine"] == "C MuJoCo"  # auto, on a CPU
    assert json.loads((pendulum_run / "run.json").read_text())["env_kwargs"]["physics"] == "c"
    for row in report["seeds"]:
        assert row["ours"]["n"] == 16 and row["gymnasium"]["n"] == 16
        assert row["agree"], row["why"]
    assert report["verdict"] == "agree"


def test_load_policy_drives_a_gymnasium_loop(pendulum_run):
    import gymnasium as gym

    policy = pjp.load_policy(pendulum_run, seed=0)
    env = gym.make("InvertedPendulum-v5")
    obs, _ = env.reset(seed=0)
    action = policy(obs)
    assert action.shape == env.action_space.shape and env.action_space.contains(action)
    env.step(action)


def test_eval_both_backends_and_either_engine(pendulum_run, capsys):
    main(["eval", str(pendulum_run), "--episodes", "12"])
    out = capsys.readouterr().out
    assert out.count("purejaxppo (C MuJoCo)") == 2 and "(95% CI, 12 episodes)" in out
    main(["eval", str(pendulum_run), "--physics", "mjx", "--episodes", "4"])
    assert capsys.readouterr().out.count("purejaxppo (MJX)") == 2
    (pendulum_run / "crosscheck.json").unlink()
    main(["eval", str(pendulum_run), "--backend", "gymnasium", "--episodes", "12"])
    out = capsys.readouterr().out
    assert "Gymnasium" in out and "verdict:" in out
    report = json.loads((pendulum_run / "crosscheck.json").read_text())
    assert report["seeds"][1]["gymnasium"]["n"] == 12


def test_render_writes_a_video(pendulum_run, tmp_path, capsys):
    out = tmp_path / "pendulum.mp4"
    main(["render", str(pendulum_run), "--out", str(out), "--width", "96", "--height", "64"])
    assert out.stat().st_size > 1000
    import imageio.v2 as imageio

    with warnings.catch_warnings():  # reading starts ffmpeg too (fork + exec, no JAX in it)
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        frames = imageio.mimread(out, memtest=False)
    assert frames[0].shape == (64, 96, 3) and len(frames) >= 2
    assert np.ptp(np.asarray(frames[0])) > 0  # not a blank image
    assert "frames" in capsys.readouterr().out


def test_render_refuses_an_env_that_is_not_a_mujoco_task(tmp_path):
    main(["train", "--env", "probe/constant", "--runs-dir", str(tmp_path), "--total-timesteps",
          "512", "--num-envs", "8", "--batch-size", "256", "--crosscheck-episodes", "0",
          "--no-progress"])  # fmt: skip
    (run,) = list(tmp_path.iterdir())
    with pytest.raises(SystemExit, match="is not a MuJoCo task: render draws MuJoCo tasks"):
        main(["render", str(run), "--out", str(tmp_path / "x.mp4")])


def test_verdict_rule():
    same = Estimate(1000.0, 50.0, 10)
    assert verdict(same, Estimate(1010.0, 50.0, 10))[0]  # inside the interval
    assert verdict(Estimate(1000.0, 1.0, 100), Estimate(1030.0, 1.0, 100))[0]  # 3%: close enough
    ok, why = verdict(Estimate(1000.0, 10.0, 10), Estimate(800.0, 10.0, 10))
    assert not ok and "DISAGREE" in why
    # A difference of 2.3 standard errors: outside the 95% interval, inside the 99% one (the
    # level cross_check uses for 5 seeds: Bonferroni).
    a, b = Estimate(10.0, 10.0, 50), Estimate(10.0 + 2.3 * math.sqrt(4.0), 10.0, 50)
    assert not verdict(a, b)[0]
    ok, why = verdict(a, b, level=0.99)
    assert ok and "99% interval" in why
    assert math.isclose(Estimate(0.0, 1.0, 10).half_width, 2.2622 / math.sqrt(10), rel_tol=1e-4)


def test_the_shared_run_is_trained_once(request):
    """Under ``-n 2 --dist loadgroup`` this module's tests go to one worker (pytest-xdist#1386)."""
    if getattr(request.config.option, "loadgroup", False):
        assert request.node.nodeid.endswith("@pendulum_run"), request.node.nodeid


def test_final_estimates_come_from_the_last_evaluation_or_none():
    from purejaxppo.runs.crosscheck import final_estimates

    ret = np.array([[np.nan, 10.0], [np.nan, 20.0]])
    std = np.array([[np.nan, 1.0], [np.nan, 2.0]])
    assert final_estimates(ret, std, 5) == [Estimate(10.0, 1.0, 5), Estimate(20.0, 2.0, 5)]
    assert final_estimates(ret[:, :1], std[:, :1], 5) is None  # the last update did not evaluate
    assert final_estimates(ret, std, 1) is None  # one episode: no interval
