"""Output writers: DAVIS palette PNGs, YouTube-VIS results JSON, overlay video.

Each writer writes to a temporary name in the destination folder and renames on completion, so
an interrupted run never leaves a half-written file under the final name.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from typing import Any, Dict, List, Optional

import cv2
import numpy as np
from PIL import Image

from ..data.video_dict import mask_to_rle

__all__ = [
    "davis_palette",
    "atomic_write_png",
    "atomic_save_figure",
    "public_permissions",
    "public_dir_permissions",
    "replace_folder",
    "atomic_write_json",
    "write_palette_png",
    "OverlayVideoWriter",
    "YTVISResultsWriter",
    "track_color",
]


def davis_palette() -> List[int]:
    """The DAVIS / PASCAL VOC palette (id k -> colour), flattened to 768 ints for ``putpalette``."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for k in range(256):
        c, r, g, b = k, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[k] = (r, g, b)
    return pal.reshape(-1).tolist()


_PALETTE = davis_palette()


def track_color(track_id: int) -> np.ndarray:
    """A stable RGB colour in [0, 1] for a track id (the DAVIS palette, as DAVIS result viewers use)."""
    k = int(track_id) % 255 or 255
    return np.asarray(_PALETTE[3 * k : 3 * k + 3], dtype=np.float64) / 255.0


def public_permissions(path: str) -> None:
    """Give a ``mkstemp`` file (mode 0600) the permissions of a normally created file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def public_dir_permissions(path: str) -> None:
    """Give a ``mkdtemp`` folder (mode 0700) the permissions of a normally created folder."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)


def replace_folder(tmp: str, final: str) -> None:
    """Move the finished folder ``tmp`` to ``final`` (same parent), replacing an older ``final``
    entirely (no stale files of a longer earlier run), with normal permissions."""
    public_dir_permissions(tmp)
    if os.path.isdir(final):
        old = tempfile.mkdtemp(prefix=".old-", dir=os.path.dirname(os.path.abspath(final)))
        os.replace(final, os.path.join(old, "x"))
        os.replace(tmp, final)
        import shutil

        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _atomic(path: str, write_fn, suffix: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=d)
    os.close(fd)
    try:
        write_fn(tmp)
        public_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_png(path: str, image: Image.Image) -> None:
    _atomic(path, lambda tmp: image.save(tmp, format="PNG"), ".png")


def atomic_save_figure(path: str, fig, dpi: int = 120) -> None:
    """Save a matplotlib figure atomically (format from ``path``'s extension)."""
    ext = os.path.splitext(path)[1] or ".png"
    _atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=ext[1:]), ext)


def atomic_write_json(path: str, obj: Any) -> None:
    def _w(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f)

    _atomic(path, _w, ".json")


def write_palette_png(path: str, id_map: np.ndarray) -> None:
    """(H, W) integer id map (0 background, ids < 256) -> DAVIS palette PNG, atomically."""
    id_map = np.asarray(id_map)
    if id_map.size and (id_map.min() < 0 or id_map.max() > 255):
        raise ValueError(f"{path}: track ids must lie in 0..255 for a palette PNG, got {id_map.min()}..{id_map.max()}")
    img = Image.fromarray(id_map.astype(np.uint8), mode="P")
    img.putpalette(_PALETTE)
    atomic_write_png(path, img)


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
        d = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(d, exist_ok=True)
        ext = os.path.splitext(self.path)[1] or ".mp4"
        fd, self._tmp = tempfile.mkstemp(prefix=".tmp-", suffix=ext, dir=d)
        os.close(fd)
        self._writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*self.codec), self.fps, (width, height))
        if not self._writer.isOpened():
            raise RuntimeError(f"{self.path}: OpenCV cannot open a video writer with codec {self.codec!r}")

    def render(self, frame_bgr: np.ndarray, id_map: np.ndarray, scores: Optional[Dict[int, float]] = None,
               labels: Optional[Dict[int, str]] = None) -> np.ndarray:
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
                masks=[id_map == i for i in ids], labels=text,
                assigned_colors=[track_color(i) for i in ids], alpha=self.alpha,
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
        public_permissions(self._tmp)
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self.codec == "h264":
            if self._writer is not None:
                self._writer.abort()
            return
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp and os.path.exists(self._tmp):
            os.unlink(self._tmp)


class YTVISResultsWriter:
    """Collect per-frame id maps of videos as YouTube-VIS results: one entry per track with a
    per-frame RLE (``None`` where the track is absent), ``score`` = mean per-frame track score."""

    def __init__(self):
        self.results: List[Dict[str, Any]] = []
        self._reset()

    def _reset(self):
        self._segs: Dict[int, Dict[int, Any]] = defaultdict(dict)
        self._scores: Dict[int, List[float]] = defaultdict(list)
        self._classes: Dict[int, int] = {}
        self._length = 0

    def add_frame(self, t: int, id_map: np.ndarray, track_scores=None, track_classes=None) -> None:
        self._length = max(self._length, t + 1)
        for i in np.unique(id_map):
            i = int(i)
            if i == 0:
                continue
            self._segs[i][t] = mask_to_rle(id_map == i)
            self._scores[i].append(float((track_scores or {}).get(i, 1.0)))
            if track_classes and i in track_classes:
                self._classes[i] = int(track_classes[i])

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
        T = length or self._length
        for i, segs in sorted(self._segs.items()):
            c = self._classes.get(i, 0)
            if category_map is not None and c not in category_map:
                raise KeyError(f"video {video_id}: class {c} has no entry in category_map")
            self.results.append(
                {
                    "video_id": video_id,
                    "category_id": int(category_map[c]) if category_map is not None else c + category_offset,
                    "score": float(np.mean(self._scores[i])),
                    "segmentations": [segs.get(t) for t in range(T)],
                    "track_id": i,
                }
            )
        self._reset()

    def save(self, path: str) -> None:
        atomic_write_json(path, self.results)
