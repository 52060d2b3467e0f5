"""A task of a user's own through the product: the CLI by import path and by file, run.json,
``--resume`` bit for bit, ``eval`` with its cross-check in the task's Gymnasium twin,
``load_policy``, and the entry-point group of an installed package."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

import purejaxppo as pjp
from purejaxppo.cli import main
from purejaxppo.runs import checkpoint, run_dir

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("own_task_cli")]

ROOT = Path(__file__).parent.parent
TINY = [
    "--total-timesteps", "2048", "--num-envs", "8", "--batch-size", "256", "--n-epochs", "2",
    "--eval-every", "4", "--eval-episodes", "4", "--no-progress",
]  # fmt: skip


def _train(runs: Path, env: str, *extra: str) -> Path:
    main(["train", "--env", env, "--runs-dir", str(runs), *TINY, *extra])
    (path,) = [p for p in runs.iterdir() if p.is_dir()]
    return path


def test_by_import_path_resumes_bit_for_bit_and_cross_checks_in_its_twin(tmp_path, capsys):
    whole = _train(tmp_path / "a", "tests.own_task:PointReach", "--crosscheck-episodes", "4")
    out = capsys.readouterr().out
    assert "cross-check: Gymnasium's tests/PointReach-v0 vs purejaxppo (C MuJoCo)" in out
    report = json.loads((whole / "crosscheck.json").read_text())
    assert report["gymnasium"] == "tests/PointReach-v0" and report["verdict"] in (
        "agree",
        "disagree",
    )
    spec = json.loads((whole / "run.json").read_text())
    assert spec["env"] == "tests.own_task:PointReach"
    # from any directory: the module and the directory it was imported from
    assert spec["env_origin"] == {"task": "tests.own_task:PointReach", "path": str(ROOT)}
    assert whole.name.startswith("PointReach__")

    cut = tmp_path / "b"
    cut.mkdir()
    spec = run_dir.read_spec(whole)
    path = run_dir.new_run_dir(cut, spec)
    from purejaxppo.runs import session

    assert session.run(path, stop_after_chunks=1).status == "interrupted"
    assert checkpoint.latest_step(path) == 1  # the resume continues from a checkpoint
    main(["train", "--resume", str(path), "--crosscheck-episodes", "0", "--no-progress"])
    a, b = run_dir.read_metrics(whole), run_dir.read_metrics(path)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    pa, pb = pjp.load_policy(whole).policy, pjp.load_policy(path).policy
    jax.tree.map(np.testing.assert_array_equal, pa, pb)

    main(["eval", str(whole), "--backend", "gymnasium", "--episodes", "3"])
    assert "verdict:" in capsys.readouterr().out


def test_by_file_records_its_path_and_loads_from_another_directory(tmp_path, monkeypatch, capsys):
    task = tmp_path / "tasks" / "reach.py"
    task.parent.mkdir()
    shutil.copy(ROOT / "tests" / "own_task.py", task)
    (tmp_path / "tasks" / "no_twin.py").write_text(
        textwrap.dedent(
            """
            from reach import PointReach

            class Plain(PointReach):
                gymnasium_id = None
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the file's directory joins it, as a script's
    path = _train(tmp_path / "runs", "tasks/no_twin.py:Plain", "--crosscheck-episodes", "2")
    spec = json.loads((path / "run.json").read_text())
    assert spec["env_origin"] == {
        "task": f"{tmp_path / 'tasks' / 'no_twin.py'}:Plain",
        "path": None,
    }
    report = json.loads((path / "crosscheck.json").read_text())
    assert report["verdict"] is None and "names no Gymnasium twin" in report["message"]
    video = tmp_path / "reach.gif"  # no twin: drawn from the task's own engine
    main(["render", str(path), "--out", str(video), "--width", "64", "--height", "48"])
    assert "episode returns (C MuJoCo)" in capsys.readouterr().out
    import imageio.v2 as imageio

    frames = imageio.mimread(video)
    assert len(frames) >= 100 and frames[0].shape[:2] == (48, 64) and np.ptp(frames[0]) > 0
    # a new process in another directory finds the task again from run.json
    script = (
        "import purejaxppo as pjp, numpy as np; "
        f"p = pjp.load_policy({str(path)!r}); print(p(np.zeros(6)).shape)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd="/")
    assert done.returncode == 0 and done.stdout.strip() == "(2,)", done.stderr[-2000:]


def test_an_id_registered_only_from_python_says_how_to_load_it_again(tmp_path):
    from tests.own_task import PointReach

    class Local(PointReach):  # defined here: no import path another process could use
        pass

    pjp.envs.register("tests/local-reach", Local)
    path = _train(tmp_path, "tests/local-reach", "--crosscheck-episodes", "0")
    spec = run_dir.read_spec(path)
    assert spec.env_origin is None
    pjp.envs.registry._REGISTRY.pop("tests/local-reach")
    with pytest.raises(pjp.envs.EnvError, match="register it again before loading the run"):
        pjp.load_policy(path)


def test_the_engine_flags_reach_a_task_only_through_its_constructor(tmp_path, monkeypatch):
    task = tmp_path / "fixed.py"
    task.write_text(
        textwrap.dedent(
            """
            from tests.own_task import PointReach

            class Fixed(PointReach):  # no **engine: the engine is its own choice
                def __init__(self, ctrl_cost: float = 0.01):
                    super().__init__(ctrl_cost=ctrl_cost, physics="c")
            """
        )
    )
    runs = tmp_path / "runs"
    path = _train(runs, f"{task}:Fixed", "--crosscheck-episodes", "0")
    assert run_dir.read_spec(path).env_kwargs == {}  # no engine keyword passed to it
    with pytest.raises(SystemExit, match="takes no physics: its constructor does not pass"):
        main(["train", "--env", f"{task}:Fixed", "--runs-dir", str(runs), "--physics", "mjx"])


def test_bad_task_names_fail_before_anything_is_written(tmp_path):
    for env, message in [
        ("tests.no_such_module:Task", "there is no module tests.no_such_module"),
        ("tests/own_task.py:Missing", "no class Missing in it. Its tasks: "),
        ("tests/missing.py:Task", "there is no file"),
        ("tests.own_task:PointReach", "takes no keyword 'ctrl'. Did you mean ctrl_cost"),
    ]:
        with pytest.raises(SystemExit) as e:
            main(["train", "--env", env, "--runs-dir", str(tmp_path), "--env-kwargs", "ctrl=1"])
        assert message in str(e.value), (env, str(e.value))
    assert not list(tmp_path.iterdir())


def test_the_entry_point_group_lists_an_installed_package_tasks(tmp_path):
    site = tmp_path / "site"
    (site / "tiny_tasks").mkdir(parents=True)
    (site / "tiny_tasks" / "__init__.py").write_text("from tests.own_task import PointReach\n")
    info = site / "tiny_tasks-0.1.dist-info"  # what an installer writes for the package
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-tasks\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[purejaxppo.envs]\ntiny/reach = tiny_tasks:PointReach\n"
    )
    script = (  # what `purejaxppo envs` prints, but Brax's ids (slow to import)
        "import purejaxppo as pjp\n"
        "for i in pjp.envs.registered_ids(include_brax=False): print(i, pjp.envs.describe(i))\n"
        "print(pjp.envs.make('tiny/reach', physics='c'))"
    )
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("tiny/reach"))
    assert "tiny_tasks:PointReach (installed by tiny-tasks)" in line
    assert "PointReach(physics=c, obs=6, act=2)" in done.stdout
