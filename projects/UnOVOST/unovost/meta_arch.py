"""``UnOVOSTSegmenter``: the video meta-architecture for offline associators such as UnOVOST.

``VideoSegmenter`` (uvmos/modeling/meta_arch.py) streams: it yields frame t's id map as soon as
the associator's ``step`` returns it. UnOVOST decides its final tracks only after the whole video
(long-term merging and selection), so this subclass keeps the per-frame outputs of the video
(T frames and their int32 id maps), calls the associator's ``finalize()`` and relabels every frame
with its tracklet -> track map before yielding. Memory grows with the video length (T x H x W x 4
bytes per frame and id map), which is the price of being offline. The time ``finalize`` takes is
charged to the "association" part and to the frames' total when a timer is attached (paper Table
5's tracking column).
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator, Optional, Tuple

import numpy as np

from uvmos.modeling.meta_arch import VideoSegmenter
from uvmos.registry import META_ARCH_REGISTRY
from uvmos.structures import TrackOutput

__all__ = ["UnOVOSTSegmenter"]


@META_ARCH_REGISTRY.register()
class UnOVOSTSegmenter(VideoSegmenter):
    """``VideoSegmenter`` for an associator with ``finalize() -> (tracklet id -> track id (0 =
    dropped), track scores, track classes)``; same arguments (module doc)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not callable(getattr(self.associator, "finalize", None)):
            raise TypeError(f"UnOVOSTSegmenter: associator {type(self.associator).__name__} has no finalize()")

    def run_video(
        self, frames: Iterable[np.ndarray], video_meta: Optional[dict] = None
    ) -> Iterator[Tuple[np.ndarray, TrackOutput]]:
        outs = list(super().run_video(frames, video_meta))
        t0 = time.perf_counter()
        with self._part("association"):
            mapping, scores, classes = self.associator.finalize()
        if self.timer is not None:  # the frames' wall time (FPS) includes the offline stage too
            self.timer.frame_seconds += time.perf_counter() - t0
        lut = np.zeros(max([0, *mapping.keys()]) + 1, dtype=np.int32)
        for k, v in mapping.items():
            lut[k] = v
        for frame, out in outs:
            id_map = lut[out.id_map]
            present = set(np.unique(id_map).tolist()) - {0}
            scores_now = {i: scores[i] for i in present}
            yield frame, TrackOutput(out.frame_idx, id_map, scores_now, {i: classes[i] for i in present})
