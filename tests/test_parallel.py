"""Runs split over device meshes and processes: the same training as on one device.

The mesh tests run in subprocesses with forced host devices (``XLA_FLAGS``; the device count is
fixed when JAX starts). Tolerances: a mesh changes only the order of float32 sums (of a
minibatch's gradient over devices, of the observation statistics), so the parameters after a
few updates agree with one device's to a few float32 ulps on the probe task. On a MuJoCo task
the C engine integrates in float64 from float32 actions; an action differing in its last bit
gives a state differing by ~1e-7 that the dynamics then amplify, so those runs are compared
to 1e-4 (the seeds agree to ~1e-6 after six updates).
"""

import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from purejaxppo.cli.commands import main
from purejaxppo.config import PPOConfig
from purejaxppo.parallel import hosts
from purejaxppo.parallel.mesh import Layout, MeshError, choose
from purejaxppo.runs import checkpoint, run_dir, session

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).parent / "scripts" / "mesh_runs.py"


def _forced(devices: int) -> dict:
    return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")


def _mesh_runs(tmp_path: Path, env_id: str, seeds: int, *layouts: str) -> dict:
    cmd = [sys.executable, str(SCRIPT), env_id, str(tmp_path), str(seeds), *layouts]
    done = subprocess.run(cmd, capture_output=True, text=True, env=_forced(4))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.multidevice
def test_data_parallel_and_sharded_seeds_equal_one_device_and_resume_bit_exact(tmp_path):
    report = _mesh_runs(
        tmp_path, "probe/observation", 2, "1x4+resume", "2x2", "sweep:2x2", "api:1x2"
    )  # 2x2: the seeds split too (devices_hopper_v5 has 2x1 and 4x1)
    for text in ("sweep:2x2", "api:1x2"):  # a sweep's points x seeds; pjp.train_on_mesh
        row = report.pop(text)
        assert row["params"] < 1e-6 and row["actor_loss"] < 1e-6, (text, row)
    for text, row in report.items():
        layout = Layout.parse(text.removesuffix("+resume"))
        assert row["run_json_mesh"] == {"seeds": layout.seeds, "data": layout.data}
        assert row["params"] < 1e-6, (text, row)
        assert row["obs_stats"] < 1e-6, (text, row)
        assert row["actor_loss"] < 1e-6, (text, row)
    assert report["1x4+resume"]["resume_bit_exact"] is True


@pytest.mark.multidevice
def test_data_parallel_on_the_c_engine_equals_one_device(tmp_path):
    # the engine's foreign call runs in shard_map: each device steps its own envs
    report = _mesh_runs(tmp_path, "Hopper-v5", 1, "1x2")
    assert report["1x2"]["params"] < 1e-4, report
    assert report["1x2"]["obs_stats"] < 1e-4, report


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


TINY_HOPPER = ["--env", "Hopper-v5", "--total-timesteps", "1536", "--num-envs", "8",
               "--batch-size", "256", "--n-epochs", "2", "--crosscheck-episodes", "0",
               "--no-progress", "--seed", "5"]  # fmt: skip


def _final_params(path: Path):
    runner, _ = checkpoint.restore_runner(path, session.abstract_runner(path))
    return jax.tree.leaves(jax.device_get(runner.policy.params))


def _two_processes(*args: str) -> list[tuple[int, str, str]]:
    """``purejaxppo train ARGS`` as processes 0 and 1 of one run, 2 devices each."""
    port, procs = _free_port(), []
    for i in range(2):
        cmd = [sys.executable, "-m", "purejaxppo", "train", *args,
               "--coordinator", f"localhost:{port}", "--num-processes", "2",
               "--process-id", str(i)]  # fmt: skip
        pipe = subprocess.PIPE
        procs.append(subprocess.Popen(cmd, env=_forced(2), stdout=pipe, stderr=pipe, text=True))
    try:
        outs = [p.communicate(timeout=400) for p in procs]
    finally:  # one that failed leaves the other waiting for it
        for p in procs:
            p.kill()
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outs, strict=True)]


