"""notebooks/quickstart.ipynb runs top to bottom (at a tiny budget); its kept outputs are intact."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.e2e

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_executes(monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    kept = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")]
    assert len(kept) >= 4, "the notebook is committed with the outputs of its full run"
    monkeypatch.setenv("PUREJAXPPO_NOTEBOOK_QUICK", "1")
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "final evaluation return per seed" in text and text.count("Gymnasium") == 4
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert os.environ["PUREJAXPPO_NOTEBOOK_QUICK"] == "1"
