"""The C engine's native library: loading it, checking it, registering its FFI targets with JAX.

The library (``_engine.so``, compiled from ``engine.cc`` by ``hatch_build.py`` when the package
is built) calls MuJoCo's C API without linking to it: the symbols come from the ``libmujoco``
that the mujoco package loaded, made global here before the library is opened. It must have been
compiled against the running MuJoCo's headers, and against XLA FFI headers no newer than the
running jaxlib's (its handlers run under every later jaxlib); both are checked on loading.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
from pathlib import Path

import jax
import mujoco

from purejaxppo.envs.base import EnvError

_HERE = Path(__file__).parent
LIBRARY = _HERE / "_engine.so"
BUILD_ERROR = _HERE / "_engine.build-error.txt"
STEP_TARGET = "purejaxppo_c_step"
RESET_TARGET = "purejaxppo_c_reset"
SETTLE_TARGET = "purejaxppo_c_settle"
REBUILD = (
    "rebuild it: `uv sync --reinstall-package purejaxppo` in a clone of the repository, "
    "`pip install --force-reinstall --no-deps .` in a source tree, or reinstall the wheel"
)


def _version(text: str) -> tuple[int, ...]:
    """The release numbers a version starts with: ``"0.12.0.1"`` -> ``(0, 12, 0, 1)``."""
    match = re.match(r"[0-9]+(?:\.[0-9]+)*", text)
    return tuple(int(p) for p in match[0].split(".")) if match else ()


class CEngineUnavailableError(EnvError):
    """The C engine cannot run here; the message says why and what to do."""


def default_threads() -> int:
    """The CPUs this process may run on (its affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def why_unavailable() -> str | None:
    """None when the C engine can run in this process, else the reason (and the remedy)."""
    try:
        library()
    except CEngineUnavailableError as e:
        return str(e)
    return None


@functools.cache
def library() -> ctypes.CDLL:
    """The loaded native library, its FFI targets registered (once per process).

    Raises:
        CEngineUnavailableError: not built, built for another MuJoCo, or not loadable.
    """
    path = LIBRARY
    if not path.is_file():
        if BUILD_ERROR.is_file():
            reason = BUILD_ERROR.read_text().strip()
        else:
            reason = (
                "purejaxppo was not installed by its build (imported from a source tree?): "
                "`uv sync` there builds it; a purejaxppo wheel carries it"
            )
        raise CEngineUnavailableError(
            f"the C engine's native library is missing: {reason}\nphysics='mjx' runs without it."
        )
    libmujoco = sorted(Path(mujoco.__file__).parent.glob("libmujoco.so*")) or sorted(
        Path(mujoco.__file__).parent.glob("libmujoco*.dylib")
    )
    if not libmujoco:
        raise CEngineUnavailableError(f"the mujoco package at {mujoco.__file__} has no libmujoco")
    ctypes.CDLL(str(libmujoco[0]), mode=ctypes.RTLD_GLOBAL)
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise CEngineUnavailableError(f"{path} does not load ({e}); {REBUILD}") from e
    built, running = lib.pjp_mujoco_version(), mujoco.mj_version()
    if built != running:
        raise CEngineUnavailableError(
            f"the C engine was built against MuJoCo {_mujoco_version(built)} but MuJoCo "
            f"{_mujoco_version(running)} is installed: install mujoco=={_mujoco_version(built)} "
            "(the version purejaxppo pins)"
        )
    import jaxlib.version

    headers = built_with(lib)["jaxlib"]
    if _version(jaxlib.version.__version__) < _version(headers):
        raise CEngineUnavailableError(
            f"the C engine was built against the XLA FFI of jaxlib {headers}, newer than the "
            f"installed jaxlib {jaxlib.version.__version__}: install jax and jaxlib >= {headers}"
        )
    lib.pjp_register.restype = ctypes.c_int
    lib.pjp_register.argtypes = [
        ctypes.c_int64,  # key
        ctypes.c_void_p,  # const mjModel*
        ctypes.c_int,  # frame_skip
        ctypes.c_int,  # stage
        ctypes.c_int,  # nthread
        ctypes.c_char_p,  # fields, comma-separated
        ctypes.c_int,  # contact capacity
        ctypes.POINTER(ctypes.c_int),  # sizes (out)
        ctypes.POINTER(ctypes.c_int),  # kinds (out)
        ctypes.c_char_p,  # error (out)
        ctypes.c_int,  # error size
    ]
    jax.ffi.register_ffi_target(STEP_TARGET, jax.ffi.pycapsule(lib.PjpCStep), platform="cpu")
    jax.ffi.register_ffi_target(RESET_TARGET, jax.ffi.pycapsule(lib.PjpCReset), platform="cpu")
    jax.ffi.register_ffi_target(SETTLE_TARGET, jax.ffi.pycapsule(lib.PjpCSettle), platform="cpu")
    return lib


def _mujoco_version(number: int) -> str:
    """MuJoCo's version number (``mjVERSION_HEADER``, ``mj_version()``: 4000001) as ``4.0.1``."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


def built_with(lib: ctypes.CDLL | None = None) -> dict[str, str]:
    """What the C engine's library was compiled against.

    Args:
        lib: the loaded library (None: :func:`library`, which loads and checks it).

    Returns:
        ``mujoco`` (``"4.0.1"``), ``jaxlib`` (whose XLA FFI headers it used) and ``ffi_api``
        (their FFI API version, ``"0.3"``).

    Raises:
        CEngineUnavailableError: the library is not here or does not load.
    """
    lib = lib or library()
    lib.pjp_jaxlib_version.restype = ctypes.c_char_p
    api, mj = lib.pjp_ffi_api_version(), lib.pjp_mujoco_version()
    return {
        "mujoco": _mujoco_version(mj),
        "jaxlib": lib.pjp_jaxlib_version().decode(),
        "ffi_api": f"{api // 1000}.{api % 1000}",
    }


def register(
    key: int,
    model: mujoco.MjModel,
    frame_skip: int,
    stage: int,
    threads: int,
    fields: tuple[str, ...],
    contacts: int,
) -> list[tuple[int, bool]]:
    """Registers an engine (a copy of ``model``) under ``key``; returns each field's (size, int).

    Args:
        key: a signed 64-bit content hash of all the other arguments.
        model: the task's model (copied: later changes to it are not seen).
        frame_skip: ``mj_step`` calls per env step.
        stage: what runs after them (the index of the stage in ``data.STAGES``).
        threads: threads of each batch, the caller's included.
        fields: mjData fields written out after every call (``contact.<name>`` for contacts).
        contacts: contacts per env the ``contact.<name>`` fields hold.
    """
    lib = library()
    n = max(1, len(fields))
    sizes, kinds = (ctypes.c_int * n)(), (ctypes.c_int * n)()
    error = ctypes.create_string_buffer(512)
    status = lib.pjp_register(
        key,
        model._address,
        frame_skip,
        stage,
        threads,
        ",".join(fields).encode(),
        contacts,
        sizes,
        kinds,
        error,
        len(error),
    )
    if status:
        raise EnvError(f"C engine: {error.value.decode()}")
    return [(int(s), bool(k)) for s, k in zip(sizes, kinds, strict=True)][: len(fields)]
