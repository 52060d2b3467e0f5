"""The MuJoCo Warp engine: mujoco-mjx's ``impl="warp"`` inside the compiled program.

MuJoCo Warp runs MuJoCo's pipeline as NVIDIA Warp kernels (CUDA; also on the CPU, slowly, which
is what the tests use). It needs the ``warp`` extra (``uv sync --extra warp``: warp-lang at the
version mujoco-mjx pins); :func:`why_unavailable` says what is missing.
"""

from __future__ import annotations

from purejaxppo.envs.warp.physics import WarpData, WarpPhysics, why_unavailable

__all__ = ["WarpData", "WarpPhysics", "why_unavailable"]
