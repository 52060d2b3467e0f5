"""The MJX engine: MuJoCo's JAX physics traced into the program, with scoped changes to MJX.

The changes patch mujoco-mjx's internals, so the engine runs only on the version they were
written for (:data:`MJX_VERSION`); :func:`check_version` says so clearly otherwise.
"""

from importlib import metadata

from purejaxppo.envs.base import EnvError
from purejaxppo.envs.mjx.physics import MjxPhysics

MJX_VERSION = "3.17.0"
"""The mujoco-mjx release whose internals ``fixes``, ``rk4`` and ``speed`` change."""


class MjxVersionError(EnvError):
    """The installed mujoco-mjx is not the one the scoped changes were written for."""


def check_version() -> None:
    """Raises :class:`MjxVersionError` unless mujoco-mjx is :data:`MJX_VERSION`."""
    installed = metadata.version("mujoco-mjx")
    if installed != MJX_VERSION:
        raise MjxVersionError(
            f"purejaxppo's MJX engine changes internals of mujoco-mjx {MJX_VERSION}, but "
            f"{installed} is installed: install mujoco-mjx=={MJX_VERSION} (`uv sync`), "
            "or use physics='c'"
        )


__all__ = ["MJX_VERSION", "MjxPhysics", "MjxVersionError", "check_version"]
