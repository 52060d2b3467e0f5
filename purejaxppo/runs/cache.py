"""JAX's persistent compilation cache, so that a second start of the same program is fast."""

from __future__ import annotations

import os
from pathlib import Path

import jax

DEFAULT_DIR = Path.home() / ".cache" / "purejaxppo" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Turns on the persistent cache for programs that take over a second to compile.

    Args:
        path: cache folder; default ``$PUREJAXPPO_CACHE_DIR`` or ``~/.cache/purejaxppo/jax``.

    Returns:
        The folder used.
    """
    chosen = path if path is not None else os.environ.get("PUREJAXPPO_CACHE_DIR", DEFAULT_DIR)
    folder = Path(chosen).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
