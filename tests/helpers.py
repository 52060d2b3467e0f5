"""What several test modules share."""

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

import purejaxppo as pjp

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())


def dependencies() -> dict[str, Requirement]:
    """pyproject.toml's runtime dependencies, by name."""
    reqs = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    return {r.name: r for r in reqs}


def while_loops(text: str) -> tuple[int, int]:
    """(fixed-length, data-dependent) ``stablehlo.while`` loops of a lowered module's text.

    A loop is fixed-length when its condition only compares a counter with a constant (a
    ``scan``'s); any other condition depends on the data (a ``while_loop``'s).
    """
    fixed = dynamic = 0
    for cond in re.findall(r"stablehlo\.while.*?\n\s*cond \{\n(.*?)\n\s*\} do \{", text, re.S):
        ops = [line.split("=", 1)[-1].split()[0] for line in cond.splitlines() if line.strip()]
        if set(ops) <= {"stablehlo.constant", "stablehlo.compare", "stablehlo.return"}:
            fixed += 1
        else:
            dynamic += 1
    return fixed, dynamic


def tiny_config(**overrides) -> pjp.PPOConfig:
    """A config whose program compiles in seconds: 8 envs x 32 steps, minibatches of 64."""
    base = dict(
        total_timesteps=256 * 64,
        num_envs=8,
        batch_size=256,
        minibatch_size=64,
        n_epochs=4,
        eval_every=8,
        eval_episodes=4,
        learning_rate=3e-3,
        normalize_obs=False,
        normalize_reward=False,
    )
    base.update(overrides)
    return pjp.PPOConfig(**base)


def load_benchmark(name: str):
    """The module of ``benchmarks/<name>.py`` (its folder importable, as when it runs)."""
    folder = Path(__file__).parents[1] / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"{name}_bench", folder / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
