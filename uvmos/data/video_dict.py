"""The one video representation shared by every dataset, mapper, model and evaluator.

A *video dict* (the video analogue of a detectron2 dataset dict)::

    {
      "video_id":    str,                    # unique within a dataset
      "file_names":  [str, ...],             # T frame paths, in order (may be absent: see "video_file")
      "video_file":  str,                    # optional: a video file read with OpenCV instead of frames
      "height": int, "width": int,           # frame size, identical for all frames
      "length": int,                         # T
      "annotations": [[inst, ...], ...] | None,  # per frame (len T); None = no ground truth at all
      "annotated":   [bool, ...],            # optional per frame: has ground truth (default: all True)
      "void":        [rle | None, ...],      # optional per frame: pixels to ignore (DAVIS 255)
      "fps":         float | None,           # optional: frame rate of a video file
      "json_video_id": int,                  # optional: the video's id in a YouTube-VIS JSON
      "eval_objects": "all" | "first_frame", # optional: DAVIS objects scored (uvmos.evaluation.davis)
    }

and each instance ``inst``::

    {"instance_id": int >= 1,               # stable across the frames of one video
     "segmentation": rle,                  # pycocotools RLE dict, counts as str, size [H, W]
     "bbox": [x0, y0, x1, y1], "bbox_mode": BoxMode.XYXY_ABS,
     "category_id": int,                   # contiguous, 0-based (class-agnostic data: 0)
     "iscrowd": 0,
     "source_id": int}                     # optional: the track id in the source JSON (YouTube-VIS)

Instance masks of one frame never overlap. Masks travel between stages as boolean arrays at the
frame's resolution and as RLE when stored (ARCHITECTURE.md).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
from detectron2.structures import BoxMode

__all__ = [
    "DatasetFormatError",
    "mask_to_rle",
    "rle_to_mask",
    "rle_area",
    "instances_from_id_map",
    "id_map_from_instances",
    "check_video_dict",
]


class DatasetFormatError(ValueError):
    """Bad input: the message names the offending file and the problem."""

    def __init__(self, path: Optional[str], problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)

    def __reduce__(self):
        # picklable (e.g. raised in a multiprocessing worker): rebuild from both arguments
        return (type(self), (self.path, self.problem))


def mask_to_rle(mask: np.ndarray) -> Dict[str, Any]:
    """Binary (H, W) mask -> COCO RLE with ``counts`` decoded to ``str`` (JSON-serialisable)."""
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _as_coco_rle(rle: Dict[str, Any]) -> Dict[str, Any]:
    if isinstance(rle.get("counts"), list):  # uncompressed RLE (YouTube-VIS json)
        h, w = rle["size"]
        return mask_util.frPyObjects(rle, h, w)
    if isinstance(rle.get("counts"), str):
        return {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    return rle


def rle_to_mask(rle: Dict[str, Any]) -> np.ndarray:
    """COCO RLE (compressed str/bytes or uncompressed list counts) -> bool (H, W)."""
    return mask_util.decode(_as_coco_rle(rle)).astype(bool)


def rle_area(rle: Dict[str, Any]) -> int:
    return int(mask_util.area(_as_coco_rle(rle)))


def instances_from_id_map(
    id_map: np.ndarray, category_ids: Optional[Dict[int, int]] = None, void_value: Optional[int] = 255
) -> List[Dict[str, Any]]:
    """(H, W) integer id map (0 background, ``void_value`` ignored) -> list of instance dicts."""
    out = []
    if id_map.dtype == np.uint8:  # bincount is ~10x faster than np.unique on uint8 maps
        present = np.flatnonzero(np.bincount(id_map.ravel(), minlength=256))
    else:
        present = np.unique(id_map)
    for iid in present:
        iid = int(iid)
        if iid == 0 or (void_value is not None and iid == void_value):
            continue
        m = id_map == iid
        ys = np.flatnonzero(m.any(axis=1))
        xs = np.flatnonzero(m.any(axis=0))
        out.append(
            {
                "instance_id": iid,
                "segmentation": mask_to_rle(m),
                "bbox": [float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1)],
                "bbox_mode": BoxMode.XYXY_ABS,
                "category_id": int(category_ids.get(iid, 0)) if category_ids else 0,
                "iscrowd": 0,
            }
        )
    return out


def id_map_from_instances(instances: Sequence[Dict[str, Any]], height: int, width: int) -> np.ndarray:
    """Inverse of :func:`instances_from_id_map`: (H, W) int32 id map (0 background)."""
    id_map = np.zeros((height, width), dtype=np.int32)
    for inst in instances:
        id_map[rle_to_mask(inst["segmentation"])] = inst["instance_id"]
    return id_map


def check_video_dict(d: Dict[str, Any], source: Optional[str] = None) -> None:
    """Validate the schema above; raise :class:`DatasetFormatError` naming ``source``."""
    src = source or d.get("video_id")
    for key in ("video_id", "height", "width", "length"):
        if key not in d:
            raise DatasetFormatError(src, f"video dict lacks {key!r}")
    T = d["length"]
    if "file_names" in d and len(d["file_names"]) != T:
        raise DatasetFormatError(src, f"{len(d['file_names'])} frame files but length={T}")
    anns = d.get("annotations")
    if anns is not None:
        if len(anns) != T:
            raise DatasetFormatError(src, f"{len(anns)} annotated frames but {T} frames")
        for t, frame in enumerate(anns):
            for inst in frame:
                h, w = inst["segmentation"]["size"]
                if (h, w) != (d["height"], d["width"]):
                    raise DatasetFormatError(
                        src, f"frame {t}: mask size {h}x{w} differs from frame size {d['height']}x{d['width']}"
                    )
