"""The synthetic multi-object video benchmark: generation API and the dataset writer.

No real video dataset can be downloaded in the project's workspace, so this renders one
(docs/synthetic.md): moving textured primary objects, occluding each other, entering and leaving,
changing scale, over panning real-image backgrounds with static unannotated distractors.
Rendering lives in :mod:`uvmos.data.synthetic_render` (background and camera:
:mod:`uvmos.data.synthetic_canvas`), textures/shapes/categories in :mod:`uvmos.data.synthetic_assets`,
the files of one video and a split's JSON in :mod:`uvmos.data.synthetic_files`.

Layout written under ``ROOT`` (read by ``uvmos_synth_{split}`` / ``uvmos_synth_ytvis_{split}``)::

    ROOT/manifest.json                        config, seeds and video counts per split
    ROOT/JPEGImages/480p/<video>/00000.jpg    frames (JPEG quality 90); "480p" whatever the size
    ROOT/Annotations/480p/<video>/00000.png   DAVIS palette PNG, pixel = object id (0 background)
    ROOT/ImageSets/2017/<split>.txt           one video name per line
    ROOT/ytvis/<split>.json                   YouTube-VIS 2019 format (compressed RLE)
    ROOT/records/<video>.json                 per-video record; its presence marks the video done

Seeds: video ``i`` of a split uses ``seed_base + i`` with ``seed_base = seed * 10**7 + offset``,
offset 0 / 10**6 / 2*10**6 for train / val / test, so the splits never share a seed.

Presets: ``SyntheticConfig`` renders the default scenes (videos ``synth_<split>_<i>``);
``HardSyntheticConfig`` the hard preset (:mod:`uvmos.data.synthetic_hard`, videos ``hard_<split>_<i>``,
seed offsets + 5*10**6). Split ``test_seed<N>`` is the test split of dataset seed N, written next to
the others by ``make_synthetic_dataset(..., test_seeds=[...])``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any, Dict, List, Optional, Sequence

from tqdm import tqdm

from uvmos.utils.file_io import atomic_write_json, atomic_write_text

from .synthetic_assets import CATEGORIES
from .synthetic_files import (
    FORMAT_VERSION,
    RESOLUTION,
    _is_done,
    _read_record,
    _ytvis_json,
    write_video,
    ytvis_categories,
)
from .synthetic_hard import HardSyntheticConfig, generate_hard_video
from .synthetic_render import SyntheticConfig, SyntheticVideo
from .synthetic_render import generate_video as generate_default_video
from .video_dict import DatasetFormatError

__all__ = [
    "CATEGORIES",
    "SPLITS",
    "RESOLUTION",
    "SyntheticConfig",
    "HardSyntheticConfig",
    "PRESETS",
    "SyntheticVideo",
    "generate_video",
    "split_seed_base",
    "base_split",
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
# preset -> (config class, video name prefix, seed offset). The hard preset's seeds start at
# 5*10**6 within each dataset seed's range of 10**7, so they never meet the default preset's.
PRESETS = {"default": (SyntheticConfig, "synth", 0), "hard": (HardSyntheticConfig, "hard", 5_000_000)}
_SPLIT_RE = re.compile(r"^(train|val|test)(?:_seed(\d+))?$")
MAX_VIDEOS_PER_SPLIT = 1_000_000


def preset_of(cfg: SyntheticConfig) -> str:
    return getattr(cfg, "preset", "default")


def base_split(split: str) -> str:
    """ "train" | "val" | "test" of a split name; ``test_seed<N>`` is the test split generated
    from dataset seed N (the hard preset's extra test seeds)."""
    m = _SPLIT_RE.match(split)
    if m is None:
        raise ValueError(f"split must be one of {SPLITS} or '<split>_seed<N>', got {split!r}")
    return m.group(1)


def split_seed_base(seed: int, split: str, preset: str = "default") -> int:
    """First video seed of ``split`` for dataset seed ``seed`` (disjoint ranges per split and preset)."""
    if split not in _SPLIT_OFFSET:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return int(seed) * 10 * MAX_VIDEOS_PER_SPLIT + PRESETS[preset][2] + _SPLIT_OFFSET[split]


def video_name(split: str, index: int, preset: str = "default") -> str:
    return f"{PRESETS[preset][1]}_{split}_{index:04d}"


def generate_video(seed: int, cfg: Optional[SyntheticConfig] = None, name: Optional[str] = None) -> SyntheticVideo:
    """Render one video of the config's preset (:class:`HardSyntheticConfig` -> the hard preset)."""
    if isinstance(cfg, HardSyntheticConfig):
        return generate_hard_video(seed, cfg, name)
    return generate_default_video(seed, cfg, name)


class SyntheticRootError(DatasetFormatError):
    """The output root holds something this run must not overwrite (names the file)."""


# ------------------------------------------------------------------------------------------------
# manifest
# ------------------------------------------------------------------------------------------------
def _manifest_path(root: str) -> str:
    return os.path.join(root, "manifest.json")


def _load_manifest(root: str, cfg: SyntheticConfig) -> Dict[str, Any]:
    """The root's manifest, or a fresh one for an empty/new root. A manifest from another config
    (or a non-empty root without one) is an error: nothing is overwritten."""
    path = _manifest_path(root)
    fresh = {
        "generator": "uvmos.data.synthetic",
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "categories": ytvis_categories(),
        "splits": {},
    }
    if not os.path.isfile(path):
        if os.path.isdir(root) and [n for n in os.listdir(root) if not n.startswith(".")]:
            raise SyntheticRootError(
                root,
                "is not empty and has no manifest.json (not a synthetic dataset); pick another output root or empty it",
            )
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
def write_split(
    root: str,
    split: str,
    num_videos: int,
    cfg: Optional[SyntheticConfig] = None,
    seed_base: Optional[int] = None,
    progress: bool = True,
) -> List[str]:
    """Generate (or complete) one split: videos ``<prefix>_<split>_0000..`` (prefix "synth", or
    "hard" for the hard preset), its ImageSets file and
    ``ytvis/<split>.json``. Finished videos of an earlier run with the same config are kept.

    Args:
        root: dataset root (created if missing; must be empty or hold a matching manifest.json).
        split: "train" | "val" | "test", or "test_seed<N>" (the test split from dataset seed N).
        num_videos: videos in the split, >= 1 and >= the count already recorded in the manifest.
        cfg: the render config (default ``SyntheticConfig()``).
        seed_base: seed of video 0 (default :func:`split_seed_base` (N or 0, split, preset)).
    Returns:
        the video names, in order.
    """
    cfg = cfg or SyntheticConfig()
    base = base_split(split)
    preset = preset_of(cfg)
    if not 1 <= num_videos <= MAX_VIDEOS_PER_SPLIT:
        raise ValueError(f"num_videos must be in 1..{MAX_VIDEOS_PER_SPLIT}, got {num_videos}")
    if seed_base is None:
        m = _SPLIT_RE.match(split)
        seed_base = split_seed_base(int(m.group(2) or 0), base, preset)
    seed_base = int(seed_base)
    root = os.path.abspath(os.path.expanduser(root))
    manifest = _load_manifest(root, cfg)
    _check_split(manifest, root, split, num_videos, seed_base)
    os.makedirs(root, exist_ok=True)
    manifest["splits"][split] = {
        "seed_base": seed_base,
        "num_videos": num_videos,
        "video_seed": "seed_base + index",
        "names": f"{PRESETS[preset][1]}_{split}_<index:04d>",
    }
    atomic_write_json(_manifest_path(root), manifest)

    names, records, skipped = [], [], 0
    for i in tqdm(range(num_videos), desc=f"{PRESETS[preset][1]} {split}", disable=not progress, unit="video"):
        name, seed = video_name(split, i, preset), seed_base + i
        record = _read_record(root, name)
        if _is_done(root, record, seed, cfg):
            skipped += 1
        else:
            record = write_video(root, generate_video(seed, cfg, name=name), split, i, cfg.jpeg_quality)
        names.append(name)
        records.append(record)

    atomic_write_text(os.path.join(root, "ImageSets", "2017", f"{split}.txt"), "".join(n + "\n" for n in names))
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
    test_seeds: Sequence[int] = (),
) -> Dict[str, List[str]]:
    """Write the three splits under ``root`` (rerunnable: finished videos are skipped).

    ``test_seeds``: further dataset seeds for the test split; seed N (other than ``seed``) writes
    split ``test_seed<N>`` with ``num_test`` videos (its own seed range), for mean +- std over
    generator seeds. Returns ``{split: [video names]}`` (splits with 0 videos are skipped). A root
    generated with another config or seed raises :class:`SyntheticRootError` naming its manifest.json.
    """
    cfg = cfg or SyntheticConfig()
    preset = preset_of(cfg)
    jobs = [
        (split, n, split_seed_base(seed, split, preset)) for split, n in zip(SPLITS, (num_train, num_val, num_test))
    ]
    jobs += [
        (f"test_seed{s}", num_test, split_seed_base(s, "test", preset)) for s in dict.fromkeys(test_seeds) if s != seed
    ]
    manifest = _load_manifest(os.path.abspath(os.path.expanduser(root)), cfg)  # check all before writing
    for split, n, base in jobs:
        _check_split(manifest, root, split, n, base)
    out = {}
    for split, n, base in jobs:
        if n == 0:  # a split not asked for is not written (an empty ImageSets file is invalid DAVIS)
            continue
        out[split] = write_split(root, split, n, cfg, base, progress=progress)
    return out


def config_from_manifest(root: str) -> SyntheticConfig:
    """The :class:`SyntheticConfig` a root was generated with (reads ``ROOT/manifest.json``)."""
    path = _manifest_path(root)
    if not os.path.isfile(path):
        raise DatasetFormatError(path, "manifest not found (not a synthetic dataset root)")
    with open(path) as f:
        cfg = json.load(f).get("config")
    preset = cfg.get("preset", "default") if isinstance(cfg, dict) else None
    if preset not in PRESETS:
        raise DatasetFormatError(path, f"unknown preset {preset!r} (known: {sorted(PRESETS)})")
    cls = PRESETS[preset][0]
    fields = {f.name for f in dataclasses.fields(cls)}
    if set(cfg) - fields:
        raise DatasetFormatError(path, f"config has unknown keys {sorted(set(cfg) - fields)}")
    return cls(**cfg)
