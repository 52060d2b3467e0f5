"""A hyperparameter grid x seeds on one env in one program, scored in Gymnasium (a results file).

The benchmark side of ``purejaxppo sweep`` (``purejaxppo/runs/sweep.py``): the same sweep, its
table and JSON written under ``benchmarks/results/<platform>/`` with their provenance. This is how
the presets were chosen (``purejaxppo/presets.py`` cites the commands).

    uv run python benchmarks/sweep.py --env Hopper-v5 --steps 409600 --seeds 3 \\
        --grid entropy_coeff=0.01,0 log_std_init=-1,-0.5
    uv run python benchmarks/sweep.py --env Hopper-v5 --preset hopper-10m --set entropy_coeff=0 \\
        --steps 10000000 --grid clip_epsilon=0.1,0.2                 # the base pinned
    uv run python benchmarks/sweep.py --quick                            # tiny, for CI
    uv run python benchmarks/sweep.py --curves --out-stem ...            # a sweep's courses

Writes ``benchmarks/results/<platform>/sweep_<env>.{json,md}`` (``--out-stem`` to change).
The sweep trains in a folder under ``--state-dir`` (``runs/sweeps``), checkpointed as it goes:
the same command run again after a stop continues it there. ``--curves`` trains nothing: it
prints the written sweep's points evaluation by evaluation (return, spread over seeds, and the
updates' entropy, KL, clip fraction and learning rate there) and how each ends (over its last
tenth, the range of the mean and the lowest seed), the figures the docs quote from a sweep's
course.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import shlex
import sys
from pathlib import Path

import purejaxppo as pjp
from purejaxppo.config import ConfigError
from purejaxppo.presets import preset_config
from purejaxppo.runs import checkpoint, run_dir, sweep, sweep_state, sweep_table

sys.path.insert(0, str(Path(__file__).parent))
import common


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--steps", type=int, default=500_000, help="env steps per run")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0, help="the first seed (seeds seed..seed+seeds-1)")
    p.add_argument("--preset", default="defaults", help="the base the grid's values replace")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="fields of the base set (e.g. entropy_coeff=0.003): the base pinned at any commit",
    )
    p.add_argument("--grid", nargs="*", default=["entropy_coeff=0.01,0", "log_std_init=-1,-0.5"])
    p.add_argument("--episodes", type=int, default=10, help="Gymnasium episodes per seed")
    p.add_argument("--physics", default="auto", choices=common.ENGINES, help="v5 engine")
    p.add_argument("--quick", action="store_true", help="InvertedPendulum-v5, 8192 steps (CI)")
    p.add_argument("--out-stem", type=Path, default=None)
    p.add_argument(
        "--state-dir",
        type=Path,
        default=Path("runs/sweeps"),
        help="where the sweep trains (checkpoints); the same sweep run again continues there",
    )
    p.add_argument(
        "--curves",
        action="store_true",
        help="train nothing: print the written sweep's points per evaluation (with --out-stem)",
    )
    p.add_argument("--every", type=int, default=1, help="with --curves: every n-th evaluation")
    p.add_argument(
        "--command",
        action="store_true",
        help="train nothing: print the command that reruns the written sweep (with --out-stem)\n"
        "from today's presets: its own, with --set for each base value they have since changed",
    )
    a = p.parse_args()
    if a.curves or a.command:
        written = (a.out_stem or common.results_dir() / "sweep").with_suffix(".json")
        if not written.is_file():
            p.error(f"--curves and --command read a written sweep; there is none at {written}")
        if a.command:
            try:
                print(rerun_command(json.loads(written.read_text())["meta"]))
            except (ConfigError, ValueError) as e:
                raise SystemExit(f"error: {written}: {e}") from None
            return
        if a.every < 1:
            p.error(f"--every must be at least 1, not {a.every}")
        print(sweep_table.curves(json.loads(written.read_text())["rows"], a.every))
        return
    sys.stdout.reconfigure(line_buffering=True)  # progress lines as they come, also into a file
    if a.quick:
        a.env, a.steps, a.seeds, a.episodes = "InvertedPendulum-v5", 8192, 2, 2
    try:
        base = sweep.parse_settings(a.set, preset_config(a.preset, a.env, a.steps))
        base = base.replace(total_timesteps=a.steps).validate()
        grid = sweep.parse_grid(a.grid, base)
        for name in (item.partition("=")[0] for item in a.set):
            if name in grid or name == "total_timesteps":
                where = "--grid" if name in grid else "--steps"
                raise ConfigError(f"--set {name}: {where} sets it; give it there only")
        env = pjp.envs.make(a.env, physics=a.physics)  # an unknown id fails here, early
    except (ConfigError, KeyError, pjp.envs.EnvError) as e:
        raise SystemExit(f"error: {e}") from None
    pjp.enable_compilation_cache()
    env_kwargs = {"physics": env.unwrapped.physics}
    name = a.env.lower().replace("-", "_")
    stem = a.out_stem or common.results_dir() / f"sweep_{name}"
    spec = sweep_state.SweepSpec(a.env, env_kwargs, base, grid, a.seeds, a.episodes, a.seed)
    folder = sweep_state.find(a.state_dir, spec.to_json())
    if folder is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = a.state_dir / f"{stem.name}__{stamp}"
    else:
        print(f"continuing the sweep in {folder}")
    try:
        result = sweep.run_sweep(env, spec, folder)
    except KeyboardInterrupt:
        raise SystemExit(f"\ninterrupted; the same command continues it ({folder})") from None
    except checkpoint.DiskFullError as e:
        raise SystemExit(
            f"error: the disk is full ({e}); free some space, then the same command "
            f"continues the sweep ({folder})"
        ) from None
    except (ConfigError, run_dir.RunDirError) as e:  # a bad value; another process holds it
        raise SystemExit(f"error: {e}") from None
    md = sweep.markdown(result["meta"], result["rows"])
    print(md)
    common.write(stem, result, md)


def rerun_command(meta: dict) -> str:
    """The command that trains a written sweep's base and grid again from today's presets.

    A sweep records its command and its base (``meta["config"]``, every field before the grid's);
    a preset changed since gives another base, so each base field, outside the grid and
    ``--steps``, whose value the named preset no longer holds is added as ``--set name=value``
    (any ``--set`` of the command is replaced). A field the sweep did not record (added to
    :class:`PPOConfig` later) is left to the preset.

    Raises:
        ValueError: for a sweep written before sweeps recorded their base.
        ConfigError: for a preset that no longer exists.
    """
    if "config" not in meta:
        raise ValueError("written before sweeps recorded their base: its command is all there is")
    tokens = shlex.split(meta["command"])
    kept: list[str] = []
    skipping = False  # inside the command's own --set items
    for token in tokens:
        skipping = token == "--set" or (skipping and not token.startswith("--"))
        if not skipping:
            kept.append(token)

    def flag(name: str) -> str | None:
        return tokens[tokens.index(name) + 1] if name in tokens else None

    steps = flag("--steps")
    now = preset_config(
        flag("--preset") or "defaults", flag("--env"), int(steps) if steps else None
    )
    recorded, grid = meta["config"], meta.get("grid", {})
    settings = []
    for field in dataclasses.fields(now):
        name = field.name
        if name in grid or name == "total_timesteps" or name not in recorded:
            continue
        was, today = sweep.setting_text(recorded[name]), sweep.setting_text(getattr(now, name))
        if was != today:
            settings.append(f"{name}={was}")
    return shlex.join(kept + (["--set", *settings] if settings else []))


if __name__ == "__main__":
    main()
