"""PPOConfig: defaults, clear errors before compiling, static vs traced fields."""

import dataclasses

import jax
import pytest

from purejaxppo import ConfigError, PPOConfig, stack_configs

pytestmark = pytest.mark.unit


def test_seed_defaults():
    c = PPOConfig()
    assert (c.learning_rate, c.gamma, c.gae_lambda, c.clip_epsilon) == (3e-4, 0.99, 0.95, 0.2)
    assert (c.value_coeff, c.entropy_coeff, c.max_grad_norm) == (0.5, 0.01, 0.5)
    assert (c.n_epochs, c.minibatch_size, c.batch_size) == (10, 64, 2048)
    assert c.hidden_sizes == (64, 64) and c.log_std_init == -1.0 and c.shared_network
    assert c.num_steps * c.num_envs == 2048 and c.num_minibatches == 32


def test_only_float_hyperparameters_are_leaves():
    leaves = jax.tree_util.tree_leaves(PPOConfig())
    assert len(leaves) == len(PPOConfig().hyperparameters())
    assert all(isinstance(x, float) for x in leaves)


def test_batch_not_divisible_by_envs_names_the_numbers():
    with pytest.raises(ConfigError) as e:
        PPOConfig(num_envs=48).validate()
    msg = str(e.value)
    assert "num_envs=48" in msg and "batch_size=2048" in msg and "32 or 64" in msg


def test_batch_not_divisible_by_minibatch():
    with pytest.raises(ConfigError, match=r"minibatch_size=100.*e\.g\. 64 or 128"):
        PPOConfig(minibatch_size=100).validate()


@pytest.mark.parametrize(
    "field,value",
    [
        ("learning_rate", -1e-3),
        ("gamma", 1.5),
        ("clip_epsilon", 0.0),
        ("max_grad_norm", float("nan")),
    ],
)
def test_out_of_range_hyperparameter(field, value):
    with pytest.raises(ConfigError, match=field):
        PPOConfig(**{field: value}).validate()


def test_too_few_timesteps_and_bad_activation():
    with pytest.raises(ConfigError, match="total_timesteps=100"):
        PPOConfig(total_timesteps=100).validate()
    with pytest.raises(ConfigError, match="activation"):
        PPOConfig(activation="sigmoidish").validate()


def test_stack_configs():
    stacked = stack_configs([PPOConfig(learning_rate=1e-3), PPOConfig(learning_rate=3e-4)])
    assert stacked.learning_rate.shape == (2,)
    with pytest.raises(ConfigError, match="num_envs"):
        stack_configs([PPOConfig(), PPOConfig(num_envs=8)])
    with pytest.raises(ConfigError, match="gamma"):
        stack_configs([PPOConfig(), PPOConfig(gamma=2.0)])


def test_every_preset_is_a_valid_config_that_differs_only_where_it_says():
    from pathlib import Path

    from purejaxppo.presets import PRESETS, preset_config

    default = PPOConfig()
    for name, preset in PRESETS.items():
        assert "\n" not in preset.about and len(preset.about) <= 100, name  # one line
        cfg = preset_config(name).validate()
        for field in dataclasses.fields(PPOConfig):
            want = preset.values.get(field.name, getattr(default, field.name))
            assert getattr(cfg, field.name) == want, (name, field.name)
        if preset.env is not None or preset.family:  # a tuned preset: its budget, its sweeps
            assert "total_timesteps" in preset.values and preset.sources, name
            texts = []
            for source in preset.sources:
                path = Path(__file__).parents[1] / source
                assert path.is_file(), (name, source)
                texts.append(path.read_text())
            assert all(t.startswith("`uv run python benchmarks/sweep.py --env ") for t in texts)
            swept = [t.partition("--env ")[2].split()[0] for t in texts]  # each file's command
            if preset.env is not None:  # tuned on its task
                assert preset.env in swept, (name, swept)
            if preset.family:  # tuned on tasks of its family
                assert all(env.startswith(preset.family) for env in swept), (name, swept)
            assert f"## Notes\n\nThe `{name}` preset. " in texts[0], name  # how it was chosen
    assert preset_config("hopper").log_std_init == -0.5  # the value the sweep chose


