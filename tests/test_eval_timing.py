"""PartTimer (uvmos/evaluation/timing.py): per-part seconds per frame and FPS."""

import pytest

from uvmos.evaluation.timing import PartTimer


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_parts_frames_and_fps():
    clock = FakeClock()
    timer = PartTimer(cuda_sync=False, clock=clock)
    for _ in range(4):
        with timer.frame():
            with timer.part("proposal"):
                clock.t += 0.10
                with timer.part("foreground"):
                    clock.t += 0.02
            with timer.part("association"):
                clock.t += 0.05
            clock.t += 0.03  # glue: counted in the frame time only
    per_part, fps = timer.summary()
    assert list(per_part) == ["foreground", "proposal", "association"]
    assert per_part["proposal"] == pytest.approx(0.12)
    assert per_part["foreground"] == pytest.approx(0.02)
    assert per_part["association"] == pytest.approx(0.05)
    assert fps == pytest.approx(1 / 0.20)
    assert "FPS" in timer.format()


def test_without_frame_blocks_and_reset():
    clock = FakeClock()
    timer = PartTimer(cuda_sync=False, clock=clock)
    assert timer.summary() == ({}, 0.0)
    with timer.part("proposal"):
        clock.t += 0.3
    with pytest.raises(RuntimeError):
        with timer.part("association"):
            clock.t += 0.1
            raise RuntimeError("a failing part is still timed")
    timer.add_frames(2)
    per_part, fps = timer.summary()
    assert per_part == pytest.approx({"proposal": 0.15, "association": 0.05})
    assert fps == pytest.approx(2 / 0.4)
    timer.reset()
    assert timer.num_frames == 0 and timer.summary() == ({}, 0.0)
