"""DAVIS-2016 / DAVIS-2017 (and the synthetic set, which uses the same layout) -> video dicts.

Layout (``resolution`` is usually "480p")::

    ROOT/JPEGImages/<res>/<seq>/00000.jpg ...
    ROOT/<annotations>/<res>/<seq>/00000.png ...     Annotations | Annotations_unsupervised
    ROOT/ImageSets/2017/<image_set>.txt              DAVIS-2017: one sequence name per line
    ROOT/ImageSets/<res>/<image_set>.txt             DAVIS-2016: sequence names, or the original
                                                     per-frame lines "/JPEGImages/480p/bear/00000.jpg
                                                     /Annotations/480p/bear/00000.png"

DAVIS objects are class-agnostic: every instance gets ``category_id`` 0. Palette value 255 is
"void" (ignored in training and evaluation) and is stored as the per-frame ``void`` RLE.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from fvcore.common.timer import Timer

from .io import VOID_ID, image_size, list_images, read_annotation_png
from .video_dict import DatasetFormatError, instances_from_id_map, mask_to_rle

__all__ = ["load_davis_videos", "davis_image_set_file", "read_davis_image_set"]

logger = logging.getLogger(__name__)


def davis_image_set_file(root: str, image_set: str, year: str = "2017", resolution: str = "480p") -> str:
    """Path of ``ImageSets/2017/<set>.txt`` (DAVIS-2017) or ``ImageSets/<res>/<set>.txt`` (DAVIS-2016).

    ``image_set`` may also be a path to a .txt file.
    """
    if image_set.endswith(".txt") or os.path.isabs(image_set):
        return image_set
    sub = resolution if str(year) == "2016" else str(year)
    return os.path.join(root, "ImageSets", sub, image_set + ".txt")


def read_davis_image_set(path: str) -> "OrderedDict[str, Optional[List[str]]]":
    """Parse an ImageSets file -> ``{sequence: None | [frame path relative to root, ...]}``.

    A line is either a sequence name (all frames of its folder) or the DAVIS-2016 per-frame form
    ``/JPEGImages/<res>/<seq>/<frame>.jpg [/Annotations/<res>/<seq>/<frame>.png]``; the two forms
    are not mixed within a file.
    """
    if not os.path.isfile(path):
        raise DatasetFormatError(path, "image set file not found")
    seqs: "OrderedDict[str, Optional[List[str]]]" = OrderedDict()
    with open(path) as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise DatasetFormatError(path, "image set file is empty")
    per_frame = "/" in lines[0].split()[0]
    for lineno, line in enumerate(lines, 1):
        tokens = line.split()
        if per_frame != ("/" in tokens[0]) or (not per_frame and len(tokens) != 1):
            raise DatasetFormatError(path, f"line {lineno} {line!r} mixes sequence names and frame paths")
        if per_frame:
            frame = tokens[0].lstrip("/")
            seq = os.path.basename(os.path.dirname(frame))
            seqs.setdefault(seq, []).append(frame)
        else:
            seqs[tokens[0]] = None
    return seqs


def _void_rle(id_map: np.ndarray) -> Optional[Dict[str, Any]]:
    void = id_map == VOID_ID
    return mask_to_rle(void) if void.any() else None


def _sequence_frames(root: str, seq: str, listed_frames: Optional[List[str]], frame_dir: str) -> List[str]:
    """The frame files of ``seq``: every image of its folder, or those its image-set lines list."""
    if listed_frames is None:
        if not os.path.isdir(frame_dir):
            raise DatasetFormatError(frame_dir, f"sequence folder of {seq!r} not found")
        frames = list_images(frame_dir)
        if not frames:
            raise DatasetFormatError(frame_dir, f"sequence folder of {seq!r} holds no images")
        return frames
    frames = [os.path.join(root, p) for p in listed_frames]
    for p in frames:
        if not os.path.isfile(p):
            raise DatasetFormatError(p, f"frame listed in the image set of {seq!r} not found")
    return frames


def _frame_size(frames: List[str]) -> Tuple[int, int]:
    """(height, width) shared by all frames of a video (checked from the headers, no decoding)."""
    height, width = image_size(frames[0])
    for p in frames[1:]:
        hw = image_size(p)
        if hw != (height, width):
            raise DatasetFormatError(
                p, f"frame size {hw[1]}x{hw[0]} differs from {width}x{height} of {frames[0]} (same video)"
            )
    return height, width


def _annotation_files(
    ann_dir: str, seq: str, frames: List[str], frame_dir: str, all_listed: bool, annotated_frames: str
) -> Dict[str, str]:
    """``{frame stem: PNG path}`` of ``seq``, checked against the frames (``all_listed``: the frames
    are the whole folder, so a PNG without a frame is an error)."""
    if not os.path.isdir(ann_dir):
        raise DatasetFormatError(ann_dir, f"annotation folder of {seq!r} not found")
    ann_files = {os.path.splitext(os.path.basename(p))[0]: p for p in list_images(ann_dir, (".png",))}
    stems = [os.path.splitext(os.path.basename(p))[0] for p in frames]
    if all_listed:
        orphans = sorted(set(ann_files) - set(stems))
        if orphans:
            raise DatasetFormatError(
                ann_files[orphans[0]],
                f"annotation has no frame in {frame_dir} ({len(orphans)} such annotations; "
                f"{len(frames)} frames, {len(ann_files)} annotations)",
            )
    missing = [s for s in stems if s not in ann_files]
    if annotated_frames == "all" and missing:
        raise DatasetFormatError(
            ann_dir,
            f"frame/annotation count mismatch: {len(frames)} frames in {frame_dir} but "
            f"{len(frames) - len(missing)} matching annotations (first missing: {missing[0]}.png)",
        )
    if annotated_frames == "first" and stems[0] in missing:
        raise DatasetFormatError(os.path.join(ann_dir, stems[0] + ".png"), "first-frame annotation not found")
    return ann_files


def _read_annotations(video: Dict[str, Any], ann_files: Dict[str, str], binary: bool, max_id: int) -> None:
    """Set the video dict's ``annotations``, ``annotated`` and ``void`` from its PNGs."""
    kind = "binary" if binary else "palette"
    per_frame: List[List[Dict[str, Any]]] = []
    annotated: List[bool] = []
    voids: List[Optional[Dict[str, Any]]] = []
    for frame in video["file_names"]:
        stem = os.path.splitext(os.path.basename(frame))[0]
        if stem not in ann_files:
            per_frame.append([])
            annotated.append(False)
            voids.append(None)
            continue
        id_map = read_annotation_png(
            ann_files[stem], kind=kind, max_id=max_id, expected_size=(video["height"], video["width"]), frame_path=frame
        )
        per_frame.append(instances_from_id_map(id_map, void_value=VOID_ID))
        annotated.append(True)
        voids.append(_void_rle(id_map))
    video["annotations"] = per_frame
    video["annotated"] = annotated
    video["void"] = voids