def test_tuned_picks_the_env_own_preset_and_names_what_exists():
    from purejaxppo.presets import TUNED, preset_config, resolve

    assert resolve("tuned", "Hopper-v5") == TUNED["Hopper-v5"][0] == "hopper"
    assert preset_config("tuned", "Hopper-v5") == preset_config("hopper")
    assert resolve("defaults", "Hopper-v5") == "defaults"
    assert resolve("seed", "Hopper-v5") == "defaults"  # the old name still loads
    with pytest.raises(ConfigError, match="no tuned preset for brax/ant; tuned presets exist for"):
        resolve("tuned", "brax/ant")
    with pytest.raises(ConfigError, match="Did you mean tuned"):
        resolve("tunde", "Hopper-v5")


def test_tuned_takes_the_preset_tuned_for_the_nearest_budget(monkeypatch):
    from purejaxppo import presets

    assert presets.TUNED["Hopper-v5"] == ("hopper", "hopper-10m")  # by budget
    budgets = (None, 500_000, 3_000_000, 3_200_000, 50_000_000)  # the ratios' midpoint: 3.16M
    picks = [presets.tuned("Hopper-v5", b) for b in budgets]
    assert picks == ["hopper", "hopper", "hopper", "hopper-10m", "hopper-10m"]
    assert presets.resolve("tuned", "Hopper-v5", 10_000_000) == "hopper-10m"
    hopper = presets.preset_config("tuned", "Hopper-v5", 10_000_000)
    assert hopper.entropy_coeff == 0.003 and hopper.batch_size == 16384 and hopper.num_steps == 128
    walker = presets.preset_config("tuned", "Walker2d-v5", 10_000_000)
    assert walker.adaptive_lr and not presets.preset_config("tuned", "Walker2d-v5").adaptive_lr
    assert presets.TUNED["Ant-v5"] == ("ant", "ant-10m")
    ant = presets.preset_config("tuned", "Ant-v5", 10_000_000)
    assert ant.adaptive_lr and ant.target_kl == 0.02 and ant.log_std_init == -2.0
    humanoid = presets.preset_config("tuned", "Humanoid-v5", 10_000_000)
    assert humanoid.adaptive_lr and humanoid.entropy_coeff == 0.0 and not humanoid.shared_network
    assert presets.tuned("InvertedPendulum-v5", 10_000_000) == "invertedpendulum"  # its only one
    short = presets.Preset({"total_timesteps": 100_000}, "100k", "Hopper-v5")
    monkeypatch.setitem(presets.PRESETS, "hopper-short", short)  # listed last, budget smallest
    assert presets._tuned()["Hopper-v5"] == ("hopper-short", "hopper", "hopper-10m")


def test_a_family_preset_stands_for_the_tasks_its_prefix_starts(monkeypatch):
    from purejaxppo import presets

    def preset(steps: int, *family: str) -> presets.Preset:
        return presets.Preset({"total_timesteps": steps}, "a family's", family=family)

    monkeypatch.setitem(presets.PRESETS, "suite", preset(1_000_000, "suite/"))
    monkeypatch.setitem(presets.PRESETS, "suite-10m", preset(10_000_000, "suite/"))
    monkeypatch.setitem(presets.PRESETS, "suite-b", preset(1_000_000, "suite/b-", "Hopper-v"))
    monkeypatch.setattr(presets, "FAMILIES", presets._families())
    assert presets.tuned("suite/a-v0") == "suite"
    assert presets.tuned("suite/a-v0", 10_000_000) == "suite-10m"  # by budget, as an env's own
    assert presets.tuned("suite/b-v0", 10_000_000) == "suite-b"  # the longest prefix wins
    assert presets.tuned("Hopper-v5") == "hopper"  # a task's own presets before a family's
    assert presets.tuned_names("suit/a-v0") == ()
    with pytest.raises(ConfigError, match=r"tuned presets exist for .*, suite/\.\.\."):
        presets.resolve("tuned", "suit/a-v0")
    assert "suite-b: a family's [suite/b-..., Hopper-v...]" in presets.describe()
