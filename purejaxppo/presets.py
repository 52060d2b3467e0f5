"""Named hyperparameter sets for ``purejaxppo train --preset NAME``.

A preset replaces the defaults of PPOConfig; flags given on the command line still override it.
``seed`` is the defaults themselves (the seed's hyperparameters).
"""

from __future__ import annotations

import difflib

from purejaxppo.config import ConfigError, PPOConfig

PRESETS: dict[str, dict[str, object]] = {
    "seed": {},
}


def preset_config(name: str) -> PPOConfig:
    """PPOConfig with the preset's values; an unknown name lists the known ones."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown preset {name!r}.{hint} Presets: {', '.join(PRESETS)}")
    return PPOConfig(**PRESETS[name])
