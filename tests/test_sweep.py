"""The sweep's grid: what can share one program, and the errors before compiling."""

import pytest

from purejaxppo.config import ConfigError, PPOConfig
from purejaxppo.runs import sweep

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
