"""Named hyperparameter sets for ``purejaxppo train --preset NAME`` (and ``sweep``).

A preset replaces the defaults of PPOConfig; flags given on the command line still override it.
``--preset tuned`` picks the preset tuned for the env given and the budget nearest the one asked
(:data:`TUNED`, :func:`tuned`); ``seed`` (the defaults themselves, the seed's hyperparameters)
stays the default.

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
        about: one line on what it is.
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
    "seed": Preset({}, "the defaults: the seed's hyperparameters (made for HalfCheetah-v5)"),
    "cleanrl": Preset(
        {
            "total_timesteps": 1_000_000,
            "shared_network": False,
            "anneal_lr": True,
            "entropy_coeff": 0.0,
            "clip_value": True,
            "log_std_init": 0.0,
        },
        "CleanRL's ppo_continuous_action.py (separate 64x64 tanh actor and critic, learning rate "
        "3e-4 annealed, no entropy bonus, clipped value loss, initial log std 0, 2048 transitions "
        "per update in minibatches of 64 for 10 epochs), for comparisons with its published "
        "figures; 16 envs x 128 steps per rollout where CleanRL steps 1 env for 2048",
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
        "the shape for a GPU: 2048 envs x 32 steps per update, 8 minibatches, 4 epochs, 20M "
        "steps (320 updates); the seed's hyperparameters otherwise. The shape is that of Brax's "
        "and MuJoCo Playground's published MJX PPO settings (2048 envs, rollouts of 20-30 steps, "
        "4-16 epochs) and of benchmarks/gpu_suite.py; it has not been tuned on a GPU here. The "
        "command line's default on a GPU or TPU",
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
        "gamma 0.98 and initial log std -2 (std 0.14; sweep_halfcheetah_v5.md) with RL Zoo's "
        "shape: a separate 256x256 ReLU actor and critic, clip range 0.1, GAE lambda 0.92, at "
        "learning rate 1e-4, for HalfCheetah-v5 at 1M steps (the wider network trains about 4x "
        "slower on a CPU than the 64x64 of the other presets)",
        env="HalfCheetah-v5",
        source=f"{_SWEEPS}/sweep_halfcheetah_v5_relu256.md",
    ),
    "hopper": Preset(
        _HOPPER,
        "the seed's with a separate actor and critic, initial log std -0.5 (std 0.61; "
        "sweep_hopper_v5.md) and learning rate 1e-4 (sweep_hopper_v5_1m.md), for Hopper-v5 at 1M",
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
        "the hopper preset with the entropy bonus 0.003 in place of 0.01 and updates eight times "
        "as large (128 envs x 128 steps, minibatches of 512), for Hopper-v5 at 10M steps (with "
        "0.01 the policy's spread widens after 2M steps and its return falls: "
        "returns_hopper_v5_10m_constant.md; without a bonus it scores within 20 of 0.003 on the "
        "sweep's seeds 0-5, its worst seed 1397 against 2157: sweep_hopper_v5_10m.md and "
        "sweep_hopper_v5_10m_seeds3.md; annealing the learning rate scored lower; updates four "
        "times as large halve the late updates' KL and score 115 more on seeds 0-5: "
        "sweep_hopper_v5_10m_batch8192.md; eight times as large score the same mean with the "
        "worst seed 3027 against 2336: sweep_hopper_v5_10m_batch16384.md)",
        env="Hopper-v5",
        source=f"{_SWEEPS}/sweep_hopper_v5_10m_batch16384.md",
    ),
    "walker2d": Preset(
        _WALKER2D,
        "the seed's with a separate actor and critic and initial log std -0.5 (std 0.61; "
        "sweep_walker2d_v5.md), for Walker2d-v5 at 1M steps",
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
        "the walker2d preset without the entropy bonus, its learning rate set by the updates' KL "
        "(adaptive_lr around target_kl 0.01, from 3e-4), for Walker2d-v5 at 10M steps: at a "
        "constant rate each update's KL grows after 2M steps and the policy collapses "
        "(returns_walker2d_v5_10m_walker2d.md); a constant 1e-4 scored alike at 3M with twice "
        "its KL and its spread shrinking, and stopping updates at the KL limit (use_target_kl) "
        "alike too (sweep_walker2d_v5_3m.md)",
        env="Walker2d-v5",
        source=f"{_SWEEPS}/sweep_walker2d_v5_3m_adaptive.md",
    ),
    "ant": Preset(
        _ANT,
        "the seed's with a separate actor and critic, learning rate 1e-4, no entropy bonus and "
        "initial log std -2 (std 0.14; Ant pays for its actions' size; sweep_ant_v5.md), for "
        "Ant-v5 at 1M steps",
        env="Ant-v5",
        source=f"{_SWEEPS}/sweep_ant_v5_separate.md",
    ),
    "ant-10m": Preset(
        {**_ANT, "total_timesteps": 10_000_000, "adaptive_lr": True, "target_kl": 0.02},
        "the ant preset with its learning rate set by the updates' KL (adaptive_lr around "
        "target_kl 0.02, from 1e-4), for Ant-v5 at 10M steps: at a constant rate its evaluation "
        "peaks at 1.5M steps and then falls (returns_ant_v5_10m_ant.md); target_kl 0.01 scored "
        "a little lower at 3M",
        env="Ant-v5",
        source=f"{_SWEEPS}/sweep_ant_v5_3m_adaptive.md",
    ),
    "invertedpendulum": Preset(
        {"total_timesteps": 1_000_000, "anneal_lr": True},
        "the seed's with the learning rate annealed to 0, for InvertedPendulum-v5 at 1M steps "
        "(three points of its sweep hold 1000, the most; this one keeps the final policy still)",
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
        "the seed's with learning rate 1e-4 annealed to 0 (sweep_inverteddoublependulum_v5.md), "
        "initial log std -0.5 (std 0.61; with the narrower -1 and -2 more episodes fell; "
        "sweep_inverteddoublependulum_v5_std.md) and entropy bonus 0.03 (with the seed's 0.01 "
        "some final policies fall in some episodes), for InvertedDoublePendulum-v5 at 1M steps",
        env="InvertedDoublePendulum-v5",
        source=f"{_SWEEPS}/sweep_inverteddoublependulum_v5_width.md",
    ),
    "reacher": Preset(
        {"total_timesteps": 1_000_000, "gamma": 0.95},
        "the seed's with gamma 0.95 (Reacher's 50-step episodes reward being near now), for "
        "Reacher-v5 at 1M steps",
        env="Reacher-v5",
        source=f"{_SWEEPS}/sweep_reacher_v5_gamma.md",
    ),
    "pusher": Preset(
        {"total_timesteps": 1_000_000, "learning_rate": 1e-4},
        "the seed's with learning rate 1e-4, for Pusher-v5 at 1M steps",
        env="Pusher-v5",
        source=f"{_SWEEPS}/sweep_pusher_v5.md",
    ),
    "humanoid": Preset(
        {**_HUMANOID, "entropy_coeff": 0.0},
        "the seed's with a separate actor and critic, learning rate 1e-4 "
        "(sweep_humanoid_v5_separate.md) and no entropy bonus (with it the policy's spread over "
        "17 actions keeps widening), for Humanoid-v5 at 1M steps",
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
        "the humanoid preset with its learning rate set by the updates' KL (adaptive_lr around "
        "target_kl 0.02, from 1e-4), for Humanoid-v5 at 10M steps: at a constant 1e-4 its "
        "evaluation peaks near 1.8M steps and falls while each update's KL grows; under "
        "adaptive_lr the rate ends at its floor (1e-5) and the return keeps rising to 3M",
        env="Humanoid-v5",
        source=f"{_SWEEPS}/sweep_humanoid_v5_3m.md",
    ),
    "humanoidstandup": Preset(
        _HUMANOID,
        "the seed's with a separate actor and critic and learning rate 1e-4 (the humanoid "
        "preset's, with the entropy bonus), for HumanoidStandup-v5 at 1M steps",
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
        "gamma 0.999 and GAE lambda 0.99 (Swimmer's reward comes slowly; sweep_swimmer_v5.md) "
        "in RL Zoo's Swimmer shape: a separate actor and critic, 4 envs x 1024 steps per update "
        "in minibatches of 256, learning rate 6e-4, initial log std 0, no entropy bonus; for "
        "Swimmer-v5 at 1M steps",
        env="Swimmer-v5",
        source=f"{_SWEEPS}/sweep_swimmer_v5_zoo4096.md",
    ),
    "dmc": Preset(
        {**_HOPPER},
        "the hopper preset (a separate actor and critic, initial log std -0.5, learning rate "
        "1e-4) for the DeepMind Control Suite at 1M steps: of seven points on four of its tasks, "
        "the one whose every seed scored above CleanRL's 1M figures",
        source=tuple(
            f"{_SWEEPS}/sweep_dmc_{task}{grid}.md"
            for task in ("cartpole_swingup", "finger_spin", "cheetah_run", "walker_walk")
            for grid in ("", "_network")
        ),
        family=("dm_control/",),
    ),
}


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
            f"{', '.join(sorted(TUNED))}{suites} (or give --preset seed)"
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
    """The command line's preset when none is given: ``seed`` on a CPU, ``gpu`` on a GPU or TPU."""
    return "seed" if backend == "cpu" else "gpu"


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