def _load_sequence(
    root: str,
    seq: str,
    listed_frames: Optional[List[str]],
    annotations: Optional[str],
    resolution: str,
    binary: bool,
    annotated_frames: str,
    max_id: int,
) -> Dict[str, Any]:
    frame_dir = os.path.join(root, "JPEGImages", resolution, seq)
    frames = _sequence_frames(root, seq, listed_frames, frame_dir)
    height, width = _frame_size(frames)
    video: Dict[str, Any] = {
        "video_id": seq,
        "file_names": frames,
        "height": height,
        "width": width,
        "length": len(frames),
        "annotations": None,
    }
    if annotations is None:
        return video
    ann_dir = os.path.join(root, annotations, resolution, seq)
    ann_files = _annotation_files(ann_dir, seq, frames, frame_dir, listed_frames is None, annotated_frames)
    _read_annotations(video, ann_files, binary, max_id)
    return video


def load_davis_videos(
    root: str,
    image_set: Optional[str],
    annotations: Optional[str] = "Annotations",
    resolution: str = "480p",
    binary: bool = False,
    year: str = "2017",
    annotated_frames: str = "all",
    max_id: int = 254,
) -> List[Dict[str, Any]]:
    """Load a DAVIS split as a list of video dicts (schema: ``uvmos/data/video_dict.py``).

    Args:
        root: DAVIS root (holds JPEGImages/, Annotations/, ImageSets/).
        image_set: split name ("train", "val", "test-dev", ...), a .txt path, or None for every
            sequence folder under ``JPEGImages/<res>``.
        annotations: annotation folder ("Annotations", "Annotations_unsupervised"), or None when
            the split has no ground truth (then ``annotations`` is None in each video dict).
        resolution: "480p" or "Full-Resolution".
        binary: DAVIS-2016 masks (0/255 -> instance id 1) instead of palette ids.
        year: "2017" or "2016": where ImageSets lives (see :func:`davis_image_set_file`).
        annotated_frames: "all" — every frame must have its PNG (a count mismatch is an error);
            "first" — DAVIS-2017 test-dev style: the first frame must have one, frames without a
            PNG are marked ``annotated=False``.
        max_id: largest object id accepted in palette PNGs (255 is void).
    Returns:
        list of video dicts; instance ids come from the PNG (binary: 1), ``category_id`` 0.
    """
    if annotated_frames not in ("all", "first"):
        raise ValueError(f"annotated_frames must be 'all' or 'first', got {annotated_frames!r}")
    if not os.path.isdir(root):
        raise DatasetFormatError(root, "DAVIS root folder not found")
    timer = Timer()
    if image_set is None:
        seq_root = os.path.join(root, "JPEGImages", resolution)
        if not os.path.isdir(seq_root):
            raise DatasetFormatError(seq_root, "frame folder not found")
        seqs = OrderedDict((s, None) for s in sorted(os.listdir(seq_root)) if os.path.isdir(os.path.join(seq_root, s)))
        if not seqs:
            raise DatasetFormatError(seq_root, "no sequence folders")
    else:
        seqs = read_davis_image_set(davis_image_set_file(root, image_set, year, resolution))
    videos = [
        _load_sequence(root, seq, frames, annotations, resolution, binary, annotated_frames, max_id)
        for seq, frames in seqs.items()
    ]
    logger.info(
        "Loaded %d DAVIS videos (%d frames) from %s [%s] in %.2fs",
        len(videos),
        sum(v["length"] for v in videos),
        root,
        image_set,
        timer.seconds(),
    )
    return videos
