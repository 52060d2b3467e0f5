"""The chunked loop a run and a sweep share: one compiled chunk of updates, called repeatedly.

Each call computes ``per_chunk`` updates; between calls the host does the chunk's work (metrics
to files, checkpoints, progress). Chunk n+1 is dispatched (JAX runs it asynchronously) before
chunk n's host work, so writing overlaps computing. A Ctrl-C finishes the host work of the chunk
already computed (a second Ctrl-C abandons it), so what is on disk is whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ended:
    """How :func:`run_chunks` ended."""

    status: str
    """'finished', 'interrupted' (Ctrl-C), or the host work's word that stopped the loop."""
    done: int
    """The update after the last chunk whose host work is done."""
    carry: Any
    """The state after the last chunk dispatched."""


def run_chunks(
    step: Callable[[Any, int], tuple],
    host_work: Callable[[int, tuple], str],
    carry: Any,
    start: int,
    stop: int,
    per_chunk: int,
    stop_after_chunks: int | None = None,
) -> Ended:
    """Runs chunks from update ``start`` to ``stop``, the host work of each behind the next one.

    Args:
        step: ``step(carry, first) -> out``: the chunk from update ``first`` (dispatched, not
            waited for); ``out[0]`` is the next chunk's carry.
        host_work: ``host_work(first, out) -> word``: ``"ok"`` goes on, any other word stops the
            loop with that status. Called again for a chunk whose work a Ctrl-C cut short, it
            must do only what was left.
        carry: the state the first chunk starts from.
        start: the first chunk's first update.
        stop: the update the last chunk ends at; ``stop - start`` is a multiple of ``per_chunk``.
        per_chunk: updates per chunk.
        stop_after_chunks: act as if Ctrl-C came after this many chunks (for tests).

    Returns:
        The status, the updates done and the last carry.
    """
    done, pending = start, None

    def finish(chunk: tuple[int, tuple]) -> str:  # its host work; done moves past it on "ok"
        nonlocal done
        word = host_work(*chunk)
        if word == "ok":
            done = chunk[0] + per_chunk
        return word

    try:
        for n, first in enumerate(range(start, stop, per_chunk)):
            if stop_after_chunks is not None and n >= stop_after_chunks:
                raise KeyboardInterrupt
            out = step(carry, first)
            carry = out[0]
            if pending is not None and (word := finish(pending)) != "ok":
                return Ended(word, done, carry)
            pending = (first, out)
        if pending is not None and (word := finish(pending)) != "ok":
            return Ended(word, done, carry)
    except KeyboardInterrupt:
        try:  # keep the chunk already dispatched (a second Ctrl-C abandons it)
            if pending is not None and pending[0] == done:
                finish(pending)
        except KeyboardInterrupt:
            pass
        return Ended("interrupted", done, carry)
    return Ended("finished", done, carry)
