"""Environments: the contract, the MuJoCo task base, the engines, the registry, the wrappers."""

from purejaxppo.envs.base import Env, EnvError, State
from purejaxppo.envs.data import STAGES, InitialState, SimData
from purejaxppo.envs.engines import ENGINES, EngineSettings
from purejaxppo.envs.registry import (
    UnknownEnvError,
    describe,
    load_task,
    make,
    register,
    registered_ids,
)
from purejaxppo.envs.task import MujocoTask, Outcome
from purejaxppo.envs.wrappers import (
    AutoReset,
    ClipAction,
    TimeLimit,
    Vmap,
    Wrapper,
    wrap_for_eval,
    wrap_for_training,
)

__all__ = [
    "ENGINES",
    "STAGES",
    "AutoReset",
    "ClipAction",
    "EngineSettings",
    "Env",
    "EnvError",
    "InitialState",
    "MujocoTask",
    "Outcome",
    "SimData",
    "State",
    "TimeLimit",
    "UnknownEnvError",
    "Vmap",
    "Wrapper",
    "describe",
    "load_task",
    "make",
    "register",
    "registered_ids",
    "wrap_for_eval",
    "wrap_for_training",
]
