"""The package as pip installs it: the pins that make one wheel serve every supported jaxlib,
the built wheel's contents and metadata, and that wheel in a fresh virtual environment (plain
pip, no compiler on PATH) training on the C engine, cross-checking and resuming.

The ``wheel`` layer needs ``bash scripts/build_wheel.sh`` first (CI runs it) and the network
(pip installs the dependencies, at the lock's versions); ``uv run pytest -m wheel`` runs it.
"""

import json
import os
import re
import subprocess
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.helpers import PYPROJECT, dependencies

ROOT = Path(__file__).resolve().parents[1]
ONE_VENV = pytest.mark.xdist_group("wheel")  # the tests of one installed venv, on one worker


def _pins(requirements: list[str], name: str) -> list[str]:
    """The versions ``name==V`` requirements pin (one per environment marker)."""
    reqs = [Requirement(r) for r in requirements]
    return [str(r.specifier)[2:] for r in reqs if r.name == name and str(r.specifier)[:2] == "=="]


@pytest.mark.unit
def test_the_engine_is_built_against_the_runtime_mujoco_and_the_oldest_jaxlib():
    build = PYPROJECT["build-system"]["requires"]
    deps = dependencies()
    lower = [s.version for s in deps["jax"].specifier if s.operator == ">="]
    assert lower and any(s.operator.startswith("<") for s in deps["jax"].specifier)
    # handlers compiled against the oldest jaxlib's FFI run under newer ones
    assert min(_pins(build, "jaxlib"), key=Version) == lower[0]
    assert _pins(build, "mujoco-core") == _pins([str(deps["mujoco"])], "mujoco")  # its C ABI


def _wheel() -> Path:
    wheels = sorted((ROOT / "dist").glob("purejaxppo-*.whl"))
    if len(wheels) != 1:
        pytest.fail(f"expected one wheel in dist/ (bash scripts/build_wheel.sh): {wheels}")
    return wheels[0]


