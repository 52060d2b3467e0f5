"""purejaxppo: end-to-end jitted, vectorised PPO for MuJoCo continuous control in JAX.

>>> import jax, purejaxppo as pjp
>>> env = pjp.envs.make("brax/inverted_pendulum")
>>> train = jax.jit(jax.vmap(pjp.make_train(pjp.PPOConfig(total_timesteps=50_000), env)))
>>> result = train(jax.random.split(jax.random.PRNGKey(0), 4))   # 4 seeds, one program

A run saved by ``purejaxppo train`` gives back a NumPy policy: ``pjp.load_policy(run_dir)``.
"""

import contextlib
import io

with contextlib.redirect_stdout(io.StringIO()):
    # MJX prints "Failed to import warp" on import when its optional Warp backend is absent.
    from mujoco import mjx  # noqa: F401

from purejaxppo import envs
from purejaxppo.config import ConfigError, PPOConfig, stack_configs
from purejaxppo.evaluate import evaluate
from purejaxppo.gae import compute_gae
from purejaxppo.loss import LossInfo, Minibatch, ppo_loss
from purejaxppo.networks import ActorCritic
from purejaxppo.normalize import RewardScaler, RunningStats
from purejaxppo.parallel.mesh import Layout
from purejaxppo.rollout import Transition, collect_rollout
from purejaxppo.runs.cache import enable_compilation_cache
from purejaxppo.runs.crosscheck import cross_check
from purejaxppo.runs.placement import train_on_mesh
from purejaxppo.runs.policy import LoadedPolicy, load_policy
from purejaxppo.train import (
    Policy,
    RunnerState,
    TrainMetrics,
    TrainResult,
    make_network,
    make_policy_fn,
    make_train,
)

__version__ = "0.1.0"

__all__ = [
    "ActorCritic",
    "ConfigError",
    "Layout",
    "LoadedPolicy",
    "LossInfo",
    "Minibatch",
    "PPOConfig",
    "Policy",
    "RewardScaler",
    "RunnerState",
    "RunningStats",
    "TrainMetrics",
    "TrainResult",
    "Transition",
    "collect_rollout",
    "compute_gae",
    "cross_check",
    "enable_compilation_cache",
    "envs",
    "evaluate",
    "make_network",
    "make_policy_fn",
    "load_policy",
    "make_train",
    "ppo_loss",
    "stack_configs",
    "train_on_mesh",
    "__version__",
]
