"""benchmarks/returns.py keeps the rows of its table that were scored from the same runs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def returns():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("returns_bench", ROOT / "benchmarks/returns.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(name: str) -> list[dict]:
    return json.loads((ROOT / "benchmarks/results/cpu" / name).read_text())["rows"]


def test_a_scored_row_of_the_table_is_kept_without_training(returns, tmp_path, monkeypatch):
    table = _table("returns_10m_v5.json")
    row = next(r for r in table if r["budget"] == 10_000_000)

    def no_training(*args, **kwargs):
        raise AssertionError("a row of the table was trained again")

    monkeypatch.setattr(returns.session, "run", no_training)
    kept = list(
        returns.run_env(
            row["env"], [row["budget"]], row["seeds"], "tuned", 20, tmp_path, True, "auto",
            row["seed"], table,
        )
    )  # fmt: skip
    assert kept == [row]
    assert not any(tmp_path.iterdir())  # no run directory was made


def test_a_row_of_other_runs_or_episodes_is_not_kept(returns):
    table = _table("returns_1m_v5.json")
    row = next(r for r in table if r["env"] == "Hopper-v5")
    cfg = returns.preset_config(row["preset"]).replace(total_timesteps=row["budget"]).validate()

    def spec(cfg, seeds=row["seeds"], seed=row["seed"]):
        return returns._spec(row["env"], cfg, seeds, seed, row["preset"], 1, "auto")

    assert returns._scored(table, spec(cfg), 20) == row
    assert returns._scored(table, spec(cfg), 10) is None  # scored over other episodes
    assert returns._scored(table, spec(cfg, seed=row["seed"] + 1), 20) is None
    assert returns._scored(table, spec(cfg, seeds=row["seeds"] - 1), 20) is None
    other = cfg.replace(learning_rate=cfg.learning_rate * 2)
    assert returns._scored(table, spec(other), 20) is None  # the preset changed since
