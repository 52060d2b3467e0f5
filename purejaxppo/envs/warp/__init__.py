"""The MuJoCo Warp engine: mujoco-mjx's ``impl="warp"`` inside the compiled program.

MuJoCo Warp runs MuJoCo's pipeline as NVIDIA Warp kernels (CUDA; also on the CPU, slowly, which
is what the tests use). It needs the ``warp`` extra (``uv sync --extra warp``: warp-lang at the
version mujoco-mjx pins); :func:`why_unavailable` says what is missing.
"""

from __future__ import annotations

import importlib.util

from purejaxppo.envs.warp.physics import WarpData, WarpPhysics


def why_unavailable() -> str | None:
    """None when the Warp engine can run here, else what to do."""
    try:
        found = importlib.util.find_spec("warp") is not None
    except ValueError:  # a module entry of None: import warp is made to fail
        found = False
    if not found:
        return "physics='warp' needs warp-lang: install the extra (`uv sync --extra warp`)"
    return None


__all__ = ["WarpData", "WarpPhysics", "why_unavailable"]
