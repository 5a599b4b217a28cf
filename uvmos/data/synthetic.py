"""The synthetic multi-object video benchmark: generation API and the dataset writer.

No real video dataset can be downloaded in the project's workspace, so this renders one
(docs/synthetic.md): moving textured primary objects, occluding each other, entering and leaving,
changing scale, over panning real-image backgrounds with static unannotated distractors.
Rendering lives in :mod:`uvmos.data.synthetic_render`, textures/shapes/categories in
:mod:`uvmos.data.synthetic_assets`.

Layout written under ``ROOT`` (read by ``uvmos_synth_{split}`` / ``uvmos_synth_ytvis_{split}``)::

    ROOT/manifest.json                        config, seeds and video counts per split
    ROOT/JPEGImages/480p/<video>/00000.jpg    frames (JPEG quality 90); "480p" whatever the size
    ROOT/Annotations/480p/<video>/00000.png   DAVIS palette PNG, pixel = object id (0 background)
    ROOT/ImageSets/2017/<split>.txt           one video name per line
    ROOT/ytvis/<split>.json                   YouTube-VIS 2019 format (compressed RLE)
    ROOT/records/<video>.json                 per-video record; its presence marks the video done

Seeds: video ``i`` of a split uses ``seed_base + i`` with ``seed_base = seed * 10**7 + offset``,
offset 0 / 10**6 / 2*10**6 for train / val / test, so the splits never share a seed.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from typing import Any, Dict, List, Optional

import cv2
import numpy as np
from tqdm import tqdm

from ..engine.writers import atomic_write_json, write_palette_png
from .synthetic_assets import CATEGORIES, CATEGORY_SPECS
from .synthetic_render import SyntheticConfig, SyntheticVideo, generate_video
from .video_dict import DatasetFormatError, mask_to_rle

__all__ = [
    "CATEGORIES",
    "SPLITS",
    "SyntheticConfig",
    "SyntheticVideo",
    "generate_video",
    "split_seed_base",
    "video_name",
    "write_video",
    "write_split",
    "make_synthetic_dataset",
    "ytvis_categories",
    "config_from_manifest",
    "SyntheticRootError",
]

SPLITS = ("train", "val", "test")
_SPLIT_OFFSET = {"train": 0, "val": 1_000_000, "test": 2_000_000}
MAX_VIDEOS_PER_SPLIT = 1_000_000
FORMAT_VERSION = 1
RESOLUTION = "480p"  # DAVIS folder name, kept for every frame size (the loaders expect it)


def split_seed_base(seed: int, split: str) -> int:
    """First video seed of ``split`` for dataset seed ``seed`` (disjoint ranges per split)."""
    if split not in _SPLIT_OFFSET:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return int(seed) * 10 * MAX_VIDEOS_PER_SPLIT + _SPLIT_OFFSET[split]


def video_name(split: str, index: int) -> str:
    return f"synth_{split}_{index:04d}"


def ytvis_categories() -> List[Dict[str, Any]]:
    """``[{"id": k + 1, "name", "supercategory": shape family, "texture"}]`` for the JSON."""
    return [
        {"id": k + 1, "name": c.name, "supercategory": c.shape, "texture": c.texture} for k, c in enumerate(CATEGORY_SPECS)
    ]


class SyntheticRootError(DatasetFormatError):
    """The output root holds something this run must not overwrite (names the file)."""


# ------------------------------------------------------------------------------------------------
# one video
# ------------------------------------------------------------------------------------------------
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
            {"instance_id": iid, "category_id": video.categories[iid] + 1, "segmentations": segs, "areas": areas, "bboxes": boxes}
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
        _rmtree(final)  # a folder without a record is an interrupted earlier attempt
        os.replace(tmp, final)
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


# ------------------------------------------------------------------------------------------------
# manifest
# ------------------------------------------------------------------------------------------------
def _manifest_path(root: str) -> str:
    return os.path.join(root, "manifest.json")


def _load_manifest(root: str, cfg: SyntheticConfig) -> Dict[str, Any]:
    """The root's manifest, or a fresh one for an empty/new root. A manifest from another config
    (or a non-empty root without one) is an error: nothing is overwritten."""
    path = _manifest_path(root)
    fresh = {"generator": "uvmos.data.synthetic", "format_version": FORMAT_VERSION, "config": cfg.to_dict(),
             "categories": ytvis_categories(), "splits": {}}
    if not os.path.isfile(path):
        if os.path.isdir(root) and [n for n in os.listdir(root) if not n.startswith(".")]:
            raise SyntheticRootError(root, "is not empty and has no manifest.json (not a synthetic dataset); "
                                     "pick another output root or empty it")
        return fresh
    try:
        with open(path) as f:
            manifest = json.load(f)
    except ValueError as e:
        raise SyntheticRootError(path, f"unreadable manifest ({e}); delete the root and regenerate") from e
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("config") != cfg.to_dict():
        old = manifest.get("config") or {}
        diff = {k: (old.get(k), v) for k, v in cfg.to_dict().items() if old.get(k) != v}
        raise SyntheticRootError(
            path,
            f"this root was generated with a different config (key: (old, new) = {diff or 'format version'}); "
            "pick another output root or delete this one",
        )
    return manifest


def _check_split(manifest: Dict[str, Any], root: str, split: str, num_videos: int, seed_base: int) -> None:
    entry = manifest["splits"].get(split)
    if entry is None:
        return
    if entry["seed_base"] != seed_base:
        raise SyntheticRootError(
            _manifest_path(root),
            f"split {split!r} was generated from seed base {entry['seed_base']}, not {seed_base} "
            "(another --seed?); pick another output root or delete this one",
        )
    if num_videos < entry["num_videos"]:
        raise SyntheticRootError(
            _manifest_path(root),
            f"split {split!r} holds {entry['num_videos']} videos, fewer ({num_videos}) were asked for; "
            "ask for at least as many, or pick another output root",
        )


# ------------------------------------------------------------------------------------------------
# a split, a dataset
# ------------------------------------------------------------------------------------------------
def _ytvis_json(records: List[Dict[str, Any]], split: str) -> Dict[str, Any]:
    videos, annotations = [], []
    for vid, rec in enumerate(records, start=1):
        T, H, W = rec["length"], rec["height"], rec["width"]
        videos.append(
            {"id": vid, "name": rec["name"], "width": W, "height": H, "length": T,
             "file_names": [f"{rec['name']}/{t:05d}.jpg" for t in range(T)]}
        )
        for tr in rec["tracks"]:
            annotations.append(
                {"id": len(annotations) + 1, "video_id": vid, "instance_id": tr["instance_id"],
                 "category_id": tr["category_id"], "segmentations": tr["segmentations"], "areas": tr["areas"],
                 "bboxes": tr["bboxes"], "iscrowd": 0, "height": H, "width": W, "length": T}
            )
    return {
        "info": {"description": f"uvmos synthetic benchmark, split {split}", "version": FORMAT_VERSION},
        "licenses": [],
        "videos": videos,
        "annotations": annotations,
        "categories": ytvis_categories(),
    }


def write_split(
    root: str,
    split: str,
    num_videos: int,
    cfg: Optional[SyntheticConfig] = None,
    seed_base: Optional[int] = None,
    progress: bool = True,
) -> List[str]:
    """Generate (or complete) one split: videos ``synth_<split>_0000..``, its ImageSets file and
    ``ytvis/<split>.json``. Finished videos of an earlier run with the same config are kept.

    Args:
        root: dataset root (created if missing; must be empty or hold a matching manifest.json).
        split: "train" | "val" | "test".
        num_videos: videos in the split, >= 1 and >= the count already recorded in the manifest.
        cfg: the render config (default ``SyntheticConfig()``).
        seed_base: seed of video 0 (default :func:`split_seed_base` (0, split)).
    Returns:
        the video names, in order.
    """
    cfg = cfg or SyntheticConfig()
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not 1 <= num_videos <= MAX_VIDEOS_PER_SPLIT:
        raise ValueError(f"num_videos must be in 1..{MAX_VIDEOS_PER_SPLIT}, got {num_videos}")
    seed_base = split_seed_base(0, split) if seed_base is None else int(seed_base)
    root = os.path.abspath(os.path.expanduser(root))
    manifest = _load_manifest(root, cfg)
    _check_split(manifest, root, split, num_videos, seed_base)
    os.makedirs(root, exist_ok=True)
    manifest["splits"][split] = {"seed_base": seed_base, "num_videos": num_videos,
                                 "video_seed": "seed_base + index", "names": f"synth_{split}_<index:04d>"}
    atomic_write_json(_manifest_path(root), manifest)

    names, records, skipped = [], [], 0
    for i in tqdm(range(num_videos), desc=f"uvmos_synth {split}", disable=not progress, unit="video"):
        name, seed = video_name(split, i), seed_base + i
        record = _read_record(root, name)
        if _is_done(root, record, seed, cfg):
            skipped += 1
        else:
            record = write_video(root, generate_video(seed, cfg, name=name), split, i, cfg.jpeg_quality)
        names.append(name)
        records.append(record)

    image_sets = os.path.join(root, "ImageSets", "2017", f"{split}.txt")
    os.makedirs(os.path.dirname(image_sets), exist_ok=True)
    tmp = image_sets + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(n + "\n" for n in names)
    os.replace(tmp, image_sets)
    atomic_write_json(os.path.join(root, "ytvis", f"{split}.json"), _ytvis_json(records, split))
    return names


def make_synthetic_dataset(
    root: str,
    cfg: Optional[SyntheticConfig] = None,
    num_train: int = 40,
    num_val: int = 10,
    num_test: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> Dict[str, List[str]]:
    """Write the three splits under ``root`` (rerunnable: finished videos are skipped).

    Returns ``{split: [video names]}`` (splits with 0 videos are skipped). A root generated with another config or seed raises
    :class:`SyntheticRootError` naming its manifest.json.
    """
    cfg = cfg or SyntheticConfig()
    counts = dict(zip(SPLITS, (num_train, num_val, num_test)))
    manifest = _load_manifest(os.path.abspath(os.path.expanduser(root)), cfg)  # check all before writing
    for split, n in counts.items():
        _check_split(manifest, root, split, n, split_seed_base(seed, split))
    out = {}
    for split, n in counts.items():
        if n == 0:  # a split not asked for is not written (an empty ImageSets file is invalid DAVIS)
            continue
        out[split] = write_split(root, split, n, cfg, split_seed_base(seed, split), progress=progress)
    return out


def config_from_manifest(root: str) -> SyntheticConfig:
    """The :class:`SyntheticConfig` a root was generated with (reads ``ROOT/manifest.json``)."""
    path = _manifest_path(root)
    if not os.path.isfile(path):
        raise DatasetFormatError(path, "manifest not found (not a synthetic dataset root)")
    with open(path) as f:
        cfg = json.load(f).get("config")
    fields = {f.name for f in dataclasses.fields(SyntheticConfig)}
    if not isinstance(cfg, dict) or set(cfg) - fields:
        raise DatasetFormatError(path, f"config has unknown keys {sorted(set(cfg or {}) - fields)}")
    return SyntheticConfig(**cfg)
