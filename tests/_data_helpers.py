"""Tiny on-disk datasets for the data-layer tests (DAVIS layout, YouTube-VIS JSON)."""

from __future__ import annotations

import json
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

BG = (40, 40, 40)


def colour(k: int) -> Tuple[int, int, int]:
    """A distinct BGR colour per instance id, far from BG, from 128 (pad value) and from each other."""
    return ((70 * k) % 256, 255 - (50 * k) % 200, (160 + 40 * k) % 256)


def save_palette_png(path: str, id_map: np.ndarray) -> None:
    im = Image.fromarray(id_map.astype(np.uint8), mode="P")
    pal = np.zeros((256, 3), dtype=np.uint8)
    for k in range(1, 255):
        pal[k] = colour(k)[::-1]
    pal[255] = (224, 224, 192)
    im.putpalette(pal.reshape(-1).tolist())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    im.save(path)


def save_frame(path: str, bgr: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).save(path)


def boxes_id_map(h: int, w: int, boxes: Dict[int, Tuple[int, int, int, int]]) -> np.ndarray:
    """(H, W) uint8 id map with axis-aligned boxes {id: (x0, y0, x1, y1)} painted in order."""
    m = np.zeros((h, w), dtype=np.uint8)
    for k, (x0, y0, x1, y1) in boxes.items():
        m[y0:y1, x0:x1] = k
    return m


def render(id_map: np.ndarray) -> np.ndarray:
    """BGR frame whose pixels encode the id map (the mask is drawn into the image)."""
    img = np.empty(id_map.shape + (3,), dtype=np.uint8)
    img[:] = BG
    for k in np.unique(id_map):
        if k not in (0, 255):
            img[id_map == k] = colour(int(k))
    return img


def make_davis(
    root: str,
    sequences: Dict[str, Sequence[np.ndarray]],
    image_set: str = "train",
    year: str = "2017",
    binary: bool = False,
    frame_ext: str = ".png",
    annotations: str = "Annotations",
    annotate: Optional[Dict[str, Sequence[int]]] = None,
) -> str:
    """Write a DAVIS-layout dataset: {seq: [id map per frame]} -> frames drawn from the id maps."""
    for seq, maps in sequences.items():
        keep = None if annotate is None else set(annotate.get(seq, range(len(maps))))
        for t, m in enumerate(maps):
            save_frame(os.path.join(root, "JPEGImages", "480p", seq, f"{t:05d}{frame_ext}"), render(m))
            if keep is not None and t not in keep:
                continue
            png = os.path.join(root, annotations, "480p", seq, f"{t:05d}.png")
            if binary:
                os.makedirs(os.path.dirname(png), exist_ok=True)
                Image.fromarray(((m > 0) * 255).astype(np.uint8), mode="L").save(png)
            else:
                save_palette_png(png, m)
    sub = "480p" if year == "2016" else "2017"
    os.makedirs(os.path.join(root, "ImageSets", sub), exist_ok=True)
    with open(os.path.join(root, "ImageSets", sub, f"{image_set}.txt"), "w") as f:
        f.write("\n".join(sequences) + "\n")
    return root


def moving_boxes(T: int = 3, h: int = 48, w: int = 64) -> Sequence[np.ndarray]:
    """T id maps with two boxes moving right by 3 px per frame, and a void strip."""
    maps = []
    for t in range(T):
        m = boxes_id_map(h, w, {1: (4 + 3 * t, 6, 24 + 3 * t, 30), 2: (36, 20 + t, 56, 44)})
        m[0:2, :] = 255
        maps.append(m)
    return maps


def write_ytvis_json(path: str, videos, annotations, categories) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"videos": videos, "annotations": annotations, "categories": categories}, f)
    return path


def tiny_synthetic_val(root, num_val: int = 2) -> None:
    """A tiny synthetic benchmark (64x96, 3 frames, up to 2 objects, ``num_val`` val videos) at ``root``."""
    from uvmos.data.synthetic import SyntheticConfig, make_synthetic_dataset

    cfg = SyntheticConfig(height=64, width=96, length=3, max_objects=2)
    make_synthetic_dataset(str(root), cfg, num_train=0, num_val=num_val, num_test=0, progress=False)
