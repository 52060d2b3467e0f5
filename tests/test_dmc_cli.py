"""A suite task through the product: listed, trained by the CLI, cross-checked in dm_control."""

import json

import pytest

from purejaxppo.cli import main
from purejaxppo.envs import registered_ids
from purejaxppo.envs.dmc import DMC_TASKS

pytest.importorskip("dm_control", reason="dm-control is installed on CPython 3.11 and 3.12")

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("dmc_cli")]


def test_the_suite_is_listed(capsys):
    assert len(DMC_TASKS) == 26
    assert set(DMC_TASKS) <= set(registered_ids(include_brax=False))
    main(["envs"])
    out = capsys.readouterr().out
    assert all(env_id in out for env_id in DMC_TASKS)
    assert "DeepMind Control Suite: Walk a quadruped forward at 0.5 m/s or more, upright" in out


def test_trains_and_cross_checks_in_dm_control(tmp_path, capsys):
    main([
        "train", "--env", "dm_control/cartpole-balance-v0", "--runs-dir", str(tmp_path),
        "--total-timesteps", "2048", "--num-envs", "8", "--batch-size", "256", "--n-epochs", "2",
        "--eval-every", "4", "--eval-episodes", "2", "--crosscheck-episodes", "2",
        "--no-progress",
    ])  # fmt: skip
    out = capsys.readouterr().out
    twin = "purejaxppo-dmc/cartpole-balance-v0"
    assert f"cross-check: dm_control's {twin} vs purejaxppo (C MuJoCo)" in out
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    report = json.loads((run / "crosscheck.json").read_text())
    assert report["gymnasium"] == twin
    seed = report["seeds"][0]
    # balance episodes score 1000 at most; a near-random policy keeps the pole up a while
    assert 0 < seed["gymnasium"]["mean"] <= 1000 and 0 < seed["ours"]["mean"] <= 1000
    assert report["verdict"] in ("agree", "disagree")
