"""Build hook: compiles the C engine's native part (purejaxppo/envs/c/engine.cc).

It needs a C++17 compiler and the headers of the installed mujoco and jaxlib, which uv provides
in the build environment at the project's locked versions (``tool.uv.extra-build-dependencies``
in pyproject.toml). The library's name carries those versions (``_engine-jaxlib<v>-mujoco<v>.so``),
so environments of other versions (the lock's two Python forks) keep their own beside it in an
editable install. When it cannot build, the install still succeeds without the C engine, and the
reason is written beside the sources, where ``physics="c"`` reports it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("purejaxppo/envs/c/engine.cc")
FAILURE = SOURCE.with_name("_engine.build-error.txt")


def library_name(jaxlib_version: str, mujoco_version: str) -> str:
    """The library's file name for these versions (``purejaxppo.envs.c.native`` reads it too)."""
    return f"_engine-jaxlib{jaxlib_version}-mujoco{mujoco_version}.so"


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def build(root: Path) -> tuple[Path | None, str | None]:
    """Compiles the library into the source tree: (its path, None), or (None, why not)."""
    cxx = _compiler()
    if cxx is None:
        return None, "no C++ compiler was found (set CXX, or install g++ or clang++)"
    try:
        import jaxlib  # the headers of XLA's FFI
        import jaxlib.version
        import mujoco
    except ImportError as e:
        return None, f"the headers of mujoco and jaxlib are not in the build environment ({e})"
    includes = [str(Path(p).parent / "include") for p in (jaxlib.__file__, mujoco.__file__)]
    library = SOURCE.with_name(library_name(jaxlib.version.__version__, mujoco.__version__))
    flags = ["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else []
    cmd = [
        cxx, "-std=c++17", "-O2", "-shared", "-fPIC",
        *(f"-I{d}" for d in includes), *flags,
        str(root / SOURCE), "-o", str(root / library),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        return None, f"{' '.join(cmd)}\n{done.stderr.strip()}"
    return library, None


class CustomBuildHook(BuildHookInterface):
    """Builds the library before the wheel (regular or editable) is assembled."""

    def initialize(self, version: str, build_data: dict) -> None:  # noqa: D102
        root = Path(self.root)
        (root / FAILURE).unlink(missing_ok=True)
        library, why = build(root)
        if library is not None:
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
            if version != "editable":
                build_data["force_include"][str(root / library)] = str(library)
            return
        (root / FAILURE).write_text(why + "\n")
        print(f"purejaxppo: the C engine was not built: {why}", file=sys.stderr)
