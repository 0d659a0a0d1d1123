"""The training host's pacing of frames: a kind of frame that costs little comes at its interval,
one that costs much (a big model's weights) comes rarer, so that frames never take more than
EXTRAS_SHARE of the training's time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from graphcore.training import host as host_module
from graphcore.training.host import EXTRAS_SHARE, Pace


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(host_module, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    return now


def make_a_frame(pace: Pace, clock: list[float], seconds: float) -> None:
    began = clock[0]
    clock[0] += seconds
    pace.spent(began)


def test_a_cheap_frame_comes_at_its_interval(clock: list[float]) -> None:
    pace = Pace(0.1)
    assert pace.due()
    make_a_frame(pace, clock, 0.001)
    clock[0] += 0.099
    assert not pace.due()
    clock[0] += 0.002
    assert pace.due()


def test_a_costly_frame_comes_rarer(clock: list[float]) -> None:
    pace = Pace(0.1)
    make_a_frame(pace, clock, 0.05)  # 50 ms to copy and send: the next one in 2.5 s
    wait = 0.05 / EXTRAS_SHARE
    clock[0] += wait - 0.01
    assert not pace.due()
    clock[0] += 0.02
    assert pace.due()
