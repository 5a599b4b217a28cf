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
    video = {
        "video_id": vid.name,
        "height": height,
        "width": width,
        "length": length,
        "annotations": anns,
    }
    return vid.frames, video


def gt_id_maps(video: dict) -> np.ndarray:
    """(T, H, W) ground-truth id maps of a video dict."""
    from uvmos.data.video_dict import id_map_from_instances

    return np.stack([id_map_from_instances(a, video["height"], video["width"]) for a in video["annotations"]])
