"""Output writers: overlay video and the per-video YouTube-VIS results.

Each writer writes to a temporary name in the destination folder and renames on completion
(:mod:`uvmos.utils.file_io`), so an interrupted run never leaves a half-written file under the
final name. Id-map PNGs: :func:`uvmos.data.io.write_palette_png`.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

import cv2
import numpy as np

from uvmos.data.io import DAVIS_PALETTE
from uvmos.evaluation.ytvis_results import TrackFrame, id_map_tracks, ytvis_tracks
from uvmos.utils.file_io import atomic_write_json, commit_temp, discard_temp, temp_path_beside

__all__ = ["OverlayVideoWriter", "YTVISResultsWriter", "track_color"]


def track_color(track_id: int) -> np.ndarray:
    """A stable RGB colour in [0, 1] for a track id (the DAVIS palette, as DAVIS result viewers use)."""
    k = int(track_id) % 255 or 255
    return np.asarray(DAVIS_PALETTE[3 * k : 3 * k + 3], dtype=np.float64) / 255.0


class OverlayVideoWriter:
    """Draw each frame's tracks (one stable colour per track id) with detectron2's ``Visualizer``
    and append it to an mp4; the file appears under ``path`` on :meth:`close`.

    ``codec="h264"`` (default): H.264 through PyAV (``uvmos.engine.video_writer.H264Writer``), which
    web browsers play. Any other value is an OpenCV FourCC (e.g. ``"mp4v"``, MPEG-4 Part 2)."""

    def __init__(self, path: str, fps: float, alpha: float = 0.5, codec: str = "h264"):
        self.path = path
        self.fps = float(fps) if fps and fps > 0 else 24.0
        self.alpha = alpha
        self.codec = codec
        self._writer = None
        self._tmp: Optional[str] = None
        self.frames = 0
        if codec == "h264":
            from .video_writer import H264Writer

            self._writer = H264Writer(path, self.fps)

    def _open(self, width: int, height: int) -> None:
        self._tmp = temp_path_beside(self.path, os.path.splitext(self.path)[1] or ".mp4")
        self._writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*self.codec), self.fps, (width, height))
        if not self._writer.isOpened():
            raise RuntimeError(f"{self.path}: OpenCV cannot open a video writer with codec {self.codec!r}")

    def render(
        self,
        frame_bgr: np.ndarray,
        id_map: np.ndarray,
        scores: Optional[Dict[int, float]] = None,
        labels: Optional[Dict[int, str]] = None,
    ) -> np.ndarray:
        """Return the BGR overlay of one frame (also usable alone, e.g. for docs figures)."""
        from detectron2.utils.visualizer import Visualizer

        ids = [int(i) for i in np.unique(id_map) if i != 0]
        vis = Visualizer(frame_bgr[:, :, ::-1])
        if ids:
            text = []
            for i in ids:
                t = f"{labels[i]} " if labels and i in labels else ""
                t += f"id {i}"
                if scores and i in scores:
                    t += f" {scores[i]:.2f}"
                text.append(t)
            vis.overlay_instances(
                masks=[id_map == i for i in ids],
                labels=text,
                assigned_colors=[track_color(i) for i in ids],
                alpha=self.alpha,
            )
        return vis.get_output().get_image()[:, :, ::-1]

    def write(self, frame_bgr: np.ndarray, id_map: np.ndarray, scores=None, labels=None) -> None:
        out = np.ascontiguousarray(self.render(frame_bgr, id_map, scores, labels))
        if self._writer is None:
            self._open(out.shape[1], out.shape[0])
        self._writer.write(out)
        self.frames += 1

    def close(self) -> None:
        if self._writer is None:
            return
        if self.codec == "h264":
            self._writer.close()
            return
        self._writer.release()
        self._writer = None
        commit_temp(self._tmp, self.path)

    def abort(self) -> None:
        if self.codec == "h264":
            if self._writer is not None:
                self._writer.abort()
            return
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        discard_temp(self._tmp)


class YTVISResultsWriter:
    """Collect per-frame id maps of videos as YouTube-VIS results, one entry per track
    (:func:`uvmos.evaluation.ytvis_results.ytvis_tracks`: score = mean per-frame track score,
    category = the track's class in its last frame)."""

    def __init__(self):
        self.results: List[Dict[str, Any]] = []
        self._frames: Dict[int, Dict[int, TrackFrame]] = {}

    def add_frame(self, t: int, id_map: np.ndarray, track_scores=None, track_classes=None) -> None:
        self._frames[t] = id_map_tracks(id_map, track_scores, track_classes)

    def end_video(
        self,
        video_id: Any,
        length: Optional[int] = None,
        category_offset: int = 1,
        category_map: Optional[Dict[int, int]] = None,
    ) -> None:
        """Flush the current video; ``category_id`` = ``category_map[class]`` when given (e.g. the
        inverse of ``thing_dataset_id_to_contiguous_id``), else contiguous class + ``category_offset``
        (YTVIS is 1-based)."""
        T = length or (max(self._frames) + 1 if self._frames else 0)
        frames = [self._frames.get(t) for t in range(T)]
        self.results.extend(ytvis_tracks(video_id, frames, category_map, category_offset))
        self._frames = {}

    def save(self, path: str) -> None:
        atomic_write_json(path, self.results)
