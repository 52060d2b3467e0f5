"""Weights & Biases logging of a run, beside its metrics.csv and TensorBoard logs (optional).

``purejaxppo train --wandb`` logs every update's metrics of every seed (``seed_<k>/<metric>``,
stepped by env steps) to one W&B run named after the run directory, whose id is kept in the
directory, so that ``--resume`` continues the same W&B run. Needs the ``wandb`` extra
(``uv sync --extra wandb``); ``WANDB_MODE=offline`` logs to ``<run_dir>/wandb/`` with no account.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np

from purejaxppo.config import ConfigError
from purejaxppo.train import TrainMetrics

ID_FILE = "wandb_id.txt"


class WandbLogger:
    """One W&B run for one run directory; call it with each chunk's metrics, then ``finish``.

    Args:
        run_dir: the run directory (its run.json becomes the W&B config).
        project: the W&B project.

    Raises:
        ConfigError: wandb is not installed (before anything is trained).
    """

    def __init__(self, run_dir: Path, project: str = "purejaxppo"):
        try:
            import wandb
        except ImportError:
            raise ConfigError(
                "--wandb needs the wandb package: uv sync --extra wandb (or pip install wandb)"
            ) from None
        run_dir = Path(run_dir)
        id_file = run_dir / ID_FILE
        run_id = id_file.read_text().strip() if id_file.is_file() else uuid.uuid4().hex[:12]
        id_file.write_text(run_id + "\n")
        config = json.loads((run_dir / "run.json").read_text())
        self._run = wandb.init(
            project=project,
            name=run_dir.name,
            id=run_id,
            resume="allow",
            dir=str(run_dir),
            config=config,
        )

    def __call__(self, first_update: int, metrics: TrainMetrics) -> None:
        """Logs a chunk: ``metrics`` fields are ``[seeds, updates]`` arrays on the host."""
        arrays = {k: np.asarray(v, np.float64) for k, v in metrics._asdict().items()}
        steps = arrays.pop("env_steps")
        for j in range(steps.shape[1]):
            row = {
                f"seed_{s}/{k}": float(a[s, j])
                for k, a in arrays.items()
                for s in range(steps.shape[0])
                if np.isfinite(a[s, j])
            }
            self._run.log({"update": first_update + j, **row}, step=int(steps[0, j]))

    def finish(self) -> None:
        """Closes the W&B run (uploads, or leaves the offline files)."""
        self._run.finish()
