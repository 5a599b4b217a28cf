"""Tiny in-memory video streams for the T-Net / meta-arch tests (not a test module).

Frames come from the synthetic benchmark renderer (``uvmos.data.synthetic.generate_video``) and the
ground truth is turned into a video dict (RLE), so the oracle proposer can serve it.
"""

from typing import List, Tuple

import numpy as np

from uvmos.data.synthetic import SyntheticConfig, generate_video
from uvmos.data.video_dict import instances_from_id_map


def synthetic_stream(
    seed: int = 0, height: int = 96, width: int = 160, length: int = 12, objects: Tuple[int, int] = (2, 3), **cfg_kw
) -> Tuple[List[np.ndarray], dict]:
    """(frames (H, W, 3) uint8 BGR, video dict with annotations) of one rendered video."""
    cfg = SyntheticConfig(
        height=height, width=width, length=length, min_objects=objects[0], max_objects=objects[1], **cfg_kw
    )
    vid = generate_video(seed, cfg, name=f"stream_{seed}")
    anns = [instances_from_id_map(m.astype(np.int32), vid.categories, void_value=None) for m in vid.id_maps]
    video = {"video_id": vid.name, "height": height, "width": width, "length": length, "annotations": anns}
    return vid.frames, video


def gt_id_maps(video: dict) -> np.ndarray:
    """(T, H, W) ground-truth id maps of a video dict."""
    from uvmos.data.video_dict import id_map_from_instances

    return np.stack([id_map_from_instances(a, video["height"], video["width"]) for a in video["annotations"]])


def shapes_stream(
    length: int = 12, height: int = 64, width: int = 96, hidden=(), seed: int = 0
) -> Tuple[List[np.ndarray], dict]:
    """Two textured objects moving over a noisy grey background: a red square (id 1) moving right
    and a blue disc (id 2) moving left. Object 2 is absent in the frames listed in ``hidden``
    (an occlusion: gone from the frame and from the ground truth), then reappears."""
    import cv2

    rng = np.random.default_rng(seed)
    bg = (110 + rng.normal(0, 12, (height, width, 3))).clip(0, 255).astype(np.uint8)
    tex_a = rng.normal(0, 15, (height, width, 3))
    tex_b = rng.normal(0, 15, (height, width, 3))
    frames, anns = [], []
    for t in range(length):
        img = bg.copy()
        id_map = np.zeros((height, width), np.int32)
        s = height // 4
        x0 = 4 + t * max(1, width // (3 * length))
        y0 = height // 6
        id_map[y0 : y0 + s, x0 : x0 + s] = 1
        if t not in hidden:
            disc = np.zeros((height, width), np.uint8)
            cx = width - 12 - t * max(1, width // (3 * length))
            cv2.circle(disc, (cx, int(height * 0.68)), height // 7, 1, -1)
            id_map[(disc > 0) & (id_map == 0)] = 2
        colour = {1: (40, 40, 200), 2: (200, 60, 40)}  # BGR: red square, blue disc
        for k, tex in ((1, tex_a), (2, tex_b)):
            m = id_map == k
            img[m] = (np.array(colour[k]) + tex[m]).clip(0, 255).astype(np.uint8)
        frames.append(img)
        anns.append(instances_from_id_map(id_map, void_value=None))
    video = {"video_id": f"shapes_{seed}", "height": height, "width": width, "length": length, "annotations": anns}
    return frames, video


def tiny_backbone_features(input_size=(64, 96), seed: int = 0):
    """A narrow random ResNet-18 (res2: stride 4, res3: 8, res4: 16) as T-Net's feature source."""
    import torch

    from uvmos.modeling.backbone import build_dilated_resnet
    from uvmos.modeling.tnet import BackboneFeatures

    torch.manual_seed(seed)
    bb = build_dilated_resnet(
        depth=18,
        norm="FrozenBN",
        stem_out_channels=16,
        res2_out_channels=16,
        res5_dilation=1,
        out_features=("res2", "res3", "res4"),
    )
    return BackboneFeatures(bb, input_size=input_size, pixel_std=(57.4, 57.1, 58.4))
