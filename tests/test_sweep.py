"""The sweep's grid: what can share one program, and the errors before compiling."""

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.presets import preset_config
from purejaxppo.runs import sweep, sweep_state, sweep_table
from purejaxppo.runs.run_dir import RunDirError

pytestmark = pytest.mark.unit


def test_grid_is_the_product_of_float_fields():
    grid = sweep.parse_grid(["entropy_coeff=0.01,0", "log_std_init=-1,-0.5,0"], PPOConfig())
    assert grid == {"entropy_coeff": [0.01, 0.0], "log_std_init": [-1.0, -0.5, 0.0]}
    points = sweep.points_of(grid)
    assert len(points) == 6
    assert {"entropy_coeff": 0.0, "log_std_init": -0.5} in points
    assert sweep.points_of({}) == [{}]


def test_static_fields_take_their_types_and_split_the_programs():
    base = PPOConfig()
    grid = sweep.parse_grid(
        ["hidden_sizes=64x64,256x256", "activation=tanh,relu", "anneal_lr=true,false",
         "critic_hidden_sizes=none,32x32x32", "num_envs=16", "gamma=0.99,0.995"],
        base,
    )  # fmt: skip
    assert grid["hidden_sizes"] == [(64, 64), (256, 256)]
    assert grid["critic_hidden_sizes"] == [None, (32, 32, 32)]
    assert grid["anneal_lr"] == [True, False] and grid["num_envs"] == [16]
    points = sweep.points_of(grid)
    programs = sweep.programs_of(points, base)
    assert len(points) == 32 and len(programs) == 16  # gamma shares a program; the rest do not
    assert sorted(i for _, members in programs for i in members) == list(range(32))
    for fixed, members in programs:
        assert "gamma" not in fixed and len(members) == 2
        assert all({k: points[i][k] for k in fixed} == fixed for i in members)
    assert sweep.programs_of(sweep.points_of({"gamma": [0.9, 0.99]}), base) == [({}, [0, 1])]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("num_envs=8,lots", "values must be int"),
        ("hidden_sizes=64x,32", "widths like 64x64"),
        ("anneal_lr=yes", "not true or false"),
        ("entropy_coef=0,0.01", "Did you mean entropy_coeff"),
        ("gamma", "write name=v1,v2"),
        ("gamma=0.99,high", "values must be float"),
    ],
)
def test_bad_grid_items_are_named(item, message):
    with pytest.raises(ConfigError, match=message):
        sweep.parse_grid([item], PPOConfig())


def test_settings_pin_the_base_and_take_one_value_each():
    base = PPOConfig()
    pinned = sweep.parse_settings(["entropy_coeff=0.003", "num_envs=64", "anneal_lr=true"], base)
    assert (pinned.entropy_coeff, pinned.num_envs, pinned.anneal_lr) == (0.003, 64, True)
    assert pinned.replace(entropy_coeff=0.01, num_envs=16, anneal_lr=False) == base
    assert sweep.parse_settings([], base) == base
    with pytest.raises(ConfigError, match="--set gamma: one value"):
        sweep.parse_settings(["gamma=0.9,0.99"], base)
    with pytest.raises(ConfigError, match=r"--set gama: not a PPOConfig field\. Did you mean"):
        sweep.parse_settings(["gama=0.9"], base)
    with pytest.raises(ConfigError, match="--set num_envs=many: values must be int"):
        sweep.parse_settings(["num_envs=many"], base)


def test_setting_text_reads_back_as_the_same_value_for_every_field():
    for name in ("defaults", "hopper-10m", "humanoid-10m", "swimmer"):
        config = preset_config(name).replace(critic_hidden_sizes=(256, 128), learning_rate=1 / 3)
        items = [
            f"{f.name}={sweep.setting_text(getattr(config, f.name))}"
            for f in dataclasses.fields(config)
        ]
        assert sweep.parse_settings(items, PPOConfig()) == config


def test_the_table_ranks_points_and_keeps_small_returns_apart():
    meta = {"env": "Reacher-v5", "env_kwargs": {}, "steps": 1000, "seeds": 2, "runs": 4,
            "programs": [{}], "steps_per_s": 10.0, "compile_s": 1.0, "episodes": 10}  # fmt: skip
    rows = [
        {"point": {"gamma": 0.99}, "gymnasium_per_seed": [-4.6, -4.4],
         "eval_per_seed": [-4.0, -4.2], "last_train_return_per_seed": [-5.0, -5.2]},
        {"point": {"gamma": 0.95}, "gymnasium_per_seed": [-3.9, -3.7],
         "eval_per_seed": [-3.0, -3.4], "last_train_return_per_seed": [-4.0, float("nan")],
         "eval_peak": {"return": -2.5, "steps": 500.0},
         "last_update": {"entropy": 1.234, "approx_kl": 0.0123, "clip_fraction": 0.1}},
    ]  # fmt: skip
    lines = sweep_table.markdown(meta, rows).splitlines()
    # the best first; a row written without the peak and the last update shows "-" for them
    assert (
        lines[-2] == "| 0.95 | -3.8 [-3.9, -3.7] | -3.2 | -2.5 at 0.0005M | -4.0 "
        "| 1.23, 0.012, 0.10 | - |"
    )
    assert lines[-1] == "| 0.99 | -4.5 [-4.6, -4.4] | -4.1 | - | -5.1 | - | - |"
    assert (
        sweep_table.format_return(5279.5) == "5280" and sweep_table.format_return(-33.84) == "-33.8"
    )
    rows[1]["last_update"]["learning_rate"] = 1.354e-5  # recorded with the rate: shown too
    assert "| 1.23, 0.012, 0.10, lr 1.4e-05 |" in sweep_table.markdown(meta, rows)
    assert "2 seeds per point; 4 runs" in lines[0]  # seeds 0 and 1: not named
    later = sweep_table.markdown({**meta, "first_seed": 3}, rows)
    assert "2 seeds per point (3-4); 4 runs" in later


