"""What the CLI prints: the metrics table, file lists, the cross-check verdict."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from purejaxppo.envs.dmc.task import reference_owner

COLUMNS = (
    ("eval_return", "eval_ret"),
    ("actor_loss", "actor"),
    ("critic_loss", "critic"),
    ("entropy", "entropy"),
    ("approx_kl", "kl"),
    ("clip_fraction", "clipfrac"),
    ("explained_variance", "expl_var"),
)


def _fmt(x: float) -> str:
    return "      -" if not math.isfinite(x) else f"{x:7.1f}" if abs(x) >= 10 else f"{x:7.3f}"


def _nanmean0(x: np.ndarray) -> np.ndarray:
    """Mean over the seed axis, ignoring NaN; NaN where all are NaN (without a warning)."""
    count = np.isfinite(x).sum(axis=0)
    return np.where(
        count > 0, np.nansum(np.where(np.isfinite(x), x, 0), axis=0) / np.maximum(count, 1), np.nan
    )


def print_table(m: dict[str, np.ndarray], evaluated: bool) -> None:
    """One row per evaluation (or ~10 rows); means over seeds. Arrays are ``[seeds, updates]``.

    The training return of a row is the mean over all training episodes that ended since the
    previous row, weighted by their number (so rare time-limit endings are not missed).
    """
    mean = {k: _nanmean0(v) for k, v in m.items()}
    done = np.isfinite(mean["env_steps"])
    rows = np.flatnonzero(np.isfinite(mean["eval_return"])) if evaluated else np.array([], int)
    if rows.size == 0:
        n = int(done.sum())
        rows = np.unique(np.linspace(0, n - 1, min(n, 10)).astype(int)) if n else rows
    ret_sum = np.nan_to_num(m["episode_return"]) * np.nan_to_num(m["episodes"])
    starts = np.concatenate([[0], rows[:-1] + 1]).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        window = [
            ret_sum[:, a : b + 1].sum() / np.nan_to_num(m["episodes"][:, a : b + 1]).sum()
            for a, b in zip(starts, rows, strict=True)
        ]
    heads = ["steps", "train_ret", *(h for _, h in COLUMNS)]
    print("  " + " ".join(f"{h:>9}" for h in heads))
    for r, i in enumerate(rows):
        vals = [f"{int(mean['env_steps'][i]):>9}", f"{_fmt(window[r]):>9}"]
        vals += [f"{_fmt(mean[c][i]):>9}" for c, _ in COLUMNS]
        print("  " + " ".join(vals))


def print_paths(paths: list[Path]) -> None:
    """Lists written files."""
    if paths:
        print(f"  plots: {paths[0].parent}/ ({', '.join(p.stem for p in paths)})")


def print_crosscheck(report: dict) -> None:
    """Both mean returns per seed with their 95% intervals, and the verdict."""
    if report["verdict"] is None:
        print(f"  cross-check: {report['message']}")
        return
    ours = f"purejaxppo ({report['engine']})"
    twin = report.get("gymnasium", report["env"])
    owner = reference_owner(twin)
    print(f"  cross-check: {owner}'s {twin} vs {ours}, same policies:")
    for row in report["seeds"]:
        g, x = row["gymnasium"], row["ours"]
        print(f"    seed {row['seed']}: {ours} {_est(x)}   {owner} {_est(g)}\n      {row['why']}")
    print(f"  verdict: {report['verdict'].upper()}")


def _est(e: dict) -> str:
    from purejaxppo.runs.crosscheck import Estimate

    return str(Estimate(**e))
