"""Runtime breakdown of the inference loop (paper Table 5: seconds per frame of each part, FPS).

Usage in a video loop::

    timer = PartTimer()
    for frame in video:
        with timer.frame():                       # one frame; its wall time gives the FPS
            with timer.part("proposal"):     ...  # D-Net / proposer forward
            with timer.part("foreground"):   ...  # foreground estimation (may nest in "proposal")
            with timer.part("association"):  ...  # T-Net / associator step
    per_part, fps = timer.summary()              # {"proposal": s/frame, ...}, frames/s

On a GPU the timer calls ``torch.cuda.synchronize()`` when a part (or frame) starts and ends, so
asynchronous kernels are charged to the part that launched them. Parts may nest; each part's time
is its own wall time (a nested part is also included in its parent's). Without any ``frame()``
block, frames are counted with :meth:`PartTimer.add_frames` and FPS uses the sum of the top-level
parts' times.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Tuple

__all__ = ["PartTimer"]


def _cuda_sync_fn():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of uvmos
        return None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.synchronize
    return None


class PartTimer:
    """Accumulates wall time per named part and per frame.

    Args:
        cuda_sync: synchronise CUDA around every part; ``None`` = whenever CUDA is initialised
            (checked at each part start, so a timer made before the model moves to the GPU works).
        clock: time source in seconds (``time.perf_counter``).
    """

    def __init__(self, cuda_sync: Optional[bool] = None, clock=time.perf_counter):
        self._cuda_sync = cuda_sync
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self.seconds: "OrderedDict[str, float]" = OrderedDict()
        self.calls: Dict[str, int] = {}
        self.num_frames = 0
        self.frame_seconds = 0.0
        self._depth = 0
        self._top_level_seconds = 0.0

    def _sync(self) -> None:
        if self._cuda_sync is False:
            return
        fn = _cuda_sync_fn()
        if fn is not None:
            fn()

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Time the enclosed block as part ``name`` (accumulates over calls)."""
        self._sync()
        self._depth += 1
        start = self._clock()
        try:
            yield
        finally:
            self._sync()
            dt = self._clock() - start
            self._depth -= 1
            self.seconds[name] = self.seconds.get(name, 0.0) + dt
            self.calls[name] = self.calls.get(name, 0) + 1
            if self._depth == 0:
                self._top_level_seconds += dt

    @contextmanager
    def frame(self) -> Iterator[None]:
        """Time one whole frame (parts and glue); counts the frame."""
        self._sync()
        start = self._clock()
        try:
            yield
        finally:
            self._sync()
            self.frame_seconds += self._clock() - start
            self.num_frames += 1

    def add_frames(self, n: int = 1) -> None:
        """Count frames processed outside any :meth:`frame` block."""
        self.num_frames += int(n)

    def total_seconds(self) -> float:
        """Frame wall time when :meth:`frame` was used, else the sum of top-level parts."""
        return self.frame_seconds if self.frame_seconds > 0 else self._top_level_seconds

    def summary(self) -> Tuple[Dict[str, float], float]:
        """(``{part: seconds per frame}``, frames per second); zeros before any frame."""
        n = self.num_frames
        per_part = OrderedDict((k, (v / n if n else 0.0)) for k, v in self.seconds.items())
        total = self.total_seconds()
        fps = n / total if n and total > 0 else 0.0
        return per_part, fps

    def format(self) -> str:
        """One line per part (ms/frame) and the FPS, for logs and tools/benchmark.py."""
        per_part, fps = self.summary()
        lines = [f"{k:>14s}: {1000 * v:9.2f} ms/frame" for k, v in per_part.items()]
        lines.append(
            f"{'total':>14s}: {1000 * self.total_seconds() / max(self.num_frames, 1):9.2f} ms/frame"
            f"  ({self.num_frames} frames, {fps:.2f} FPS)"
        )
        return "\n".join(lines)
