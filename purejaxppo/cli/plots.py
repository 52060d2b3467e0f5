"""The six figures of a run, from its metrics.csv, as PNG files in ``<run_dir>/plots/``.

learning_curve (evaluation and training return: mean over seeds, band from min to max),
losses (actor and critic), approx_kl (with the target KL line), entropy, clip_fraction,
explained_variance. Each curve is the mean over seeds with a min-max band.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import numpy as np

from purejaxppo.runs.run_dir import read_metrics, read_spec

FIGURES = (
    "learning_curve",
    "losses",
    "approx_kl",
    "entropy",
    "clip_fraction",
    "explained_variance",
)


def _band(ax, x: np.ndarray, y: np.ndarray, label: str, color: str | None = None) -> None:
    """Mean over seeds (rows) and the min-max band, skipping updates where all are NaN."""
    ok = np.isfinite(y).any(axis=0)
    if not ok.any():
        return
    x, y = x[ok], y[:, ok]
    with np.errstate(all="ignore"):
        mean, lo, hi = np.nanmean(y, 0), np.nanmin(y, 0), np.nanmax(y, 0)
    (line,) = ax.plot(x, mean, label=label, color=color)
    if y.shape[0] > 1:
        ax.fill_between(x, lo, hi, alpha=0.2, color=line.get_color())


def plot_run(run_dir: Path) -> list[Path]:
    """Writes the six PNGs; returns their paths."""
    run_dir = Path(run_dir)
    spec, m = read_spec(run_dir), read_metrics(run_dir)
    x = np.nanmax(m["env_steps"], axis=0)
    seeds = m["env_steps"].shape[0]
    title = f"{spec.env} ({seeds} seed{'s' if seeds > 1 else ''})"
    out_dir = run_dir / "plots"
    out_dir.mkdir(exist_ok=True)
    paths = []

    def figure(name: str, ylabel: str, curves: list[tuple[str, str]], extra=None) -> None:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        for key, label in curves:
            _band(ax, x, m[key], label)
        if extra:
            extra(ax)
        ax.set_xlabel("environment steps (per seed)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if len(curves) > 1 or extra:
            ax.legend()
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)

    figure(
        "learning_curve",
        "episode return",
        [("eval_return", "evaluation (deterministic)"), ("episode_return", "training episodes")],
    )
    figure(
        "losses", "loss", [("actor_loss", "actor (clipped surrogate)"), ("critic_loss", "critic")]
    )
    target = spec.config.target_kl
    on = "" if spec.config.use_target_kl else " (use_target_kl off)"
    figure(
        "approx_kl",
        "approx KL",
        [("approx_kl", "approx KL")],
        lambda ax: ax.axhline(target, ls="--", color="k", label=f"target_kl = {target:g}{on}"),
    )
    figure("entropy", "policy entropy", [("entropy", "entropy")])
    figure("clip_fraction", "clip fraction", [("clip_fraction", "clip fraction")])
    figure(
        "explained_variance", "explained variance", [("explained_variance", "explained variance")]
    )
    return paths
