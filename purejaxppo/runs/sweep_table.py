"""A sweep's results table: one line per point, the best Gymnasium mean first.

Shared by ``purejaxppo sweep`` (``sweep.md`` in its folder) and ``benchmarks/sweep.py``;
:func:`format_return` also by ``benchmarks/returns.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


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


def markdown(meta: dict, rows: list[dict]) -> str:
    """The table: one line per point, best Gymnasium mean first (a diverged point last)."""
    names = list(rows[0]["point"])
    programs = meta.get("programs", [])
    lines = [
        f"Sweep of {meta['env']} {meta['env_kwargs']}, {meta['steps']:,} steps, {meta['seeds']} "
        f"seeds per point; {meta['runs']} runs in {max(len(programs), 1)} compiled program(s), "
        f"{format_rate(meta['steps_per_s'])} steps/s together (compile {meta['compile_s']:.0f} s). "
        "Score: the final deterministic policy in Gymnasium's own task, "
        f"{meta['episodes']} episodes per seed; mean over seeds [min, max]. Eval: the run's last "
        "evaluation in the program (mean over seeds). Training: the last training episodes' "
        "return (mean over seeds). Steps/s: the program of the point, all its runs together.",
        "",
        "| " + " | ".join(names) + " | Gymnasium return | eval | training | steps/s |",
        "|" + "---|" * (len(names) + 4),
    ]

    def rank(r: dict) -> float:
        return -np.nan_to_num(np.mean(r["gymnasium_per_seed"]), nan=-np.inf)

    for r in sorted(rows, key=rank):
        g = np.array(r["gymnasium_per_seed"])
        lines.append(
            "| " + " | ".join(value_text(r["point"][n]) for n in names) + " | "
            f"{format_return(g.mean())} [{format_return(g.min())}, {format_return(g.max())}] | "
            f"{format_return(np.mean(r['eval_per_seed']))} | "
            f"{format_return(np.nanmean(r['last_train_return_per_seed']))} | "
            f"{format_rate(r.get('steps_per_s'))} |"
        )
    return "\n".join(lines) + "\n"
