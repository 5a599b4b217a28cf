"""YouTube-VIS results: the results JSON (read, checked, written) and the one converter from
tracker / model outputs to result tracks.

A result track is ``{"video_id", "category_id", "score", "segmentations": [RLE | None, ...]}``
(one entry per frame of the video, ``None`` where the track is absent); :func:`ytvis_tracks` adds
``"track_id"``, which the JSON writer drops.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pycocotools.mask as mask_util

from uvmos.data.io import read_json
from uvmos.data.video_dict import DatasetFormatError, mask_to_rle
from uvmos.utils.file_io import atomic_write_json

__all__ = [
    "to_coco_rle",
    "load_ytvis_results",
    "write_ytvis_results",
    "TrackFrame",
    "id_map_tracks",
    "instance_tracks",
    "ytvis_tracks",
]

PathLike = Union[str, os.PathLike]
TrackFrame = Tuple[Dict[str, Any], float, int]  # one track in one frame: (RLE, score, class)


# ----------------------------------------------------------------------------------------------
# RLE checks
# ----------------------------------------------------------------------------------------------
def _rle_string_runs(counts: bytes) -> Optional[List[int]]:
    """The run lengths of a COCO compressed RLE string (pycocotools' ``rleFrString`` in Python), or
    None when the string is not a valid encoding (truncated value or a negative run)."""
    runs: List[int] = []
    p, n = 0, len(counts)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                return None
            c = counts[p] - 48
            if c < 0 or c > 63:
                return None
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        if x < 0:
            return None
        runs.append(x)
    return runs


def _checked_rle(seg: Mapping[str, Any], h: int, w: int, where: str, src: Optional[str]) -> Dict[str, Any]:
    if not isinstance(seg["size"], (list, tuple)) or list(seg["size"]) != [h, w]:
        raise DatasetFormatError(src, f"{where}: mask size {seg['size']} differs from the video's {[h, w]}")
    counts = seg["counts"]
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise DatasetFormatError(src, f"{where}: uncompressed RLE counts must be non-negative integers")
        if sum(counts) != h * w:
            raise DatasetFormatError(src, f"{where}: RLE counts cover {sum(counts)} pixels, the frame has {h * w}")
        return mask_util.frPyObjects(dict(seg), h, w)
    if not isinstance(counts, (str, bytes)):
        raise DatasetFormatError(
            src, f"{where}: RLE counts must be a string (compressed) or a list of integers, got {type(counts).__name__}"
        )
    rle = {"size": [h, w], "counts": counts.encode("ascii", "replace") if isinstance(counts, str) else counts}
    runs = _rle_string_runs(rle["counts"])
    if runs is None or sum(runs) != h * w:
        total = "undecodable" if runs is None else f"runs covering {sum(runs)} pixels"
        raise DatasetFormatError(
            src, f"{where}: corrupt compressed RLE counts ({total}; the {w}x{h} frame has {h * w})"
        )
    return rle


def to_coco_rle(seg: Any, h: int, w: int, where: str, src: Optional[str]) -> Optional[Dict[str, Any]]:
    """Per-frame segmentation (None, RLE with str/bytes/list counts, or polygons) -> RLE, bytes counts.

    Checked: the RLE's size is the video's; counts are a string or a list of non-negative ints that
    covers exactly the frame; a compressed string decodes to exactly H*W pixels (garbage strings
    otherwise give areas far beyond the frame)."""
    if seg is None:
        return None
    if isinstance(seg, list):  # polygons
        if not seg:
            return None
        try:
            return mask_util.merge(mask_util.frPyObjects(seg, h, w))
        except Exception as e:
            raise DatasetFormatError(src, f"{where}: invalid polygon ({type(e).__name__}: {e})") from None
    if isinstance(seg, Mapping) and "counts" in seg and "size" in seg:
        return _checked_rle(seg, h, w, where, src)
    raise DatasetFormatError(src, f"{where}: unsupported segmentation {type(seg).__name__}")


# ----------------------------------------------------------------------------------------------
# the results JSON
# ----------------------------------------------------------------------------------------------
def _check_result(r: Any, k: int, path: Optional[str]) -> None:
    if not isinstance(r, Mapping):
        raise DatasetFormatError(path, f"result {k} is a {type(r).__name__}, not an object")
    for key in ("video_id", "score", "category_id", "segmentations"):
        if key not in r:
            raise DatasetFormatError(path, f"result {k} lacks {key!r}")
    score, cat = r["score"], r["category_id"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not np.isfinite(score):
        raise DatasetFormatError(path, f"result {k}: score must be a finite number, got {score!r}")
    if isinstance(cat, bool) or not isinstance(cat, int):
        raise DatasetFormatError(path, f"result {k}: category_id must be an integer, got {cat!r}")
    if not isinstance(r["segmentations"], list):
        raise DatasetFormatError(path, f"result {k}: segmentations must be a list (one RLE or null per frame)")


def load_ytvis_results(src: Union[PathLike, Sequence[Mapping[str, Any]]]) -> List[Dict[str, Any]]:
    """Read (or validate) a YouTube-VIS results list ``[{video_id, category_id, score, segmentations}]``."""
    path = None
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        src = read_json(path, "results ")
    if not isinstance(src, list):
        raise DatasetFormatError(path, "results must be a JSON list of tracks")
    for k, r in enumerate(src):
        _check_result(r, k, path)
    return [dict(r) for r in src]


def _json_rle(seg: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if seg is None:
        return None
    c = seg["counts"]
    return {"size": [int(s) for s in seg["size"]], "counts": c.decode("ascii") if isinstance(c, bytes) else c}


def write_ytvis_results(results: Sequence[Mapping[str, Any]], path: PathLike) -> None:
    """Write a results list as the YouTube-VIS results JSON (RLE counts as str; temp file + rename)."""
    atomic_write_json(
        path,
        [
            {
                "video_id": r["video_id"],
                "category_id": int(r["category_id"]),
                "score": float(r["score"]),
                "segmentations": [_json_rle(s) for s in r["segmentations"]],
            }
            for r in results
        ],
    )


# ----------------------------------------------------------------------------------------------
# outputs -> result tracks
# ----------------------------------------------------------------------------------------------
def id_map_tracks(
    id_map: Any, track_scores: Optional[Mapping[int, float]] = None, track_classes: Optional[Mapping[int, int]] = None
) -> Dict[int, TrackFrame]:
    """The tracks of one frame's (H, W) id map (0 background; array or tensor), with the frame's
    ``track_scores`` / ``track_classes`` (a track without a score scores 1, without a class is 0)."""
    m = id_map.detach().cpu().numpy() if hasattr(id_map, "detach") else np.asarray(id_map)
    scores, classes = track_scores or {}, track_classes or {}
    ids = np.flatnonzero(np.bincount(m.ravel(), minlength=1)) if m.dtype == np.uint8 else np.unique(m)
    return {
        int(i): (mask_to_rle(m == i), float(scores.get(int(i), 1.0)), int(classes.get(int(i), 0)))
        for i in ids
        if i != 0
    }


def instance_tracks(instances: Sequence[Mapping[str, Any]]) -> Dict[int, TrackFrame]:
    """The tracks of one frame of a video-dict prediction (``instance_id``, ``segmentation`` and
    optional ``score`` (default 1) / ``category_id`` (default 0) per instance)."""
    return {
        int(i["instance_id"]): (i["segmentation"], float(i.get("score", 1.0)), int(i.get("category_id", 0)))
        for i in instances
    }


def _category(video_id: Any, c: int, category_map: Optional[Mapping[int, int]], offset: int) -> int:
    if category_map is None:
        return int(c) + offset
    if c not in category_map:
        raise KeyError(f"video {video_id}: class {c} has no entry in category_map")
    return int(category_map[c])


def ytvis_tracks(
    video_id: Any,
    frames: Sequence[Optional[Mapping[int, TrackFrame]]],
    category_map: Optional[Mapping[int, int]] = None,
    category_offset: int = 0,
) -> List[Dict[str, Any]]:
    """YouTube-VIS result tracks of one video from its per-frame tracks (:func:`id_map_tracks`,
    :func:`instance_tracks`; ``None`` = a frame without output), in track-id order.

    Score rule: a track's ``score`` is the **mean of its per-frame scores over the frames it
    appears in**. The associators score a track anew in each frame (the confidence of that
    frame's mask); the mean over its life ranks a track that was solid throughout above one that
    was confident once, and is what ``VideoSegmenter.forward`` reports as ``track_scores`` --
    so ``tools/run_dataset.py --ytvis-results``, ``tools/demo.py`` and ``YTVISEvaluator`` give
    a video the same result list.

    Category: the track's class in the **last frame it appears in** (the trackers' class vote
    accumulates, so the last one has seen the most evidence), mapped through ``category_map``
    (e.g. contiguous -> JSON category id; a class missing from it is a ``KeyError``), else the
    class + ``category_offset``.
    """
    T = len(frames)
    segs: Dict[int, List[Any]] = {}
    scores: Dict[int, List[float]] = {}
    classes: Dict[int, int] = {}
    for t, tracks in enumerate(frames):
        for i, (rle, score, cls) in (tracks or {}).items():
            segs.setdefault(i, [None] * T)[t] = rle
            scores.setdefault(i, []).append(float(score))
            classes[i] = int(cls)
    return [
        {
            "video_id": video_id,
            "category_id": _category(video_id, classes[i], category_map, category_offset),
            "score": float(np.mean(scores[i])),
            "segmentations": segs[i],
            "track_id": i,
        }
        for i in sorted(segs)
    ]
