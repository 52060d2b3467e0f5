"""Named hyperparameter sets for ``purejaxppo train --preset NAME`` (and ``sweep``).

A preset replaces the defaults of PPOConfig; flags given on the command line still override it.
``--preset tuned`` picks the preset tuned for the env given and the budget nearest the one asked
(:data:`TUNED`, :func:`tuned`); ``defaults`` (PPOConfig's own) is the default on a CPU. A
preset's ``about`` is one line; how a tuned preset was chosen is told in its sweep's results file.

Every tuned preset was chosen by a sweep scored in the task's reference (Gymnasium's own task;
dm_control's for ``dmc``) on seeds of the sweep's own (0-2; ``hopper-10m``: 0-5, over several
sweeps; ``dmc``: 1000-1001 on four tasks); its ``source`` is the results files, each starting
with the command that made it.
``benchmarks/returns.py`` reports each on fresh seeds.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any

from purejaxppo.config import ConfigError, PPOConfig


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named set of PPOConfig values.

    Attributes:
        values: the fields it sets (the rest keep PPOConfig's defaults).
        about: one line (at most 100 characters) on what it sets and why; ``--help`` prints it.
        env: the task it was tuned for; ``--preset tuned`` picks it for that env.
        source: the results file of the sweep that chose it (its first lines are the command),
            or the files of the sweeps, on several tasks, that chose a family's preset.
        family: env id prefixes (``dm_control/``) of the tasks ``--preset tuned`` picks it for
            when a task has no preset of its own: a preset chosen on a few tasks of a suite
            stands for the suite; the longest prefix matching an id wins.
    """

    values: dict[str, Any]
    about: str
    env: str | None = None
    source: str | tuple[str, ...] | None = None
    family: tuple[str, ...] = ()

    @property
    def sources(self) -> tuple[str, ...]:
        """The results files of the sweeps that chose it (none for an untuned preset)."""
        if self.source is None:
            return ()
        return (self.source,) if isinstance(self.source, str) else self.source


_SWEEPS = "benchmarks/results/cpu"
_HUMANOID = {"total_timesteps": 1_000_000, "learning_rate": 1e-4, "shared_network": False}
"""A separate actor and critic at learning rate 1e-4: ``humanoidstandup``, and ``humanoid``
without the entropy bonus (chosen by their own sweeps)."""

_ANT = {
    "total_timesteps": 1_000_000,
    "entropy_coeff": 0.0,
    "log_std_init": -2.0,
    "learning_rate": 1e-4,
    "shared_network": False,
}
"""``ant``: what ``ant-10m`` starts from."""
_HOPPER = {
    "total_timesteps": 1_000_000,
    "log_std_init": -0.5,
    "learning_rate": 1e-4,
    "shared_network": False,
}
"""``hopper``: what ``hopper-10m`` starts from."""
_WALKER2D = {"total_timesteps": 1_000_000, "log_std_init": -0.5, "shared_network": False}
"""``walker2d``: what ``walker2d-10m`` starts from."""

