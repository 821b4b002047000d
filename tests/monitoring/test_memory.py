"""NumPy's huge-page advice is off inside small_pages() and restored after, threads included."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from driftscope.monitoring import UnivariateDriftCalculator, memory


def _advice() -> bool:
    """NumPy's current setting, read by setting it and putting it back."""
    assert memory._SET is not None
    current = bool(memory._SET(True))
    memory._SET(current)
    return current


@pytest.fixture
def advice_on():
    if memory._SET is None:
        pytest.skip("this NumPy has no huge-page switch")
    before = memory._SET(True)
    yield
    memory._SET(before)


def test_off_inside_and_restored_after(advice_on):
    with memory.small_pages():
        assert _advice() is False
        with memory.small_pages():  # nested
            assert _advice() is False
        assert _advice() is False
    assert _advice() is True


def test_concurrent_uses_restore_once_the_last_one_ends(advice_on):
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with memory.small_pages():
            inside.set()
            leave.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    inside.wait(5)
    with memory.small_pages():
        pass
    assert _advice() is False  # the worker is still inside
    leave.set()
    worker.join()
    assert _advice() is True


def test_a_user_setting_of_off_is_kept(advice_on):
    memory._SET(False)
    with memory.small_pages():
        pass
    assert _advice() is False


def test_the_drift_fit_runs_with_the_advice_off_and_restores_it(advice_on, monkeypatch):
    seen: list[bool] = []
    fit_columns = UnivariateDriftCalculator._fit_columns

    def spy(self, reference):
        seen.append(_advice())
        return fit_columns(self, reference)

    monkeypatch.setattr(UnivariateDriftCalculator, "_fit_columns", spy)
    ref = pd.DataFrame({"x": np.random.default_rng(0).normal(size=500)})
    UnivariateDriftCalculator(chunker={"type": "count", "chunk_number": 5}).fit(ref)
    assert seen == [False] and _advice() is True
