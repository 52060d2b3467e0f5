"""The command line (tiny budgets), its errors, and multi-device seed sharding."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from purejaxppo.cli import main

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


@pytest.mark.parametrize(
    "args,message",
    [
        (["--num-envs", "48"], "num_envs to a divisor of 2048 (e.g. 32 or 64)"),
        (["--minibatch-size", "100"], "minibatch_size=100"),
        (["--learning-rate", "-1"], "learning_rate=-1.0 is outside"),
        (["--env", "brax/halfchetah"], "Did you mean: brax/halfcheetah"),
    ],
)
def test_bad_input_fails_early_with_a_clear_message(args, message, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["train", "--runs-dir", str(tmp_path), *args])
    assert message in str(e.value)
    assert not any(tmp_path.iterdir())  # failed before a run directory was made


def test_python_dash_m_is_the_same_command():
    out = subprocess.run(
        [sys.executable, "-m", "purejaxppo", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--learning-rate" in out and "--num-seeds" in out


def test_seeds_shard_across_devices():
    script = Path(__file__).parent / "scripts" / "sharded_seeds.py"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ok (4, 2)" in done.stdout and "'seeds'" in done.stdout