PRESETS: dict[str, Preset] = {
    "defaults": Preset({}, "PPOConfig's defaults, made for HalfCheetah-v5 at 500k steps"),
    "cleanrl": Preset(
        {
            "total_timesteps": 1_000_000,
            "shared_network": False,
            "anneal_lr": True,
            "entropy_coeff": 0.0,
            "clip_value": True,
            "log_std_init": 0.0,
        },
        "CleanRL's ppo_continuous_action.py, for its published figures (16 envs x 128 steps, "
        "not 1 x 2048)",
    ),
    "gpu": Preset(
        {
            "total_timesteps": 20_971_520,
            "num_envs": 2048,
            "batch_size": 65_536,
            "minibatch_size": 8192,
            "n_epochs": 4,
            "eval_every": 20,
        },
        "the shape of Brax's and Playground's MJX PPO (2048 envs x 32 steps, 20M); untuned; "
        "the GPU default",
    ),
    "halfcheetah": Preset(
        {
            "total_timesteps": 1_000_000,
            "gamma": 0.98,
            "log_std_init": -2.0,
            "shared_network": False,
            "hidden_sizes": (256, 256),
            "activation": "relu",
            "learning_rate": 1e-4,
            "clip_epsilon": 0.1,
            "gae_lambda": 0.92,
        },
        "gamma 0.98, log std -2 and RL Zoo's 256x256 ReLU actor and critic",
        env="HalfCheetah-v5",
        source=f"{_SWEEPS}/sweep_halfcheetah_v5_relu256.md",
    ),
    "hopper": Preset(
        _HOPPER,
        "a separate actor and critic, log std -0.5, learning rate 1e-4",
        env="Hopper-v5",
        source=f"{_SWEEPS}/sweep_hopper_v5_separate.md",
    ),
    "hopper-10m": Preset(
        {
            **_HOPPER,
            "total_timesteps": 10_000_000,
            "entropy_coeff": 0.003,
            "num_envs": 128,
            "batch_size": 16384,
            "minibatch_size": 512,
        },
        "hopper's with entropy bonus 0.003 and updates of 16384 steps",
        env="Hopper-v5",
        source=f"{_SWEEPS}/sweep_hopper_v5_10m_batch16384.md",
    ),
    "walker2d": Preset(
        _WALKER2D,
        "a separate actor and critic, log std -0.5",
        env="Walker2d-v5",
        source=f"{_SWEEPS}/sweep_walker2d_v5_separate.md",
    ),
    "walker2d-10m": Preset(
        {
            **_WALKER2D,
            "total_timesteps": 10_000_000,
            "entropy_coeff": 0.0,
            "adaptive_lr": True,
            "target_kl": 0.01,
        },
        "walker2d's without the entropy bonus, the learning rate set by the updates' KL",
        env="Walker2d-v5",
        source=f"{_SWEEPS}/sweep_walker2d_v5_3m_adaptive.md",
    ),
    "ant": Preset(
        _ANT,
        "a separate actor and critic, learning rate 1e-4, no entropy bonus, log std -2",
        env="Ant-v5",
        source=f"{_SWEEPS}/sweep_ant_v5_separate.md",
    ),
    "ant-10m": Preset(
        {**_ANT, "total_timesteps": 10_000_000, "adaptive_lr": True, "target_kl": 0.02},
        "ant's with the learning rate set by the updates' KL",
        env="Ant-v5",
        source=f"{_SWEEPS}/sweep_ant_v5_3m_adaptive.md",
    ),
    "invertedpendulum": Preset(
        {"total_timesteps": 1_000_000, "anneal_lr": True},
        "the learning rate annealed to 0",
        env="InvertedPendulum-v5",
        source=f"{_SWEEPS}/sweep_invertedpendulum_v5.md",
    ),
    "inverteddoublependulum": Preset(
        {
            "total_timesteps": 1_000_000,
            "learning_rate": 1e-4,
            "anneal_lr": True,
            "log_std_init": -0.5,
            "entropy_coeff": 0.03,
        },
        "learning rate 1e-4 annealed to 0, log std -0.5, entropy bonus 0.03",
        env="InvertedDoublePendulum-v5",
        source=f"{_SWEEPS}/sweep_inverteddoublependulum_v5_width.md",
    ),
    "reacher": Preset(
        {"total_timesteps": 1_000_000, "gamma": 0.95},
        "gamma 0.95: the 50-step episodes' reward is near",
        env="Reacher-v5",
        source=f"{_SWEEPS}/sweep_reacher_v5_gamma.md",
    ),
    "pusher": Preset(
        {"total_timesteps": 1_000_000, "learning_rate": 1e-4},
        "learning rate 1e-4",
        env="Pusher-v5",
        source=f"{_SWEEPS}/sweep_pusher_v5.md",
    ),
    "humanoid": Preset(
        {**_HUMANOID, "entropy_coeff": 0.0},
        "a separate actor and critic, learning rate 1e-4, no entropy bonus",
        env="Humanoid-v5",
        source=f"{_SWEEPS}/sweep_humanoid_v5_entropy.md",
    ),
    "humanoid-10m": Preset(
        {
            **_HUMANOID,
            "entropy_coeff": 0.0,
            "total_timesteps": 10_000_000,
            "adaptive_lr": True,
            "target_kl": 0.02,
        },
        "humanoid's with the learning rate set by the updates' KL",
        env="Humanoid-v5",
        source=f"{_SWEEPS}/sweep_humanoid_v5_3m.md",
    ),
    "humanoidstandup": Preset(
        _HUMANOID,
        "a separate actor and critic, learning rate 1e-4",
        env="HumanoidStandup-v5",
        source=f"{_SWEEPS}/sweep_humanoidstandup_v5_humanoid.md",
    ),
    "swimmer": Preset(
        {
            "total_timesteps": 1_000_000,
            "gamma": 0.999,
            "gae_lambda": 0.99,
            "num_envs": 4,
            "batch_size": 4096,
            "minibatch_size": 256,
            "learning_rate": 6e-4,
            "shared_network": False,
            "entropy_coeff": 0.0,
            "log_std_init": 0.0,
        },
        "gamma 0.999, GAE lambda 0.99 in RL Zoo's Swimmer shape (4 envs x 1024 steps)",
        env="Swimmer-v5",
        source=f"{_SWEEPS}/sweep_swimmer_v5_zoo4096.md",
    ),
    "dmc": Preset(
        {**_HOPPER},
        "hopper's settings, chosen on four of the suite's tasks",
        source=tuple(
            f"{_SWEEPS}/sweep_dmc_{task}{grid}.md"
            for task in ("cartpole_swingup", "finger_spin", "cheetah_run", "walker_walk")
            for grid in ("", "_network", "_log_std")
        ),
        family=("dm_control/",),
    ),
}


RENAMED: dict[str, str] = {"seed": "defaults"}
"""Old preset name -> its name now."""


