"""Browser-playable video output: H.264 (libx264, yuv420p, ``+faststart``) in MP4 through PyAV.

OpenCV's writer in the pip wheels only offers MPEG-4 Part 2 (``mp4v``/``FMP4``), which web
browsers do not play; PyAV's wheel ships FFmpeg with libx264. The file is written under a temporary
name in the destination folder and renamed on :meth:`H264Writer.close` (atomic).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Optional

import numpy as np

from uvmos.utils.file_io import commit_temp, discard_temp, temp_path_beside

__all__ = ["H264Writer", "video_codec_name"]


def _even(n: int) -> int:
    return n - (n % 2)


class H264Writer:
    """Append BGR uint8 frames to an H.264 MP4.

    Args:
        path: the final file name (``.mp4``).
        fps: frames per second (a non-positive value means 24).
        crf: x264 constant rate factor (quality; 23 is x264's default, lower = better/larger).
        preset: x264 speed preset ("veryfast" keeps encoding cheap next to the segmentation).

    yuv420p needs even sizes: an odd last row/column is dropped. All frames must have the first
    frame's size (a clear ``ValueError`` otherwise).
    """

    def __init__(self, path: str, fps: float = 24.0, crf: int = 23, preset: str = "veryfast"):
        import av  # noqa: F401  (fail at construction, not at the first frame, when PyAV is missing)

        self.path = path
        self.fps = float(fps) if fps and fps > 0 else 24.0
        self.crf = int(crf)
        self.preset = preset
        self._container = None
        self._stream = None
        self._tmp: Optional[str] = None
        self._size = None
        self.frames = 0

    def _open(self, width: int, height: int) -> None:
        import av

        self._tmp = temp_path_beside(self.path, ".mp4")
        self._container = av.open(self._tmp, mode="w", format="mp4", options={"movflags": "+faststart"})
        rate = Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = _even(width), _even(height)
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(self.crf), "preset": self.preset}
        self._size = (height, width)

    def write(self, frame_bgr: np.ndarray) -> None:
        import av

        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"{self.path}: frames must be (H, W, 3) uint8 BGR, got {frame_bgr.shape} {frame_bgr.dtype}"
            )
        if self._container is None:
            self._open(frame_bgr.shape[1], frame_bgr.shape[0])
        if frame_bgr.shape[:2] != self._size:
            raise ValueError(
                f"{self.path}: frame {self.frames} is {frame_bgr.shape[1]}x{frame_bgr.shape[0]}, "
                f"the video is {self._size[1]}x{self._size[0]}"
            )
        h, w = _even(self._size[0]), _even(self._size[1])
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_bgr[:h, :w]), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and move the file to its final name (nothing is written without frames)."""
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None
        commit_temp(self._tmp, self.path)

    def abort(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the partial file is deleted anyway
                pass
            self._container = None
        discard_temp(self._tmp)


def video_codec_name(path: str) -> str:
    """The codec of a video file's first video stream, as FFmpeg names it (e.g. "h264")."""
    import av

    with av.open(path) as c:
        return c.streams.video[0].codec_context.name