@pytest.mark.wheel
def test_the_wheel_holds_this_source_and_the_engine_and_pins_mujoco():
    wheel = _wheel()
    assert re.search(r"-py3-none-[\w.]*manylinux_2_\d+_x86_64[.\w]*\.whl$", wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if not n.endswith("/")]
        files = {n: z.read(n) for n in names if n.startswith("purejaxppo/")}
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    source = {
        str(p.relative_to(ROOT)): p.read_bytes()
        for p in (ROOT / "purejaxppo").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert set(files) == set(source) | {"purejaxppo/envs/c/_engine.so"}  # nothing stray or lost
    stale = [n for n, data in source.items() if files[n] != data]
    assert not stale, f"the wheel was built from another source (rebuild it): {stale[:5]}"
    requires = {str(Requirement(r)) for r in re.findall(r"^Requires-Dist: (.+)$", metadata, re.M)}
    wanted = {str(Requirement(r)) for r in PYPROJECT["project"]["dependencies"]}
    assert wanted == {r for r in requires if "extra ==" not in r}  # mujoco==, jax's bounds
    extras = set(re.findall(r"^Provides-Extra: (\S+)", metadata, flags=re.M))
    assert set(PYPROJECT["project"]["optional-dependencies"]) == extras


def _fresh_venv(path: Path) -> tuple[Path, dict[str, str]]:
    """A new virtual environment with pip; the environment of a shell whose PATH has only it."""
    venv.EnvBuilder(with_pip=True).create(path)
    env = {k: v for k, v in os.environ.items() if k not in ("CXX", "CC", "VIRTUAL_ENV")}
    env["PATH"] = str(path / "bin")  # no compiler, no uv
    return path / "bin", env


def _run(args: list, env: dict, cwd: Path) -> str:
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel installed with plain pip in a fresh venv, the lock's versions as constraints."""
    tmp = tmp_path_factory.mktemp("wheel")
    constraints = tmp / "constraints.txt"
    subprocess.run(
        ["uv", "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-dev",
         "-o", constraints],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    bin_dir, env = _fresh_venv(tmp / "venv")
    _run([bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          _wheel(), "-c", constraints], env, tmp)  # fmt: skip
    return bin_dir, env, tmp, constraints


TINY = ["--total-timesteps", "2048", "--num-envs", "8", "--batch-size", "256", "--n-epochs", "1",
        "--eval-every", "4", "--eval-episodes", "1", "--no-progress"]  # fmt: skip


@pytest.mark.wheel
@ONE_VENV
def test_the_installed_wheel_trains_on_the_c_engine_cross_checks_and_resumes(installed):
    bin_dir, env, tmp, _ = installed
    version = _run([bin_dir / "purejaxppo", "--version"], env, tmp)
    assert "C MuJoCo (physics='c'): yes" in version and "runs C MuJoCo here" in version
    assert "C MuJoCo (physics='c'): yes" in _run([bin_dir / "purejaxppo", "envs"], env, tmp)
    train = [bin_dir / "purejaxppo", "train", "--env", "HalfCheetah-v5", "--physics", "c",
             "--runs-dir", tmp / "runs", "--crosscheck-episodes", "1", *TINY]  # fmt: skip
    out = _run(train, env, tmp)
    assert "MJX" not in out  # no fall-back to MJX, no word of a missing engine
    (run,) = (tmp / "runs").iterdir()
    assert json.loads((run / "crosscheck.json").read_text())
    evaluated = _run([bin_dir / "purejaxppo", "eval", run, "--backend", "gymnasium",
                      "--episodes", "1"], env, tmp)  # fmt: skip
    assert "Gymnasium" in evaluated
    # a run stopped after its first chunk (as by Ctrl-C), resumed from the command line
    script = f"""
from pathlib import Path
import purejaxppo as pjp
from purejaxppo.runs import run_dir, session
spec = run_dir.RunSpec(env="HalfCheetah-v5", env_kwargs={{}}, config=pjp.PPOConfig(
    total_timesteps=2048, num_envs=8, batch_size=256, n_epochs=1, eval_every=4, eval_episodes=1),
    num_seeds=1, seed=0, name="cut", chunk_updates=2, checkpoint_every=2)
path = run_dir.new_run_dir(Path({str(tmp / "cut")!r}), spec)
assert session.run(path, stop_after_chunks=1).status == "interrupted"
print(path)
"""
    cut = Path(_run([bin_dir / "python", "-c", script], env, tmp).strip().splitlines()[-1])
    _run([bin_dir / "purejaxppo", "train", "--resume", cut, "--crosscheck-episodes", "0",
          "--no-progress"], env, tmp)  # fmt: skip
    rows = (cut / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2048 // 256  # a header and every update, each once


@pytest.mark.wheel
@ONE_VENV
def test_the_extras_install_from_the_wheel_by_name(installed):
    extras = "warp,wandb,cuda12"  # cuda13 as cuda12: declared (the metadata test), not resolved
    bin_dir, env, tmp, constraints = installed
    wanted = {"warp": "warp-lang", "wandb": "wandb", "cuda12": "jax-cuda12-plugin"}
    report = tmp / f"report-{extras}.json"
    pip = [bin_dir / "python", "-m", "pip", "install", "--dry-run", "--quiet", "--report", report,
           "--disable-pip-version-check", "-c", constraints]  # fmt: skip
    _run([*pip, f"{_wheel()}[{extras}]"], env, tmp)
    names = {i["metadata"]["name"] for i in json.loads(report.read_text())["install"]}
    assert {wanted[e] for e in extras.split(",")} <= names


@pytest.mark.wheel
def test_pip_install_from_source_without_a_compiler_says_what_to_install(tmp_path):
    bin_dir, env = _fresh_venv(tmp_path / "venv")
    pip = [bin_dir / "python", "-m", "pip", "--disable-pip-version-check"]
    done = subprocess.run(
        [str(a) for a in [*pip, "install", "--no-deps", ROOT]], env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode != 0
    assert "the C engine needs a C++17 compiler" in done.stdout + done.stderr
    assert "PUREJAXPPO_NO_C_ENGINE=1" in done.stdout + done.stderr
    skipped = subprocess.run(
        [str(a) for a in [*pip, "wheel", "--no-deps", "-w", tmp_path / "out", ROOT]],
        env={**env, "PUREJAXPPO_NO_C_ENGINE": "1"}, capture_output=True, text=True,
    )  # fmt: skip
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    (wheel,) = (tmp_path / "out").glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")  # pure Python, and it says so when asked
    with zipfile.ZipFile(wheel) as z:
        why = z.read("purejaxppo/envs/c/_engine.build-error.txt").decode()
        assert "purejaxppo/envs/c/_engine.so" not in z.namelist()
    assert "built without it (PUREJAXPPO_NO_C_ENGINE=1)" in why
