"""The C engine: C MuJoCo (the library Gymnasium steps) called from inside the compiled program."""

from purejaxppo.envs.c.native import CEngineUnavailableError, default_threads, why_unavailable
from purejaxppo.envs.c.physics import CData, CPhysics

__all__ = ["CData", "CEngineUnavailableError", "CPhysics", "default_threads", "why_unavailable"]
