"""Video-level IoU and track areas of YouTube-VIS evaluation (youtubevos cocoapi's ``ytvoseval.py``).

The IoU of a detected track d and a ground-truth track g is the sum over frames of |d_t ∩ g_t| over
the sum over frames of |d_t ∪ g_t|; a frame in which a track is absent (``None``) contributes
nothing to the intersection and its other mask to the union; 0 when the union is empty. Tracks are
lists of per-frame COCO RLEs (or None).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util

__all__ = ["video_iou"]


def _mean_area(areas: Sequence[Optional[float]]) -> float:
    """The toolkit's ``avg_area``: mean of the truthy (present, non-zero) per-frame areas, else 0."""
    a = [x for x in areas if x]
    return float(np.array(a).mean()) if a else 0.0


def video_iou(d_seq: Sequence[Optional[Dict]], g_seq: Sequence[Optional[Dict]]) -> float:
    """Video IoU of two tracks (per-frame COCO RLEs or None), as ytvoseval's ``iou_seq``."""
    i = 0.0
    u = 0.0
    for d, g in zip(d_seq, g_seq):
        if d and g:
            inter = float(mask_util.area(mask_util.merge([d, g], True)))
            i += inter
            u += float(mask_util.area(d)) + float(mask_util.area(g)) - inter
        elif g:
            u += float(mask_util.area(g))
        elif d:
            u += float(mask_util.area(d))
    return i / u if u > 0 else 0.0


def _iou_matrix(ds: Sequence[Sequence], gs: Sequence[Sequence]) -> np.ndarray:
    """(D, G) video IoUs; per frame one vectorised pycocotools call per (d, g) overlap only."""
    D, G = len(ds), len(gs)
    inter = np.zeros((D, G))
    union = np.zeros((D, G))
    if D == 0 or G == 0:
        return inter
    T = max(len(s) for s in list(ds) + list(gs))
    for t in range(T):
        dt = [(k, s[t]) for k, s in enumerate(ds) if t < len(s) and s[t]]
        gt = [(k, s[t]) for k, s in enumerate(gs) if t < len(s) and s[t]]
        ad = np.zeros(D)
        ag = np.zeros(G)
        if dt:
            ad[[k for k, _ in dt]] = mask_util.area([r for _, r in dt])
        if gt:
            ag[[k for k, _ in gt]] = mask_util.area([r for _, r in gt])
        frame_inter = np.zeros((D, G))
        if dt and gt:
            # boxes first: only overlapping boxes need an RLE intersection
            ov = mask_util.iou(
                [mask_util.toBbox(r).tolist() for _, r in dt],
                [mask_util.toBbox(r).tolist() for _, r in gt],
                [0] * len(gt),
            )
            ov = np.atleast_2d(ov)
            for a, b in zip(*np.nonzero(ov > 0)):
                kd, rd = dt[a]
                kg, rg = gt[b]
                frame_inter[kd, kg] = mask_util.area(mask_util.merge([rd, rg], True))
        inter += frame_inter
        union += ad[:, None] + ag[None, :] - frame_inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    iou[~(union > 0)] = 0.0
    return iou