def current_name(name: str | None) -> str | None:
    """A preset's name as it is now: an old one (:data:`RENAMED`) read as today's.

    So run.json files and results rows written before a rename still match today's specs.
    """
    return RENAMED.get(name, name) if name is not None else None


def _tuned() -> dict[str, tuple[str, ...]]:
    by_env: dict[str, list[str]] = {}
    for name, p in PRESETS.items():
        if p.env is not None:
            by_env.setdefault(p.env, []).append(name)
    return {
        env: tuple(sorted(names, key=lambda n: PRESETS[n].values["total_timesteps"]))
        for env, names in by_env.items()
    }


TUNED: dict[str, tuple[str, ...]] = _tuned()
"""Env id -> the names of its tuned presets, by the budget each was tuned for (smallest first)."""


def _families() -> dict[str, tuple[str, ...]]:
    by_prefix: dict[str, list[str]] = {}
    for name, p in PRESETS.items():
        for prefix in p.family:
            by_prefix.setdefault(prefix, []).append(name)
    return {
        prefix: tuple(sorted(names, key=lambda n: PRESETS[n].values["total_timesteps"]))
        for prefix, names in by_prefix.items()
    }


FAMILIES: dict[str, tuple[str, ...]] = _families()
"""Env id prefix -> the names of the family presets for the ids it starts, by budget."""


def tuned_names(env_id: str | None) -> tuple[str, ...]:
    """The presets ``--preset tuned`` chooses from for ``env_id``, by budget.

    Its own where it has some, else its family's (the longest prefix of it in
    :data:`FAMILIES`); empty where it has none.
    """
    if env_id is None:
        return ()
    if env_id in TUNED:
        return TUNED[env_id]
    prefixes = [prefix for prefix in FAMILIES if env_id.startswith(prefix)]
    return FAMILIES[max(prefixes, key=len)] if prefixes else ()


def tuned(env_id: str | None, total_timesteps: int | None = None) -> str:
    """The env's tuned preset for a budget: the one tuned for the budget nearest by ratio.

    The env's own presets, else its family's (:func:`tuned_names`).

    What suits 1M steps need not suit 10M (an entropy bonus can widen the policy's spread once
    its return stops rising), so a task may have one preset per budget.
    ``total_timesteps`` None (or halfway between two budgets) takes the smaller budget's.

    Raises:
        ConfigError: the env has no tuned preset (listing those that have).
    """
    names = tuned_names(env_id)
    if not names:
        suites = "".join(f", {prefix}..." for prefix in sorted(FAMILIES))
        raise ConfigError(
            f"--preset tuned: no tuned preset for {env_id}; tuned presets exist for "
            f"{', '.join(sorted(TUNED))}{suites} (or give --preset defaults)"
        )
    if total_timesteps is None or total_timesteps < 1:
        return names[0]

    def distance(name: str) -> float:  # |log| of the ratio of the budgets
        return abs(math.log(total_timesteps / PRESETS[name].values["total_timesteps"]))

    return min(names, key=distance)  # min keeps the first (the smaller budget) of equal ones


def resolve(name: str, env_id: str | None, total_timesteps: int | None = None) -> str:
    """The preset a name means for ``env_id``: ``tuned`` becomes the env's own or its family's.

    Raises:
        ConfigError: an unknown name (with the close matches), or ``tuned`` for an env that has
            no tuned preset (listing those that do).
    """
    name = RENAMED.get(name, name)  # an old name: today's (current_name)
    if name == "tuned":
        return tuned(env_id, total_timesteps)
    if name not in PRESETS:
        close = difflib.get_close_matches(name, [*PRESETS, "tuned"], n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown preset {name!r}.{hint} Presets: {', '.join(PRESETS)}, tuned")
    return name


def preset_config(
    name: str, env_id: str | None = None, total_timesteps: int | None = None
) -> PPOConfig:
    """PPOConfig with the preset's values.

    ``tuned`` is the preset tuned for ``env_id`` and the budget nearest ``total_timesteps``; the
    config keeps that preset's own budget (the command line's flag then replaces it).
    """
    return PPOConfig(**PRESETS[resolve(name, env_id, total_timesteps)].values)


def default_preset(backend: str) -> str:
    """The command line's preset when none is given: ``defaults`` on a CPU, ``gpu`` elsewhere."""
    return "defaults" if backend == "cpu" else "gpu"


def describe() -> str:
    """Every preset, a paragraph each, for ``--help``."""
    lines = []
    for name, p in PRESETS.items():
        tasks = ", ".join(filter(None, [p.env, *(f"{f}..." for f in p.family)]))
        said = "; ".join(filter(None, [tasks, ", ".join(p.sources)]))
        where = f" [{said}]" if said else ""
        lines.append(f"{name}: {p.about}{where}")
    lines.append(
        "tuned: the preset tuned for the env given (of those, the one tuned for the budget "
        "nearest --total-timesteps)"
    )
    return "\n\n".join(lines)  # paragraphs: the help's formatter joins single lines
