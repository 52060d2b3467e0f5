"""A sweep's results table: one line per point, the best Gymnasium mean first.

Shared by ``purejaxppo sweep`` (``sweep.md`` in its folder) and ``benchmarks/sweep.py``; the
formatting, :func:`peak` and :func:`last_update` also by ``benchmarks/returns.py``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

HEALTH = ("entropy", "approx_kl", "clip_fraction", "learning_rate")
"""The update diagnostics a row keeps: updates that outgrew the clip range (approximate KL and
clip fraction far above the first updates') or a spread that ran away (entropy climbing) say a
run is failing, whatever its return at that moment; the learning rate the update ended with
shows where ``adaptive_lr`` took it (constant otherwise, or annealed)."""


def value_text(value: Any) -> str:
    """A grid value in the table: 64x64 for widths, %g for floats."""
    if isinstance(value, (tuple, list)):
        return "x".join(str(w) for w in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_return(x: float) -> str:
    """A return in a results table: one decimal below 100 in size (Reacher's -4.5), whole above."""
    return f"{x:.1f}" if abs(x) < 100 else f"{x:.0f}"


def format_rate(steps_per_s: float | None) -> str:
    """Steps/s in a results table; "-" where none was measured (a run scored in a later sitting)."""
    return "-" if steps_per_s is None else f"{steps_per_s:,.0f}"


def peak(steps: Sequence[float], curve: Sequence[float]) -> dict[str, float] | None:
    """The best of a run's evaluations and where it was; None if none is finite.

    Args:
        steps: ``(evaluations,)`` env steps of each evaluation.
        curve: ``(evaluations,)`` its return (mean over seeds), NaN where every seed diverged.
    """
    y = np.asarray(curve, dtype=float)
    if not np.isfinite(y).any():
        return None
    i = int(np.nanargmax(y))
    return {"return": float(y[i]), "steps": float(steps[i])}


def health_curve(metrics: Mapping[str, np.ndarray], at: np.ndarray) -> dict[str, list[float]]:
    """The mean over seeds of :data:`HEALTH` at the updates ``at`` (those evaluated).

    Where a run's updates outgrew the clip range, and when, is read from these beside its
    evaluation curve.

    Args:
        metrics: at least the :data:`HEALTH` fields, each ``(seeds, updates)``.
        at: ``(updates,)`` bool, the updates to keep.
    """
    return {k: np.mean(np.asarray(metrics[k])[:, at], axis=0).tolist() for k in HEALTH}


def last_update(metrics: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The mean over seeds of :data:`HEALTH` at the run's last update.

    Args:
        metrics: at least the :data:`HEALTH` fields, each ``(seeds, updates)``.
    """
    return {k: float(np.mean(np.asarray(metrics[k])[:, -1])) for k in HEALTH}


def peak_text(p: dict[str, float] | None) -> str:
    """A :func:`peak` in a table, e.g. "4551 at 1.3M"; "-" where none is known."""
    return "-" if p is None else f"{format_return(p['return'])} at {p['steps'] / 1e6:.3g}M"


def health_text(h: Mapping[str, float] | None) -> str:
    """A :func:`last_update` in a table: "entropy, KL, clip fraction, lr <rate>".

    "-" where none is known; the rate is left out of rows recorded without it.
    """
    if h is None:
        return "-"
    text = f"{h['entropy']:.3g}, {h['approx_kl']:.2g}, {h['clip_fraction']:.2f}"
    return text + (f", lr {h['learning_rate']:.2g}" if "learning_rate" in h else "")


def markdown(meta: dict, rows: list[dict]) -> str:
    """The table: one line per point, best Gymnasium mean first (a diverged point last)."""
    names = list(rows[0]["point"])
    programs = meta.get("programs", [])
    first, n = meta.get("first_seed", 0), meta["seeds"]
    which = f" ({first}-{first + n - 1})" if first else ""  # seeds from 0 unless said
    lines = [
        f"Sweep of {meta['env']} {meta['env_kwargs']}, {meta['steps']:,} steps, {n} seeds per "
        f"point{which}; {meta['runs']} runs in {max(len(programs), 1)} compiled program(s), "
        f"{format_rate(meta['steps_per_s'])} steps/s together (compile {meta['compile_s']:.0f} s). "
        "Score: the final deterministic policy in the task's reference (its Gymnasium twin), "
        f"{meta['episodes']} episodes per seed; mean over seeds [min, max]. Eval: the run's last "
        "evaluation in the program (mean over seeds). Training: the last training episodes' "
        "return (mean over seeds). Eval peak: the best of the program's evaluations (mean over "
        "seeds) and its steps. Last update: the policy's entropy, the approximate KL, the clip "
        "fraction and the learning rate of the last update (mean over seeds). Steps/s: the "
        "program of the point, all its runs together.",
        "",
        "| " + " | ".join(names) + " | Gymnasium return | eval | eval peak | training "
        "| last update | steps/s |",
        "|" + "---|" * (len(names) + 6),
    ]

    def rank(r: dict) -> float:
        return -np.nan_to_num(np.mean(r["gymnasium_per_seed"]), nan=-np.inf)

    for r in sorted(rows, key=rank):
        g = np.array(r["gymnasium_per_seed"])
        lines.append(
            "| " + " | ".join(value_text(r["point"][n]) for n in names) + " | "
            f"{format_return(g.mean())} [{format_return(g.min())}, {format_return(g.max())}] | "
            f"{format_return(np.mean(r['eval_per_seed']))} | {peak_text(r.get('eval_peak'))} | "
            f"{format_return(np.nanmean(r['last_train_return_per_seed']))} | "
            f"{health_text(r.get('last_update'))} | {format_rate(r.get('steps_per_s'))} |"
        )
    return "\n".join(lines) + "\n"


COURSE_HEADER = "     steps    eval [min, max]     update: entropy, KL, clip fraction, lr"
"""The column heads of :func:`course_line`."""


def course_line(steps: float, mean: str, spread: str, health: Mapping[str, float] | None) -> str:
    """One evaluation of a run's course, as the ``--curves`` of sweeps and returns tables print it.

    Steps in millions, the return's mean and spread as formatted, and the update there
    (:func:`health_text`); :data:`COURSE_HEADER` heads the columns.
    """
    return f"{steps / 1e6:9.3f}M {mean:>7} {spread:<14} {health_text(health)}"


def last_tenth(steps: ArrayLike, mean: ArrayLike, lowest: ArrayLike | None) -> str:
    """How a course ends: the range of its mean, and its lowest seed, over its last tenth.

    The evaluations at or past 90% of the last one's steps (from 9M on in a 10M run), where a run
    that has learned its task either holds its level or swings; the docs quote a run's late
    course by this line.

    Args:
        steps: ``(evaluations,)``, increasing.
        mean: ``(evaluations,)`` the return's mean over seeds there (NaN where every seed diverged).
        lowest: ``(evaluations,)`` the lowest seed's return there, or None where not recorded.
    """
    x = np.asarray(steps, dtype=float)
    start = 0.9 * x[-1]
    late = x >= start
    n = int(late.sum())
    m = np.asarray(mean, dtype=float)[late]
    m = m[np.isfinite(m)]
    if not m.size:
        return f"from {start / 1e6:.3f}M on: diverged"
    text = (
        f"from {start / 1e6:.3f}M on ({n} evaluation{'s' if n > 1 else ''}): mean "
        f"{format_return(m.min())} to {format_return(m.max())}"
    )
    if lowest is not None:
        low = np.asarray(lowest, dtype=float)[late]
        low = low[np.isfinite(low)]
        text += f", lowest seed {format_return(low.min())}" if low.size else ""
    return text


def curves(rows: list[dict], every: int = 1) -> str:
    """Each point's course, one line per evaluation: steps, return, spread, update.

    The return is the mean over seeds with its [min, max]; the update is the one there as
    :func:`health_text` gives it ("-" for rows recorded without it). Each point's heading gives
    its Gymnasium score per seed, and its last line how it ends (:func:`last_tenth`). The figures
    a sweep's course is quoted by (where a point peaked, where it fell, how its spread and KL
    went) and its seeds' scores come from here.

    Args:
        rows: the sweep's rows, each with ``curve`` (rows without one say so): ``steps``
            ``(evaluations,)``, ``eval_per_seed`` ``(seeds, evaluations)`` and, where recorded,
            ``health`` (each field ``(evaluations,)``).
        every: print every ``every``-th evaluation (the last one always).
    """
    if every < 1:
        raise ValueError(f"every must be at least 1, not {every}")
    out = []
    for r in rows:
        point = ", ".join(f"{k} {value_text(v)}" for k, v in r["point"].items())
        scores = ", ".join(format_return(g) for g in r["gymnasium_per_seed"])
        c = r.get("curve")
        if c is None or not c["steps"]:  # sweeps written before rows kept their course
            out.append(f"{point} (Gymnasium per seed {scores}): no course recorded")
            continue
        y = np.asarray(c["eval_per_seed"], dtype=float)  # (seeds, evaluations)
        out.append(f"{point} (Gymnasium per seed {scores}; peak {peak_text(r.get('eval_peak'))}):")
        out.append(COURSE_HEADER)
        health = c.get("health") or None
        n = len(c["steps"])
        for i in [*range(0, n - 1, every), n - 1]:
            col = y[:, i][np.isfinite(y[:, i])]  # a diverged seed's evaluation is NaN
            mean, spread = "nan", "(diverged)"
            if col.size:
                mean = format_return(col.mean())
                spread = f"[{format_return(col.min())}, {format_return(col.max())}]"
            there = None if health is None else {k: v[i] for k, v in health.items()}
            out.append(course_line(c["steps"][i], mean, spread, there))
        with warnings.catch_warnings():  # an evaluation where every seed diverged: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            out.append(last_tenth(c["steps"], np.nanmean(y, 0), np.nanmin(y, 0)))
    return "\n".join(out)