def test_peak_and_last_update_of_a_run():
    assert sweep_table.peak([100, 200, 300], [1.0, float("nan"), 3.0]) == {
        "return": 3.0, "steps": 300.0,
    }  # fmt: skip
    assert sweep_table.peak([100], [float("nan")]) is None
    metrics = {k: np.array([[9.0, 1.0], [9.0, 3.0]]) for k in sweep_table.HEALTH}
    assert sweep_table.last_update(metrics) == dict.fromkeys(sweep_table.HEALTH, 2.0)


def test_curves_print_each_evaluation_with_its_spread_and_update():
    health = {
        "entropy": [1.0, 0.5, -2.0],
        "approx_kl": [0.01, 0.02, 0.03],
        "clip_fraction": [0.1, 0.2, 0.3],
        "learning_rate": [1e-4, 1e-4, 1e-4],
    }
    rows = [
        {
            "point": {"entropy_coeff": 0.003},
            "gymnasium_per_seed": [3322.4, 2157.0],
            "eval_peak": {"return": 3500.0, "steps": 2e6},
            "curve": {
                "steps": [1e6, 2e6, 3e6],
                "health": health,
                "eval_per_seed": [[100.0, 3000.0, 2000.0], [300.0, 4000.0, float("nan")]],
            },
        },
        {"point": {"entropy_coeff": 0.0}, "gymnasium_per_seed": [-4.56]},  # no course kept
    ]
    lines = sweep_table.curves(rows).splitlines()
    assert lines[0] == "entropy_coeff 0.003 (Gymnasium per seed 3322, 2157; peak 3500 at 2M):"
    assert lines[2].split()[:4] == ["1.000M", "200", "[100,", "300]"]
    assert lines[3].split()[:4] == ["2.000M", "3500", "[3000,", "4000]"]
    assert lines[4].split()[:4] == ["3.000M", "2000", "[2000,", "2000]"]  # the NaN seed left out
    assert lines[4].endswith("-2, 0.03, 0.30, lr 0.0001")
    assert lines[5] == "from 2.700M on (1 evaluation): mean 2000 to 2000, lowest seed 2000"
    assert lines[6] == "entropy_coeff 0 (Gymnasium per seed -4.6): no course recorded"
    sparse = sweep_table.curves(rows[:1], every=2).splitlines()
    assert [x.split()[0] for x in sparse[2:-1]] == ["1.000M", "3.000M"]  # the last always
    with pytest.raises(ValueError, match="every"):
        sweep_table.curves(rows, every=0)


def test_health_curve_is_the_mean_over_seeds_at_the_evaluated_updates():
    metrics = {k: np.array([[1.0, 5.0, 9.0], [3.0, 7.0, 11.0]]) for k in sweep_table.HEALTH}
    curve = sweep_table.health_curve(metrics, np.array([True, False, True]))
    assert curve == {k: [2.0, 10.0] for k in sweep_table.HEALTH}


def test_the_grid_is_written_so_that_it_reads_back_the_same():
    base = PPOConfig()
    items = ["learning_rate=0.0003,1e-4,0.333333333333333314", "hidden_sizes=64x64,256x256",
             "critic_hidden_sizes=none,32x32", "activation=tanh,relu", "anneal_lr=true,false",
             "episode_length=none,500", "num_envs=16"]  # fmt: skip
    grid = sweep.parse_grid(items, base)
    assert sweep.parse_grid(sweep_state.grid_text(grid), base) == grid


