"""Files of the synthetic benchmark: one video's frames, palette PNGs and record, a split's
YouTube-VIS JSON (the layout under ``ROOT`` is described in :mod:`uvmos.data.synthetic`)."""

from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict, List, Optional

import cv2
import numpy as np

from uvmos.utils.file_io import atomic_write_json, replace_folder

from .io import write_palette_png
from .synthetic_assets import CATEGORY_SPECS
from .synthetic_render import SyntheticConfig, SyntheticVideo
from .video_dict import mask_to_rle

__all__ = ["RESOLUTION", "FORMAT_VERSION", "write_video", "ytvis_categories"]

FORMAT_VERSION = 1
RESOLUTION = "480p"  # DAVIS folder name, kept for every frame size (the loaders expect it)


def ytvis_categories() -> List[Dict[str, Any]]:
    """``[{"id": k + 1, "name", "supercategory": shape family, "texture"}]`` for the JSON."""
    return [
        {"id": k + 1, "name": c.name, "supercategory": c.shape, "texture": c.texture}
        for k, c in enumerate(CATEGORY_SPECS)
    ]


def _video_record(video: SyntheticVideo, split: str, index: int) -> Dict[str, Any]:
    """Per-video record: what the YouTube-VIS JSON needs, so it is rebuilt without reading PNGs."""
    H, W = video.id_maps[0].shape
    tracks = []
    for iid in sorted(video.categories):
        segs, areas, boxes = [], [], []
        for id_map in video.id_maps:
            m = id_map == iid
            if not m.any():
                segs.append(None), areas.append(None), boxes.append(None)
                continue
            ys, xs = np.nonzero(m)
            x0, y0 = int(xs.min()), int(ys.min())
            segs.append(mask_to_rle(m))
            areas.append(int(m.sum()))
            boxes.append([float(x0), float(y0), float(xs.max() + 1 - x0), float(ys.max() + 1 - y0)])
        tracks.append(
            {
                "instance_id": iid,
                "category_id": video.categories[iid] + 1,
                "segmentations": segs,
                "areas": areas,
                "bboxes": boxes,
            }
        )
    return {
        "name": video.name,
        "split": split,
        "index": index,
        "seed": video.seed,
        "height": H,
        "width": W,
        "length": len(video.frames),
        "tracks": tracks,
    }


def _rmtree(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)


def write_video(root: str, video: SyntheticVideo, split: str, index: int, jpeg_quality: int = 90) -> Dict[str, Any]:
    """Write one video's frames, palette PNGs and record under ``root``, atomically.

    Frames and annotations go to hidden temp folders renamed into place; the record
    ``ROOT/records/<name>.json`` is written last and marks the video complete.
    Returns the record.
    """
    name = video.name
    for sub, ext in (("JPEGImages", "jpg"), ("Annotations", "png")):
        final = os.path.join(root, sub, RESOLUTION, name)
        tmp = os.path.join(root, sub, RESOLUTION, f".tmp-{name}")
        _rmtree(tmp)
        os.makedirs(tmp)
        for t, (frame, id_map) in enumerate(zip(video.frames, video.id_maps)):
            path = os.path.join(tmp, f"{t:05d}.{ext}")
            if ext == "jpg":
                if not cv2.imwrite(path, frame, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]):
                    raise OSError(f"{path}: OpenCV could not write the frame")
            else:
                write_palette_png(path, id_map)
        replace_folder(tmp, final)  # a folder without a record is an interrupted earlier attempt
    record = _video_record(video, split, index)
    atomic_write_json(os.path.join(root, "records", f"{name}.json"), record)
    return record


def _read_record(root: str, name: str) -> Optional[Dict[str, Any]]:
    path = os.path.join(root, "records", f"{name}.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError:  # cannot happen with atomic writes unless edited by hand: regenerate
        return None


def _is_done(root: str, record: Optional[Dict[str, Any]], seed: int, cfg: SyntheticConfig) -> bool:
    if record is None or record.get("seed") != seed or record.get("length") != cfg.length:
        return False
    for sub, ext in (("JPEGImages", ".jpg"), ("Annotations", ".png")):
        folder = os.path.join(root, sub, RESOLUTION, record["name"])
        if not os.path.isdir(folder) or sum(n.endswith(ext) for n in os.listdir(folder)) != cfg.length:
            return False
    return True


def _ytvis_json(records: List[Dict[str, Any]], split: str) -> Dict[str, Any]:
    videos, annotations = [], []
    for vid, rec in enumerate(records, start=1):
        T, H, W = rec["length"], rec["height"], rec["width"]
        videos.append(
            {
                "id": vid,
                "name": rec["name"],
                "width": W,
                "height": H,
                "length": T,
                "file_names": [f"{rec['name']}/{t:05d}.jpg" for t in range(T)],
            }
        )
        for tr in rec["tracks"]:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "video_id": vid,
                    "instance_id": tr["instance_id"],
                    "category_id": tr["category_id"],
                    "segmentations": tr["segmentations"],
                    "areas": tr["areas"],
                    "bboxes": tr["bboxes"],
                    "iscrowd": 0,
                    "height": H,
                    "width": W,
                    "length": T,
                }
            )
    return {
        "info": {"description": f"uvmos synthetic benchmark, split {split}", "version": FORMAT_VERSION},
        "licenses": [],
        "videos": videos,
        "annotations": annotations,
        "categories": ytvis_categories(),
    }
