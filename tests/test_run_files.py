"""A run directory's files survive a kill or a full disk in the middle of a write."""

import errno
import os

import numpy as np
import pytest

from purejaxppo.config import PPOConfig
from purejaxppo.runs import checkpoint, run_dir, sweep_state
from purejaxppo.train import TrainMetrics

pytestmark = pytest.mark.unit


def _metrics(seeds: int, updates: int) -> TrainMetrics:
    return TrainMetrics(*(np.ones((seeds, updates)) for _ in TrainMetrics._fields))


def _full_disk(*_: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    f = tmp_path / "run.json"
    run_dir.write_whole(f, "old\n")
    monkeypatch.setattr(os, "fsync", _full_disk)
    with pytest.raises(OSError, match="No space left"):
        run_dir.write_whole(f, "new\n")
    with pytest.raises(checkpoint.DiskFullError, match="no space left to write"):
        sweep_state.write_text(f, "new\n")
    assert f.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_truncating_the_metrics_is_whole_or_not_at_all(tmp_path, monkeypatch):
    run_dir.append_metrics(tmp_path, 0, _metrics(2, 3))
    f = tmp_path / run_dir.METRICS_FILE
    before = f.read_text()
    monkeypatch.setattr(os, "replace", _full_disk)  # killed before the rename
    with pytest.raises(OSError):
        run_dir.truncate_metrics(tmp_path, 1)
    assert f.read_text() == before
    monkeypatch.undo()
    run_dir.truncate_metrics(tmp_path, 1)
    assert run_dir.read_metrics(tmp_path)["env_steps"].shape == (2, 1)


def test_a_row_cut_short_is_dropped_and_an_empty_file_gets_its_header(tmp_path):
    run_dir.append_metrics(tmp_path, 0, _metrics(1, 2))
    f = tmp_path / run_dir.METRICS_FILE
    with f.open("a") as fh:
        fh.write("2,0,1.0,")  # a kill in the middle of a row
    run_dir.truncate_metrics(tmp_path, 2)
    assert f.read_text().splitlines()[0].startswith("update,seed,")
    assert run_dir.read_metrics(tmp_path)["env_steps"].shape == (1, 2)
    f.write_text("")  # made, never written
    run_dir.append_metrics(tmp_path, 0, _metrics(1, 1))
    assert run_dir.read_metrics(tmp_path)["env_steps"].shape == (1, 1)


def test_a_run_json_naming_an_old_preset_reads_as_today_name():
    spec = run_dir.RunSpec(env="probe/constant", env_kwargs={}, config=PPOConfig(),
                           num_seeds=1, seed=0, name="x", chunk_updates=1, checkpoint_every=1,
                           preset="defaults")  # fmt: skip
    written = {**spec.to_json(), "preset": "seed"}  # as run.json was written before the rename
    assert run_dir.RunSpec.from_json(written) == spec
    assert run_dir.RunSpec.from_json({**written, "preset": None}).preset is None
