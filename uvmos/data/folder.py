"""Inference inputs: a video file, a folder of frames, or a glob -> a video dict without ground truth.

Frames are streamed by :func:`iter_frames` (one decoded frame at a time), so a long video never
sits in memory. Folder and glob frames are ordered naturally (``2.jpg`` before ``10.jpg``).
"""

from __future__ import annotations

import glob
import logging
import os
from typing import Any, Dict, Iterator, List, Mapping, Tuple

import cv2
import numpy as np

from .io import IMAGE_EXTENSIONS, image_size, list_images, natural_key, read_frame
from .video_dict import DatasetFormatError

__all__ = ["VIDEO_EXTENSIONS", "load_video_source", "iter_frames", "frame_stems", "frame_names"]

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
_GLOB_CHARS = "*?["


def _video_id(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    return os.path.splitext(base)[0] if os.path.isfile(path) else base


def _from_frames(files, video_id: str) -> Dict[str, Any]:
    height, width = image_size(files[0])
    return {
        "video_id": video_id,
        "file_names": list(files),
        "height": height,
        "width": width,
        "length": len(files),
        "annotations": None,
    }


def _from_video_file(path: str) -> Dict[str, Any]:
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise DatasetFormatError(path, "unreadable video (OpenCV cannot open it)")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise DatasetFormatError(path, "unreadable video (no decodable frame)")
        height, width = frame.shape[:2]
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        length = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if length <= 0:  # some containers do not store a frame count: count by decoding (streamed)
            length = 1
            while cap.grab():
                length += 1
    finally:
        cap.release()
    return {
        "video_id": _video_id(path),
        "video_file": path,
        "height": int(height),
        "width": int(width),
        "length": length,
        "fps": fps if fps > 0 else None,
        "annotations": None,
    }


def load_video_source(path_or_glob: str) -> Dict[str, Any]:
    """A video file (``video_file``, ``fps``), a folder of frames, or a glob of frames -> video dict.

    ``height``/``width`` come from the first frame; the other frames are checked while streaming.
    ``annotations`` is None.
    """
    src = os.fspath(path_or_glob)
    if os.path.isdir(src):
        files = list_images(src)
        if not files:
            raise DatasetFormatError(src, f"folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        return _from_frames(files, _video_id(src))
    if os.path.isfile(src):
        if src.lower().endswith(IMAGE_EXTENSIONS):
            return _from_frames([src], _video_id(src))
        return _from_video_file(src)
    if any(c in src for c in _GLOB_CHARS):
        files = sorted(
            (p for p in glob.glob(src) if os.path.isfile(p) and p.lower().endswith(IMAGE_EXTENSIONS)), key=natural_key
        )
        if not files:
            raise DatasetFormatError(src, "glob matches no image files")
        return _from_frames(files, _video_id(os.path.dirname(files[0])))
    raise DatasetFormatError(src, "no such video file, frame folder or glob")


def frame_stems(file_names) -> list:
    """Output names (no extension) of frame files: their stems when these are unique, else their
    paths relative to the common folder with ``/`` -> ``__`` (a glob across folders such as
    ``480p/*/00000.jpg`` gives ``bear__00000``, ``car__00000`` ..., never one name twice)."""
    stems = [os.path.splitext(os.path.basename(f))[0] for f in file_names]
    if len(set(stems)) == len(stems):
        return stems
    paths = [os.path.abspath(f) for f in file_names]
    common = os.path.commonpath([os.path.dirname(p) for p in paths])
    out = [os.path.splitext(os.path.relpath(p, common))[0].replace(os.sep, "__") for p in paths]
    if len(set(out)) != len(out):  # same file listed twice, or names differing only in extension
        dup = sorted({n for n in out if out.count(n) > 1})[:3]
        raise DatasetFormatError(file_names[0], f"frames give the same output name twice (e.g. {dup})")
    return out


def frame_names(video: Mapping[str, Any]) -> List[str]:
    """Result file stems of a video's frames (``<name>.png`` in a DAVIS result folder): the frame
    files' :func:`frame_stems`, else ``00000``, ``00001``... up to its ``length``."""
    if video.get("file_names"):
        return frame_stems(video["file_names"])
    return [f"{t:05d}" for t in range(int(video["length"]))]


def iter_frames(video: Dict[str, Any], format: str = "BGR") -> Iterator[Tuple[int, np.ndarray]]:
    """Stream ``(t, frame)`` with frame np.uint8 (H, W, 3), one at a time.

    Frame files must all have the video's size (error naming the first file that does not). A
    video file whose stream ends before its header's frame count logs a warning and stops.
    """
    H, W = video["height"], video["width"]
    if video.get("file_names"):
        for t, path in enumerate(video["file_names"]):
            frame = read_frame(path, format=format)
            if frame.shape[:2] != (H, W):
                raise DatasetFormatError(
                    path, f"frame size {frame.shape[1]}x{frame.shape[0]} differs from the video's {W}x{H}"
                )
            yield t, frame
        return
    path = video.get("video_file")
    if not path:
        raise DatasetFormatError(video.get("video_id"), "video dict has neither file_names nor video_file")
    if not os.path.isfile(path):
        raise DatasetFormatError(path, "video file not found")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise DatasetFormatError(path, "unreadable video (OpenCV cannot open it)")
    try:
        for t in range(video["length"]):
            ok, frame = cap.read()
            if not ok or frame is None:
                logger.warning("%s: stream ended after %d of %d frames", path, t, video["length"])
                return
            if frame.shape[:2] != (H, W):
                raise DatasetFormatError(path, f"frame {t} is {frame.shape[1]}x{frame.shape[0]}, expected {W}x{H}")
            if format == "RGB":
                frame = frame[:, :, ::-1]
            elif format != "BGR":
                raise ValueError(f"video files are decoded as BGR or RGB, not {format!r}")
            yield t, np.ascontiguousarray(frame)
    finally:
        cap.release()
