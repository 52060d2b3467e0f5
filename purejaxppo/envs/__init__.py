"""Environments: the contract, the training wrappers, the registry and the tasks."""

from purejaxppo.envs.base import Env, EnvError, State
from purejaxppo.envs.registry import UnknownEnvError, describe, make, register, registered_ids
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
    "AutoReset",
    "ClipAction",
    "Env",
    "EnvError",
    "State",
    "TimeLimit",
    "UnknownEnvError",
    "Vmap",
    "Wrapper",
    "describe",
    "make",
    "register",
    "registered_ids",
    "wrap_for_eval",
    "wrap_for_training",
]
