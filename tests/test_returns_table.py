"""benchmarks/returns.py keeps the rows of its table that were scored from the same runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers import load_benchmark

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def returns():
    return load_benchmark("returns")


def _row(returns, env: str, preset: str, budget: int, seeds: int, seed: int, episodes: int):
    """A scored row as returns.py writes it: only the fields that keeping it reads."""
    cfg = returns.preset_config(preset).replace(total_timesteps=budget).validate()
    spec = returns._spec(env, cfg, seeds, seed, preset, 1, "auto")
    return {"env": env, "budget": budget, "spec": returns._identity(spec), "episodes": episodes}


@pytest.fixture
def c_physics(returns, monkeypatch):
    """Specs name the C engine, whatever this machine's ``auto`` is."""
    monkeypatch.setattr(returns, "resolve_physics", lambda physics: "c")


def test_a_scored_row_of_the_table_is_kept_without_training(
    returns, tmp_path, monkeypatch, c_physics
):
    row = _row(returns, "Hopper-v5", "hopper-10m", 10_000_000, 5, 100, 20)
    other = _row(returns, "Hopper-v5", "hopper-10m", 10_000_000, 5, 101, 20)

    def no_training(*args, **kwargs):
        raise AssertionError("a row of the table was trained again")

    monkeypatch.setattr(returns.session, "run", no_training)
    kept = list(
        returns.run_env(
            "Hopper-v5", [10_000_000], 5, "tuned", 20, tmp_path, True, "auto", 100, [other, row]
        )
    )
    assert kept == [row] and kept[0] is row
    assert not any(tmp_path.iterdir())  # no run directory was made


def test_a_row_of_other_runs_or_episodes_is_not_kept(returns, c_physics):
    row = _row(returns, "Hopper-v5", "hopper", 1_000_000, 5, 100, 20)
    cfg = returns.preset_config("hopper").replace(total_timesteps=1_000_000).validate()

    def spec(cfg, seeds=5, seed=100):
        return returns._spec("Hopper-v5", cfg, seeds, seed, "hopper", 8, "auto")

    assert returns._scored([row], spec(cfg), 20) is row  # another chunking: the same run
    assert returns._scored([row], spec(cfg), 10) is None  # scored over other episodes
    assert returns._scored([row], spec(cfg, seed=101), 20) is None
    assert returns._scored([row], spec(cfg, seeds=4), 20) is None
    other = cfg.replace(learning_rate=cfg.learning_rate * 2)
    assert returns._scored([row], spec(other), 20) is None  # the preset changed since


def test_the_committed_tables_name_their_runs():
    """Every row of the committed returns tables records the run it was scored from; a row of
    ``--seeds-apart``, the runs of its seeds (its parts, each with its spec)."""
    for name in ("returns_1m_v5.json", "returns_10m_v5.json"):
        doc = json.loads((ROOT / "benchmarks/results/cpu" / name).read_text())
        parts = {(p["env"], p["budget"], p["seed"]): p for p in doc.get("parts", [])}
        assert doc["rows"], name
        for r in doc["rows"]:
            runs = [parts.get((r["env"], r["budget"], s)) for s in r.get("apart", [])]
            runs = runs or [r]
            assert all(x and x.get("spec") and x.get("episodes") for x in runs), (name, r["env"])


def test_a_row_written_before_a_config_field_existed_is_kept(returns, c_physics):
    """A field added to PPOConfig since (absent from the row) takes its default: the same run."""
    row = _row(returns, "Hopper-v5", "hopper", 1_000_000, 5, 100, 20)
    cfg = returns.preset_config("hopper").replace(total_timesteps=1_000_000).validate()
    spec = returns._spec("Hopper-v5", cfg, 5, 100, "hopper", 8, "auto")
    older = {**row, "spec": {**row["spec"], "config": dict(row["spec"]["config"])}}
    del older["spec"]["config"]["target_kl"]  # written before target_kl existed
    assert returns._scored([older], spec, 20) is older
    moved = {**row, "spec": {**row["spec"], "config": dict(row["spec"]["config"])}}
    moved["spec"]["config"]["target_kl"] = 0.05  # a value that is not the default: another run
    assert returns._scored([moved], spec, 20) is None
    gone = {**row, "spec": {**row["spec"], "config": {**row["spec"]["config"], "dropped": 1}}}
    assert returns._scored([gone], spec, 20) is None  # a field PPOConfig no longer has


