"""The notebooks run top to bottom (at tiny budgets); their kept outputs are intact."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def _execute(name: str, monkeypatch, path: Path) -> tuple[nbformat.NotebookNode, str]:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    kept = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")]
    assert len(kept) >= 4, "the notebook is committed with the outputs of its full run"
    monkeypatch.setenv("PUREJAXPPO_NOTEBOOK_QUICK", "1")
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path)}}
    ).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    return nb, text


def test_quickstart_notebook_executes(monkeypatch):
    nb, text = _execute("quickstart.ipynb", monkeypatch, NOTEBOOKS)
    assert "final evaluation return per seed" in text and text.count("Gymnasium") == 4
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert os.environ["PUREJAXPPO_NOTEBOOK_QUICK"] == "1"


def test_own_task_notebook_executes(monkeypatch, tmp_path):
    _, text = _execute("own_task.ipynb", monkeypatch, tmp_path)  # writes reach.py and a run
    assert "PointReach(physics=c, obs=6, act=2)" in text and "random policy: mean return" in text
    assert "final evaluation return per seed" in text and "over 40 steps" in text
    assert "names no Gymnasium twin" in text and "the saved policy's action" in text
    assert (tmp_path / "reach.py").is_file()