@pytest.mark.multidevice
def test_two_processes_train_one_policy_into_one_run_directory(tmp_path):
    runs = str(tmp_path / "two")
    done = _two_processes(*TINY_HOPPER, "--mesh", "1x4", "--runs-dir", runs)
    for code, _, err in done:
        assert code == 0, err[-3000:]
    assert "run dir:" in done[0][1] and "run dir:" not in done[1][1]  # process 0 reports
    (path,) = (tmp_path / "two").iterdir()  # one run directory
    spec = json.loads((path / run_dir.RUN_FILE).read_text())
    assert spec["mesh"] == {"seeds": 1, "data": 4} and spec["process_count"] == 2
    resumed = _two_processes("--resume", str(path), "--no-progress", "--crosscheck-episodes", "0")
    assert [code for code, _, _ in resumed] == [0, 0], resumed[0][2][-3000:]
    assert "resuming" in resumed[0][1] and "continuing on the mesh" not in resumed[0][1]
    main(["train", *TINY_HOPPER, "--runs-dir", str(tmp_path / "one")])
    (one,) = (tmp_path / "one").iterdir()
    for a, b in zip(_final_params(path), _final_params(one), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.multidevice
def test_an_error_of_process_0_stops_every_process(tmp_path):
    done = _two_processes("--resume", str(tmp_path / "missing"))  # only process 0 reads it
    assert [code for code, _, _ in done] == [1, 1]  # both end (none waits for ever), saying why
    assert "is not a directory" in done[0][2] and "process 0 stopped" in done[1][2]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--devices", "2"], "the mesh 1x2 needs 2 devices, but 1 cpu device(s) are available"),
        (["--mesh", "two"], "--mesh takes SEEDSxDATA, two positive integers"),
        (["--devices", "0"], "--devices takes a positive count or 'all'"),
        (["--devices", "2", "--mesh", "1x1"], "--devices 2 and --mesh 1x1 disagree"),
        (["--num-processes", "2", "--process-id", "0"], "needs all of --coordinator"),
        (["--coordinator", "host0", "--num-processes", "2", "--process-id", "0"], "not host:port"),
        (["--name", "../../x"], "--name '../../x': it has '/'; a run's name is ASCII letters"),
        (["--name", ""], "--name '': it is empty"),
    ],
)
def test_bad_devices_or_mesh_fail_before_compiling(args, message, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["train", "--runs-dir", str(tmp_path), *args])
    assert message in str(e.value)
    assert not any(tmp_path.iterdir())


def test_choose_puts_devices_on_the_seeds_first_and_checks_the_envs(monkeypatch):
    monkeypatch.setattr(jax, "device_count", lambda: 8)
    assert choose(8, None, num_seeds=4, num_envs=16) == Layout(4, 2)
    assert choose(8, None, num_seeds=1, num_envs=16) == Layout(1, 8)
    assert choose(None, "2x4", num_seeds=2, num_envs=16) == Layout(2, 4)
    with pytest.raises(MeshError, match="num_envs 12 does not split over 8 devices"):
        choose(8, None, num_seeds=1, num_envs=12)
    with pytest.raises(MeshError, match=r"3 run\(s\) do not split over 2 devices on the seeds"):
        choose(None, "2x4", num_seeds=3, num_envs=16)


def test_a_resume_on_too_few_devices_says_how_to_continue(tmp_path):
    spec = run_dir.RunSpec(env="probe/constant", env_kwargs={}, config=PPOConfig(),
                           num_seeds=1, seed=0, name="x", chunk_updates=1, checkpoint_every=1,
                           mesh=Layout(1, 4))  # fmt: skip
    with pytest.raises(MeshError, match=r"made on the mesh 1x4 .* give --devices / --mesh"):
        session._layout(spec, None, resume=True)


def test_multi_process_settings_are_checked_before_joining(monkeypatch):
    for var in hosts.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    assert hosts.initialize() is False  # nothing asked for: one process
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(hosts.ConfigError, match="--num-processes must be an integer"):
        hosts.initialize("localhost:1234", None, 0)


@pytest.mark.parametrize(
    "address", ["host0", "host0:", ":1234", "host0:http", "host0:0", "host0:65536", "::1:1234"]
)
def test_a_malformed_coordinator_address_is_named_before_joining(address, monkeypatch):
    for var in hosts.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(hosts.ConfigError, match=f"{re.escape(repr(address))} is not host:port"):
        hosts.initialize(address, 2, 0)
    monkeypatch.setenv("JAX_COORDINATOR_BIND_ADDRESS", address)
    with pytest.raises(hosts.ConfigError, match="JAX_COORDINATOR_BIND_ADDRESS"):
        hosts.initialize("localhost:1234", 2, 0)
    for fine in ("host0:1234", "10.0.0.1:1", "[::1]:65535"):
        hosts.check_address("--coordinator", fine)  # no error


def test_a_run_name_cannot_leave_the_runs_directory(tmp_path):
    spec = run_dir.RunSpec(env="probe/constant", env_kwargs={}, config=PPOConfig(),
                           num_seeds=1, seed=0, name="../../x", chunk_updates=1,
                           checkpoint_every=1)  # fmt: skip
    with pytest.raises(run_dir.RunDirError, match="it has '/'"):
        run_dir.new_run_dir(tmp_path / "runs", spec)
    assert not any(tmp_path.iterdir())
    made = run_dir.new_run_dir(tmp_path / "runs", dataclasses.replace(spec, name="lr=1e-4,b"))
    assert made.parent == tmp_path / "runs"