def test_the_table_shows_each_rows_eval_peak_and_last_update(returns):
    def row(curve: list[float], health: dict | None) -> dict:
        r = {
            "env": "Walker2d-v5",
            "budget": 3_000_000,
            "preset": "walker2d",
            "seeds": 2,
            "gymnasium_per_seed": [400.0, 500.0],
            "eval_per_seed": [450.0, 460.0],
            "verdict": "agree",
            "steps_per_s": None,
            "first_train_return": 2.0,
            "first_train_steps": 2048,
            "last_train_return": 60.0,
            "curve_steps": [1_000_000, 2_000_000, 3_000_000],
            "curve_eval": curve,
        }
        return r if health is None else {**r, "last_update": health}

    health = {"entropy": 38.4, "approx_kl": 0.361, "clip_fraction": 0.671}
    table = returns.markdown(
        [row([3000.0, 4551.0, 455.0], health), row([float("nan")] * 3, None)], "cpu", "cmd"
    )
    collapsed, unscored = table.strip().splitlines()[-2:]
    assert "| 4551 at 2M |" in collapsed and "| 38.4, 0.36, 0.67 |" in collapsed
    assert unscored.count("| - |") == 3  # steps/s, eval peak and last update unknown


def test_curves_prints_each_evaluation_with_the_updates_health_there(
    returns, tmp_path, capsys, monkeypatch
):
    row = {
        "env": "Ant-v5",
        "budget": 2_000_000,
        "preset": "ant-10m",
        "seeds": 2,
        "seed": 100,
        "curve_steps": [1_000_000, 2_000_000],
        "curve_eval": [3505.0, 4602.0],
        "curve_eval_min": [2695.0, 3468.0],
        "curve_eval_max": [4197.0, 5211.0],
        "curve_health": {
            "entropy": [-6.02, -7.24],
            "approx_kl": [0.034, 0.77],
            "clip_fraction": [0.34, 0.73],
            "learning_rate": [1.5e-5, 2.3e-5],
        },
    }
    other = {**row, "env": "Hopper-v5", "curve_health": {}}
    stem = tmp_path / "table"
    stem.with_suffix(".json").write_text(json.dumps({"meta": {}, "rows": [row, other]}))
    argv = ["returns.py", "--curves", "--envs", "Ant-v5", "--out-stem", str(stem)]
    monkeypatch.setattr(sys, "argv", argv)
    returns.main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("Ant-v5 2,000,000 ant-10m") and len(lines) == 5  # Hopper not asked
    assert lines[4] == "from 1.800M on (1 evaluation): mean 4602 to 4602, lowest seed 3468"
    assert lines[3].split() == [
        "2.000M",
        "4602",
        "[3468,",
        "5211]",
        "-7.24,",
        "0.77,",
        "0.73,",
        "lr",
        "2.3e-05",
    ]
    monkeypatch.setattr(sys, "argv", [*argv[:3], "Swimmer-v5", *argv[4:]])
    with pytest.raises(SystemExit):  # no row of that env: an error, not an empty print
        returns.main()
    assert "no row" in capsys.readouterr().err


