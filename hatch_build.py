"""Build hook: compiles the C engine's native part (purejaxppo/envs/c/engine.cc).

It needs a C++17 compiler and the headers of the installed mujoco and jaxlib, which uv provides
in the build environment at the project's locked versions (``tool.uv.extra-build-dependencies``
in pyproject.toml). When it cannot build, the install still succeeds without the C engine, and
the reason is written beside the sources, where ``physics="c"`` reports it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("purejaxppo/envs/c/engine.cc")
LIBRARY = SOURCE.with_name("_engine.so")
FAILURE = SOURCE.with_name("_engine.build-error.txt")


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def _include_dirs() -> list[str]:
    import jaxlib  # the headers of XLA's FFI
    import mujoco

    return [str(Path(p).parent / "include") for p in (jaxlib.__file__, mujoco.__file__)]


def build(root: Path) -> str | None:
    """Compiles the library into the source tree; returns why not, or None when built."""
    cxx = _compiler()
    if cxx is None:
        return "no C++ compiler was found (set CXX, or install g++ or clang++)"
    try:
        includes = _include_dirs()
    except ImportError as e:
        return f"the headers of mujoco and jaxlib are not in the build environment ({e})"
    flags = ["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else []
    cmd = [
        cxx, "-std=c++17", "-O2", "-shared", "-fPIC",
        *(f"-I{d}" for d in includes), *flags,
        str(root / SOURCE), "-o", str(root / LIBRARY),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        return f"{' '.join(cmd)}\n{done.stderr.strip()}"
    return None


class CustomBuildHook(BuildHookInterface):
    """Builds the library before the wheel (regular or editable) is assembled."""

    def initialize(self, version: str, build_data: dict) -> None:  # noqa: D102
        root = Path(self.root)
        (root / FAILURE).unlink(missing_ok=True)
        why = build(root)
        if why is None:
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
            if version != "editable":
                build_data["force_include"][str(root / LIBRARY)] = str(LIBRARY)
            return
        (root / FAILURE).write_text(why + "\n")
        print(f"purejaxppo: the C engine was not built: {why}", file=sys.stderr)
