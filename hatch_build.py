"""Build hook: compiles the C engine's native part (purejaxppo/envs/c/engine.cc).

It needs a C++17 compiler and the headers of mujoco (the C API) and jaxlib (XLA's FFI), which
the build environment holds at the versions ``build-system.requires`` pins: the mujoco the
package depends on, and the oldest jaxlib it supports (an FFI handler compiled against an older
FFI API runs under every newer jaxlib, not the other way round). So one library serves every
supported jaxlib, and the wheel is ``py3-none-<platform>``: the library uses no Python ABI.

* A wheel (``uv build``, ``pip install .``, ``pip wheel .``): the engine is built into it with
  ``CXX`` (a command, arguments allowed; ``scripts/build_wheel.sh`` sets zig's, for a manylinux
  wheel) or the first C++ compiler on PATH, or the build fails and says why and what to install.
  ``PUREJAXPPO_NO_C_ENGINE=1`` builds a pure-Python wheel instead, which says so when the engine
  is asked for.
* An editable install (``uv sync``): the library is built beside its source; without a compiler
  the install still succeeds, and the reason is kept beside the source, where the first run
  reports it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("purejaxppo/envs/c/engine.cc")
LIBRARY = SOURCE.with_name("_engine.so")  # purejaxppo.envs.c.native loads it from here
FAILURE = SOURCE.with_name("_engine.build-error.txt")  # and reports this when it is missing
SKIP = "PUREJAXPPO_NO_C_ENGINE"  # =1: build without the C engine (a pure-Python wheel)
NEEDS = (
    "the C engine needs a C++17 compiler (g++ or clang++ on PATH, or CXX); "
    f"install one, or set {SKIP}=1 to build without it (physics='auto' then runs MJX)"
)


def _compiler() -> tuple[list[str] | None, str]:
    """``CXX`` (a command, arguments allowed), else the first C++ compiler on PATH; or why not."""
    given = shlex.split(os.environ.get("CXX", ""))
    if given:
        found = shutil.which(given[0]) is not None
        return (given, "") if found else (None, f"CXX names {given[0]!r}, which is not found")
    for name in ("c++", "g++", "clang++"):
        if shutil.which(name):
            return [name], ""
    return None, "no C++ compiler was found"


def _package_dir(name: str) -> Path | None:
    """Where package ``name`` of the build environment lies, without importing it."""
    spec = importlib.util.find_spec(name)
    return Path(spec.origin).parent if spec is not None and spec.origin else None


def build(root: Path, out: Path) -> str | None:
    """Compiles the library.

    Args:
        root: the project's root (``SOURCE`` is relative to it).
        out: where the library goes: replaced whole, never rewritten in place, so a process that
            has the old one open keeps its copy.

    Returns:
        None when it was built, else why not (the compiler's command and errors, if it ran).
    """
    cxx, why = _compiler()
    if cxx is None:
        return why
    dirs = {name: _package_dir(name) for name in ("jaxlib", "mujoco")}
    missing = [name for name, d in dirs.items() if d is None or not (d / "include").is_dir()]
    if missing:
        return f"the headers of {' and '.join(missing)} are not in the build environment"
    jaxlib_version = importlib.metadata.version("jaxlib")
    # libmujoco's symbols come from the process at load time
    flags = ["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else ["-s"]
    fd, tmp = tempfile.mkstemp(prefix="_engine-", suffix=".so", dir=out.parent)  # .gitignore'd
    os.close(fd)
    cmd = [
        *cxx, "-std=c++17", "-O2", "-shared", "-fPIC", "-w",
        *(f"-I{d / 'include'}" for d in dirs.values() if d is not None),
        f'-DPJP_JAXLIB_VERSION="{jaxlib_version}"', *flags,
        str(root / SOURCE), "-o", tmp,
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            return f"{shlex.join(cmd)}\n{done.stderr.strip()}"
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return None


def platform_tag() -> str:
    """This machine's wheel platform tag, e.g. ``linux_x86_64`` (auditwheel makes it manylinux)."""
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


class CustomBuildHook(BuildHookInterface):
    """Builds the library before the wheel (regular or editable) is assembled."""

    def initialize(self, version: str, build_data: dict) -> None:
        """Builds the library into the source tree (editable) or into the wheel (see above)."""
        root = Path(self.root)
        if version == "editable":
            self._editable(root)
            return
        self._staging = Path(tempfile.mkdtemp(prefix="purejaxppo-build-"))
        if os.environ.get(SKIP) == "1":
            staged = self._staging / FAILURE.name
            staged.write_text(
                f"this purejaxppo was built without it ({SKIP}=1): install a purejaxppo wheel "
                f"that carries it, or build again without {SKIP}\n"
            )
            build_data["force_include"][str(staged)] = str(FAILURE)
            return
        staged = self._staging / LIBRARY.name
        why = build(root, staged)
        if why is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            if _compiler()[0] is None:
                raise RuntimeError(f"purejaxppo: {NEEDS} ({why})")
            raise RuntimeError(
                f"purejaxppo: compiling the C engine failed:\n{why}\n"
                f"Set {SKIP}=1 to build without it (physics='auto' then runs MJX)."
            )
        build_data["pure_python"] = False
        build_data["tag"] = f"py3-none-{platform_tag()}"
        build_data["force_include"][str(staged)] = str(LIBRARY)

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        """Removes the staging folder of a wheel's library."""
        staging = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def _editable(root: Path) -> None:
        """Builds beside the source; a failure is kept there for the first run to report."""
        for stale in [root / FAILURE, *(root / SOURCE).parent.glob("_engine-*.so")]:
            stale.unlink(missing_ok=True)  # and libraries named by the jaxlib they were built for
        why = build(root, root / LIBRARY)
        if why is None:
            return
        (root / LIBRARY).unlink(missing_ok=True)  # built from another source
        rebuild = "`uv sync --reinstall-package purejaxppo`"
        if _compiler()[0] is None:
            text = "no C++ compiler was found when purejaxppo was installed: install g++ or "
            text += f"clang++ (or set CXX), then run {rebuild}"
        else:
            text = f"compiling it failed when purejaxppo was installed:\n{why}\nthen: {rebuild}"
        (root / FAILURE).write_text(text + "\n")
        print(f"purejaxppo: the C engine was not built: {why}", file=sys.stderr)
