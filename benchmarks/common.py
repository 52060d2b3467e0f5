"""What every benchmark shares: timing side by side, and results files with their provenance.

A result is a JSON file and a Markdown table beside it (and a plot where the script draws one),
under ``benchmarks/results/<platform>/``; its ``meta`` names the command that made it, the date,
the git commit, the device and the versions of the packages that decide the figures.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from purejaxppo.envs.engines import ENGINES  # noqa: F401 (the benchmarks' --physics choices)

RESULTS = Path(__file__).parent / "results"
PACKAGES = ("purejaxppo", "jax", "jaxlib", "mujoco", "mujoco-mjx", "brax", "gymnasium")


def results_dir() -> Path:
    """``benchmarks/results/<platform>/`` for JAX's default backend (cpu, gpu, tpu)."""
    import jax

    return RESULTS / jax.default_backend()


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=RESULTS.parent)
    return done.stdout.strip()


def _commit() -> str:
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return _git("rev-parse", "--short", "HEAD") + (" (with local changes)" if dirty else "")


COMMIT = _commit()
"""The checkout a benchmark started from (read when it starts: its code is what ran, whatever is
committed while it runs)."""


def meta() -> dict:
    """The command, date, commit, device and versions behind a result."""
    import jax

    versions = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "command": "uv run python "
        + shlex.join(["benchmarks/" + Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": COMMIT,
        "device": _device(jax.devices()[0]),
        "cpus": os.cpu_count(),
        "cpu": cpu_id(),
        "machine": platform.machine(),
        "versions": versions,
    }


def cpu_id() -> str:
    """The processor's family, model and widest vector instructions (Linux; else its name): two
    CPUs of one name may compile to other instructions, whose float sums differ in the last bits,
    and a contact task's training amplifies them, so a run there differs from one here."""
    try:
        info = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    get = {k.strip(): v.strip() for k, v in fields.items()}.get
    flags = set((get("flags") or get("Features") or "").split())  # x86, Arm
    vector = next((f for f in ("avx512f", "avx2", "avx", "sse4_2", "asimd") if f in flags), "")
    model = ""
    if get("model"):
        model = f"family {get('cpu family')} model {get('model')}"
    elif get("CPU part"):
        model = f"implementer {get('CPU implementer')} part {get('CPU part')}"
    parts = [model, vector]
    return ", ".join(p for p in parts if p) or (platform.processor() or platform.machine())


def _device(d) -> str:
    """ "cpu: <processor model>" or "<platform>: <device kind>"."""
    if d.platform != "cpu":
        return f"{d.platform}: {d.device_kind}"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return "cpu: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"cpu: {platform.processor() or platform.machine()}"


NOTES = "## Notes"
"""The heading of a results file's closing section written by hand (what a table showed, why a
preset was chosen): a rewrite of the file keeps it."""


def write_markdown(path: Path, markdown: str) -> None:
    """Writes ``markdown`` to ``path``, keeping the :data:`NOTES` section of the file there."""
    old = path.read_text() if path.is_file() else ""
    at = old.find(f"\n{NOTES}\n")
    notes = "\n" + old[at:].strip() + "\n" if at >= 0 else ""
    path.write_text(markdown.rstrip() + "\n" + notes)


def write(stem: Path, result: dict, markdown: str) -> None:
    """Writes ``stem.json`` (the result with its meta) and ``stem.md`` (title, command, table)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    result = {**result, "meta": {**result.get("meta", {}), **meta()}}
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["meta"]
    head = f"`{m['command']}`\n\n{m['device']}, {m['cpus']} CPUs; {m['date']}, {m['commit']}\n\n"
    write_markdown(stem.with_suffix(".md"), head + markdown)
    print(f"wrote {stem}.json and .md")


def best_seconds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The best wall time of each function, the functions run in turn ``repeats`` times.

    In turn, so that all see the same load on a shared machine; the best, so that none pays a
    first-call cost. Each function must wait for its own result (``jax.block_until_ready``).
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(t) for name, t in times.items()}


def compiled(fn, *args):
    """(the compiled ``fn`` for ``args``, compile seconds)."""
    t0 = time.perf_counter()
    c = fn.lower(*args).compile()
    return c, time.perf_counter() - t0


def run_seconds(fn, *args) -> float:
    """Wall seconds of one call, waited on."""
    t0 = time.perf_counter()
    _block(fn(*args))
    return time.perf_counter() - t0


def _block(x):
    import jax

    return jax.block_until_ready(x)


def raw_env_fn(env, num_envs: int, num_steps: int, num_updates: int = 1, uniform: bool = False):
    """A jitted program of the trainer's loop shape (updates x steps) on random actions.

    The training stack (clip, time limit, vmap, auto-reset) of ``num_envs`` envs; the actions are
    N(0, 1) (clipped by the stack), or uniform in the action box with ``uniform``.
    """
    import jax

    from purejaxppo.envs import wrap_for_training

    batched = wrap_for_training(env)
    lo, hi = env.action_low, env.action_high

    def run(key):
        state = batched.reset(jax.random.split(key, num_envs))
        shape = (num_envs, env.action_size)

        def step(state, k):
            if uniform:
                a = jax.random.uniform(k, shape, minval=lo, maxval=hi)
            else:
                a = jax.random.normal(k, shape)
            state = batched.step(state, a)
            return state, state.reward.sum()

        def rollout(state, k):
            state, rewards = jax.lax.scan(step, state, jax.random.split(k, num_steps))
            return state, rewards.sum()

        _, rewards = jax.lax.scan(rollout, state, jax.random.split(key, num_updates))
        return rewards.sum()

    return jax.jit(run)


def env_steps_per_s(env, batch: int, steps: int) -> tuple[float, float]:
    """(steps/s, compile seconds) of ``steps`` batched steps of the training stack, uniform
    random actions in the action box, timed on the second call."""
    import jax

    fn, compile_s = compiled(raw_env_fn(env, batch, steps, uniform=True), jax.random.PRNGKey(0))
    run_seconds(fn, jax.random.PRNGKey(0))  # first call
    return steps * batch / run_seconds(fn, jax.random.PRNGKey(0)), compile_s


def run_json(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Runs a command whose last output line is a JSON object; that object (exits on failure)."""
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if done.returncode != 0:
        sys.exit(f"{shlex.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
