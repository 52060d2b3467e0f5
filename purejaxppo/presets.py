"""Named hyperparameter sets for ``purejaxppo train --preset NAME``.

A preset replaces the defaults of PPOConfig; flags given on the command line still override it.

- ``seed``: the defaults themselves (the seed's hyperparameters).
- ``cleanrl``: the hyperparameters of CleanRL's ``ppo_continuous_action.py`` (separate 64x64 tanh
  actor and critic, learning rate 3e-4 annealed, no entropy bonus, clipped value loss, initial
  log std 0, 2048 transitions per update in minibatches of 64 for 10 epochs), for comparisons
  with its published MuJoCo figures. One difference: 16 envs x 128 steps per rollout where
  CleanRL steps 1 env for 2048.
- ``hopper``: the seed's, with the policy's initial standard deviation 0.61 (``log_std_init``
  -0.5, against -1), for Hopper-v5, 1M steps. Chosen by a sweep of ``entropy_coeff`` and
  ``log_std_init`` (Hopper-v5, 409,600 steps, 3 seeds per point, scored in Gymnasium):
  ``benchmarks/results/cpu/sweep_hopper_v5.md`` holds the command and the table.
"""

from __future__ import annotations

import difflib
from typing import Any

from purejaxppo.config import ConfigError, PPOConfig

PRESETS: dict[str, dict[str, Any]] = {
    "seed": {},
    "cleanrl": {
        "total_timesteps": 1_000_000,
        "shared_network": False,
        "anneal_lr": True,
        "entropy_coeff": 0.0,
        "clip_value": True,
        "log_std_init": 0.0,
    },
    "hopper": {"total_timesteps": 1_000_000, "log_std_init": -0.5},
}


def preset_config(name: str) -> PPOConfig:
    """PPOConfig with the preset's values; an unknown name lists the known ones."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown preset {name!r}.{hint} Presets: {', '.join(PRESETS)}")
    return PPOConfig(**PRESETS[name])
