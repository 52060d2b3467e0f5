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


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("num_envs=8,16", "static field"),
        ("entropy_coef=0,0.01", "Did you mean entropy_coeff"),
        ("gamma", "write name=v1,v2"),
        ("gamma=0.99,high", "values must be numbers"),
    ],
)
def test_bad_grid_items_are_named(item, message):
    with pytest.raises(ConfigError, match=message):
        sweep.parse_grid([item], PPOConfig())
