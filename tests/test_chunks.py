"""The chunk loop a run and a sweep share: statuses, updates done, a Ctrl-C mid host work."""

import pytest

from purejaxppo.runs.chunks import run_chunks

pytestmark = pytest.mark.unit


class Recorder:
    """Host work that records each call, says ``word`` at ``first == stop_at``, and can raise
    KeyboardInterrupt once, at ``interrupt_at``, half way through."""

    def __init__(self, stop_at=None, word="nonfinite", interrupt_at=None):
        self.calls, self.stop_at, self.word, self.interrupt_at = [], stop_at, word, interrupt_at

    def __call__(self, first, out):
        self.calls.append((first, out[1]))
        if first == self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt
        return self.word if first == self.stop_at else "ok"


def step(carry, first):
    return carry + 1, first  # out[0]: the next carry; out[1]: which chunk it was


def test_every_chunk_runs_and_its_host_work_follows_in_order():
    work = Recorder()
    ended = run_chunks(step, work, 0, 4, 16, 4)
    assert (ended.status, ended.done, ended.carry) == ("finished", 16, 3)
    assert work.calls == [(4, 4), (8, 8), (12, 12)]


def test_a_word_other_than_ok_stops_the_loop_with_that_status():
    work = Recorder(stop_at=8)
    ended = run_chunks(step, work, 0, 0, 20, 4)
    assert (ended.status, ended.done) == ("nonfinite", 8)  # chunk 8's work did not finish
    assert [first for first, _ in work.calls] == [0, 4, 8]


def test_an_interrupt_keeps_the_chunk_already_computed():
    work = Recorder()
    ended = run_chunks(step, work, 0, 0, 20, 4, stop_after_chunks=2)
    assert (ended.status, ended.done) == ("interrupted", 8)
    assert [first for first, _ in work.calls] == [0, 4]


def test_a_ctrl_c_inside_host_work_finishes_that_chunk_once_more():
    work = Recorder(interrupt_at=4)
    ended = run_chunks(step, work, 0, 0, 20, 4)
    assert (ended.status, ended.done) == ("interrupted", 8)
    assert [first for first, _ in work.calls] == [0, 4, 4]  # chunk 4 again, then stop
