"""A live progress bar for the compiled run, fed from inside the scan.

``make_train(cfg, env, progress=bar.on_update)`` puts a ``jax.debug.callback`` at the end of
each update; under ``vmap`` JAX calls it once per seed (once in all, if the values do not differ
between seeds). The bar's position comes from the env steps each call carries, so it is right
either way. The callback carries three scalars to the host per update and seed, which
costs nothing measurable beside an update of thousands of environment steps.
"""

from __future__ import annotations

import collections
import math
import shutil
import sys
import threading

import numpy as np
from tqdm.auto import tqdm


class ProgressBar:
    """steps, steps/s, recent training and evaluation return, time left (tqdm)."""

    def __init__(self, total_steps: int, num_seeds: int, initial: int = 0):
        """A bar of ``total_steps``.

        Args:
            total_steps: env steps of the whole run, summed over seeds.
            num_seeds: seeds reporting (the recent return is averaged over the last of each).
            initial: steps already done (a resumed run).
        """
        self.num_seeds = num_seeds
        self.done = initial
        """Env steps done, all seeds (also counted when the bar is not shown)."""
        self._returns: collections.deque[float] = collections.deque(maxlen=4 * num_seeds)
        self._eval: collections.deque[float] = collections.deque(maxlen=num_seeds)
        self._lock = threading.Lock()
        self.bar = tqdm(
            total=total_steps,
            initial=initial,
            unit="step",
            unit_scale=True,
            # a pty may report a 0 x 0 size, which hides tqdm's bar; shutil falls back to 80 x 24
            ncols=shutil.get_terminal_size().columns,
            nrows=shutil.get_terminal_size().lines,
            file=sys.stdout,
            disable=None,  # off when stdout is not a terminal (logs, CI)
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"
            "{postfix}",
        )

    def on_update(self, env_steps: np.ndarray, episode_return: np.ndarray, eval_return) -> None:
        """The host callback: one update of one seed is done."""
        with self._lock:
            r, e = float(episode_return), float(eval_return)
            if math.isfinite(r):
                self._returns.append(r)
            if math.isfinite(e):
                self._eval.append(e)
            post = {}
            if self._returns:
                post["return"] = f"{np.mean(self._returns):.1f}"
            if self._eval:
                post["eval"] = f"{np.mean(self._eval):.1f}"
            self.bar.set_postfix(post, refresh=False)
            done = int(env_steps) * self.num_seeds  # all seeds step in lockstep
            if done > self.done:
                self.bar.update(done - self.done)
                self.done = done

    def close(self) -> None:
        """Ends the bar (leaves it on screen)."""
        self.bar.close()