def _part(returns, seed: int, score: float, curve: list[float], verdict: str = "agree") -> dict:
    """A scored one-seed run of Hopper-v5 at 10M steps, as ``--seeds-apart`` keeps it."""
    return {
        **_row(returns, "Hopper-v5", "hopper-10m", 10_000_000, 1, seed, 20),
        "preset": "hopper-10m",
        "seeds": 1,
        "seed": seed,
        "gymnasium_mean": score,
        "gymnasium_per_seed": [score],
        "eval_per_seed": [curve[-1]],
        "verdict": verdict,
        "first_train_return": 10.0 + seed,
        "first_train_steps": 2048,
        "last_train_return": 100.0 + seed,
        "steps_per_s": 1000.0 * (seed - 99),
        "wall_s": 60.0,
        "curve_steps": [5_000_000, 10_000_000],
        "curve_eval": curve,
        "curve_eval_min": curve,
        "curve_eval_max": curve,
        "last_update": {"entropy": float(seed), "approx_kl": 0.01, "clip_fraction": 0.1},
        "curve_health": {"entropy": [1.0, float(seed)], "approx_kl": [0.0, 0.02]},
    }


def test_seeds_apart_make_one_row_of_their_runs(returns, c_physics):
    parts = [
        _part(returns, 100, 3000.0, [2000.0, 3100.0]),
        _part(returns, 101, 1000.0, [1500.0, 900.0], verdict="disagree"),
    ]
    row = returns.merge_parts(parts)
    assert row["seeds"] == 2 and row["apart"] == [100, 101]
    assert row["gymnasium_per_seed"] == [3000.0, 1000.0] and row["gymnasium_mean"] == 2000.0
    assert row["curve_eval"] == [1750.0, 2000.0]
    assert row["curve_eval_min"] == [1500.0, 900.0] and row["curve_eval_max"] == [2000.0, 3100.0]
    assert row["last_update"]["entropy"] == 100.5
    assert row["curve_health"]["entropy"] == [1.0, 100.5]
    assert row["steps_per_s"] == 1500.0 and row["verdict"] == "agree, disagree"
    assert "| 2 (one run each: 100-101) |" in returns.markdown([row], "cpu", "cmd")
    other_budget = {**parts[1], "budget": 1_000_000}
    with pytest.raises(ValueError, match="different runs"):
        returns.merge_parts([parts[0], other_budget])


def test_seeds_apart_keep_their_scored_runs(returns, tmp_path, monkeypatch, capsys, c_physics):
    parts = [_part(returns, s, 2000.0 + s, [1000.0, 2000.0]) for s in (100, 101)]
    stem = tmp_path / "table"
    stem.with_suffix(".json").write_text(json.dumps({"meta": {}, "rows": [], "parts": parts}))

    def no_training(*args, **kwargs):
        raise AssertionError("a scored run was trained again")

    monkeypatch.setattr(returns.session, "run", no_training)
    argv = ["returns.py", "--envs", "Hopper-v5", "--budgets", "10000000", "--seeds", "2"]
    argv += ["--seed", "100", "--preset", "tuned", "--out-stem", str(stem), "--seeds-apart"]
    monkeypatch.setattr(sys, "argv", argv)
    returns.main()
    written = json.loads(stem.with_suffix(".json").read_text())
    assert [r["gymnasium_per_seed"] for r in written["rows"]] == [[2100.0, 2101.0]]
    assert written["parts"] == parts
    assert "one run each: 100-101" in stem.with_suffix(".md").read_text()
    monkeypatch.setattr(sys, "argv", [*argv, "Ant-v5"])
    with pytest.raises(SystemExit):  # an env the command does not train: an error
        returns.main()
    assert "not in --envs" in capsys.readouterr().err


def test_a_rewritten_results_file_keeps_its_notes(tmp_path):
    common = load_benchmark("common")
    path = tmp_path / "table.md"
    common.write_markdown(path, "`cmd`\n\n| a |\n|---|\n| 1 |\n")
    assert common.NOTES not in path.read_text()
    path.write_text(path.read_text() + f"\n{common.NOTES}\n\nWhy the table reads so.\n")
    common.write_markdown(path, "`cmd`\n\n| a |\n|---|\n| 2 |\n")
    text = path.read_text()
    assert "| 2 |" in text and "| 1 |" not in text
    assert text.endswith(f"| 2 |\n\n{common.NOTES}\n\nWhy the table reads so.\n")