def test_a_sweep_folder_is_continued_only_by_its_own_sweep(tmp_path):
    grid = {"gamma": [0.99, 0.95]}
    spec = sweep_state.SweepSpec("Hopper-v5", {"physics": "c"}, PPOConfig(), grid, 3, 10).to_json()
    folder = tmp_path / "Hopper-v5__1"
    assert sweep_state.find(tmp_path, spec) is None
    assert sweep_state.begin(folder, spec) == {}  # new: nothing finished
    assert sweep_state.find(tmp_path, spec) == folder
    assert sweep_state.begin(folder, spec) == {}  # the same sweep: continued
    other = sweep_state.SweepSpec("Hopper-v5", {"physics": "c"}, PPOConfig(), grid, 5, 10).to_json()
    assert sweep_state.find(tmp_path, other) is None
    later = sweep_state.SweepSpec(
        "Hopper-v5", {"physics": "c"}, PPOConfig(), grid, 3, 10, 3
    ).to_json()
    assert sweep_state.find(tmp_path, later) is None  # seeds 3-5: another sweep
    assert (
        sweep_state.SweepSpec("Hopper-v5", {"physics": "c"}, PPOConfig(), grid, 3, 10, 0).to_json()
        == spec
    )
    with pytest.raises(ConfigError, match="holds another sweep"):
        sweep_state.begin(folder, other)
    assert sweep_state.read_spec(folder) == spec  # untouched
    with pytest.raises(RunDirError, match="not a sweep folder"):
        sweep_state.read_spec(tmp_path)
    rows = [{"point": {"gamma": g}} for g in (0.99, 0.95)]
    sweep_state.write_text(folder / "sweep.json", json.dumps({"meta": {}, "rows": rows[:1]}))
    assert sweep_state.find(tmp_path, spec) == folder  # one point of two: continued
    sweep_state.write_text(folder / "sweep.json", json.dumps({"meta": {}, "rows": rows}))
    assert sweep_state.find(tmp_path, spec) is None  # finished: the same sweep trains again
    (folder / "sweep.json").write_text('{"rows": [')  # damaged: named, not a JSON traceback
    with pytest.raises(RunDirError, match="could not be read"):
        sweep_state.begin(folder, spec)


def test_a_sweep_written_before_a_config_field_existed_is_continued(tmp_path):
    spec = sweep_state.SweepSpec(
        "Hopper-v5", {}, PPOConfig(), {"gamma": [0.99, 0.95]}, 3, 10
    ).to_json()
    older = json.loads(json.dumps(spec))
    del older["config"]["adaptive_lr"]  # written before the field: its default is what it did
    folder = tmp_path / "Hopper-v5__1"
    folder.mkdir()
    (folder / sweep_state.SPEC).write_text(json.dumps(older))
    assert sweep_state.find(tmp_path, spec) == folder
    assert sweep_state.begin(folder, spec) == {}
    changed = sweep_state.SweepSpec(
        "Hopper-v5", {}, PPOConfig(adaptive_lr=True), {"gamma": [0.99, 0.95]}, 3, 10
    ).to_json()
    assert sweep_state.find(tmp_path, changed) is None
    older["config"]["a_field_since_removed"] = 1.0  # not this version's sweep
    (folder / sweep_state.SPEC).write_text(json.dumps(older))
    assert sweep_state.find(tmp_path, spec) is None


def test_the_rerun_command_pins_the_base_values_the_preset_no_longer_holds():
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "benchmarks"))
    spec = importlib.util.spec_from_file_location("sweep_bench", root / "benchmarks/sweep.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    today = preset_config("hopper-10m")
    then = today.replace(num_envs=16, batch_size=2048, gamma=0.98, hidden_sizes=(32, 32))
    config = {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(then).items()
    }
    del config["adaptive_lr"]  # a field added after the sweep: left to the preset
    meta = {
        "command": "uv run python benchmarks/sweep.py --env Hopper-v5 --preset hopper-10m "
        "--set gamma=0.98 --grid num_envs=16,32 --out-stem 'a b'",
        "config": config,
        "grid": {"num_envs": ["16", "32"]},
    }
    assert bench.rerun_command(meta) == (
        "uv run python benchmarks/sweep.py --env Hopper-v5 --preset hopper-10m --grid "
        "num_envs=16,32 --out-stem 'a b' --set batch_size=2048 hidden_sizes=32x32 gamma=0.98"
    )
    meta["config"] = {k: v for k, v in config.items() if k not in ("batch_size", "hidden_sizes")}
    meta["config"]["gamma"] = today.gamma
    assert "--set" not in bench.rerun_command(meta)  # the base is today's preset
    with pytest.raises(ValueError, match="recorded their base"):
        bench.rerun_command({"command": meta["command"]})


def test_the_last_tenth_gives_the_late_range_and_the_lowest_seed():
    steps = [0, 2e6, 4e6, 6e6, 8e6, 8.9e6, 9e6, 9.5e6, 10e6]
    mean = [0, 100, 200, 300, 400, 5000, 3200, np.nan, 3500]  # 8.9M: before the last tenth
    lowest = [0, 0, 0, 0, 0, 0, 1800, np.nan, 2500]
    assert sweep_table.last_tenth(steps, mean, lowest) == (
        "from 9.000M on (3 evaluations): mean 3200 to 3500, lowest seed 1800"
    )
    assert sweep_table.last_tenth(steps, mean, None).endswith("mean 3200 to 3500")
    assert sweep_table.last_tenth([1e6], [np.nan], None) == "from 0.900M on: diverged"
