"""Every benchmark's ``--quick`` mode, end to end at tiny sizes, into a scratch folder.

Each runs as a user runs it (``python benchmarks/<name>.py``, in its own process) and its
results file is checked. ``uv run pytest -m bench`` runs this layer; CI runs it with the other
slow layers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).parents[1]


def _bench(name: str, *args: str) -> str:
    """Runs ``benchmarks/<name>.py args``; its standard output (it must exit 0)."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _json(stem: Path) -> dict:
    return json.loads(stem.with_suffix(".json").read_text())


def test_throughput(tmp_path):
    _bench("throughput", "--quick", "--out-stem", str(tmp_path / "throughput"))
    assert _json(tmp_path / "throughput")["meta"]["commit"]


def test_scaling_merges_a_second_command(tmp_path):
    stem = str(tmp_path / "scaling")
    _bench("scaling", "--quick", "--out-stem", stem)
    _bench("scaling", "--quick", "--merge", "--num-envs", "8", "--seeds", "--out-stem", stem)
    d = _json(tmp_path / "scaling")
    assert [r["num_envs"] for r in d["num_envs"]] == [2, 4, 8]
    assert len(d["meta"]["commands"]) == 2


def test_returns_whole_and_seed_by_seed(tmp_path):
    _bench("returns", "--quick", "--out-stem", str(tmp_path / "returns"))
    assert _json(tmp_path / "returns")["rows"]
    _bench("returns", "--quick", "--seeds-apart", "--out-stem", str(tmp_path / "apart"))
    d = _json(tmp_path / "apart")
    assert [r["apart"] for r in d["rows"]] == [[0, 1]] * 2 and len(d["parts"]) == 4


def test_compile_time(tmp_path):
    _bench("compile_time", "--quick", "--out-stem", str(tmp_path / "compile"))
    assert _json(tmp_path / "compile")["meta"]["commit"]


def test_sweep_curves_and_command(tmp_path):
    stem = str(tmp_path / "sweep")
    state = str(tmp_path / "state")
    _bench("sweep", "--quick", "--set", "gamma=0.98", "--out-stem", stem, "--state-dir", state)
    d = _json(tmp_path / "sweep")
    assert len(d["rows"]) == 4 and all(len(r["gymnasium_per_seed"]) == 2 for r in d["rows"])
    assert d["meta"]["config"]["gamma"] == 0.98
    assert "peak" in _bench("sweep", "--curves", "--out-stem", stem)
    assert "--set gamma=0.98" in _bench("sweep", "--command", "--out-stem", stem)


def test_devices_prints_every_mesh(tmp_path):
    out = _bench("devices", "--quick", "--force-host-devices", "4")  # prints, writes nothing
    assert all(f"| {mesh} |" in out for mesh in ("1x1", "1x2", "2x2")), out


def test_gpu_suite_on_the_cpu(tmp_path):
    _bench("gpu_suite", "--quick", "--out-stem", str(tmp_path / "gpu_suite"))
    assert list(tmp_path.glob("gpu_suite*.json"))


def test_engines(tmp_path):
    _bench("engines", "--quick", "--out-stem", str(tmp_path / "engines"))
    d = _json(tmp_path / "engines_raw")
    assert d["rows"][0]["ratio"] > 0 and d["meta"]["commit"]
