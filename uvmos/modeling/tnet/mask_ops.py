"""Small mask operations shared by the associators: IoU matrices, resizing, the id map."""

from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F

__all__ = [
    "mask_iou",
    "downsample_masks",
    "upsample_scores",
    "paint_order",
    "paste_ranks",
    "paste_id_map",
    "crop_padding",
    "snap_to_proposals",
]


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every pair: a (K, H, W), b (P, H, W) bool -> (K, P) float; empty/empty counts 0."""
    if a.shape[0] == 0 or b.shape[0] == 0:
        return torch.zeros(a.shape[0], b.shape[0], device=a.device)
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(f"mask_iou: mask sizes differ: {tuple(a.shape[-2:])} vs {tuple(b.shape[-2:])}")
    af = a.reshape(a.shape[0], -1).float()
    bf = b.reshape(b.shape[0], -1).float()
    inter = af @ bf.T
    union = af.sum(1, keepdim=True) + bf.sum(1)[None] - inter
    return torch.where(union > 0, inter / union.clamp_min(1), torch.zeros_like(inter))


def downsample_masks(masks: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """(N, H, W) bool/float -> (N, 1, h, w) float in [0, 1]: the fraction of each cell covered
    (area interpolation), i.e. a soft label at feature resolution."""
    m = masks.float()[:, None]
    if m.shape[0] == 0:
        return m.new_zeros((0, 1) + tuple(size))
    return F.interpolate(m, size=tuple(size), mode="area")


def upsample_scores(scores: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """(K, 1, h, w) coarse score maps -> (K, H, W) by bilinear interpolation (align_corners=False)."""
    if scores.shape[0] == 0:
        return scores.new_zeros((0,) + tuple(size))
    return F.interpolate(scores, size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


def paint_order(scores: Sequence[float]) -> torch.Tensor:
    """Rank (1..K) of each of K masks in painting order: ascending score, ties: the first on top."""
    order = sorted(range(len(scores)), key=lambda k: (float(scores[k]), -k))
    rank = torch.empty(len(scores), dtype=torch.int32)
    rank[order] = torch.arange(1, len(scores) + 1, dtype=torch.int32)
    return rank


def paste_ranks(masks: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
    """(K, H, W) bool masks -> (H, W) int32: the highest ``rank`` covering each pixel (0: none).
    One pass over the stack (not one fill per mask): a frame costs a few large operations."""
    if masks.shape[0] == 0:
        return torch.zeros(masks.shape[-2:], dtype=torch.int32, device=masks.device)
    r = rank.to(device=masks.device, dtype=torch.int32)[:, None, None]
    return torch.where(masks, r, torch.zeros((), dtype=torch.int32, device=masks.device)).amax(0)


def paste_id_map(masks: torch.Tensor, scores: Sequence[float], ids: Sequence[int]) -> torch.Tensor:
    """Non-overlapping id map from possibly overlapping masks: a pixel covered by several masks goes
    to the one with the highest score (ties: the first). masks (K, H, W) bool -> int32 (H, W), 0 = bg."""
    rank = paint_order(scores)
    lut = torch.zeros(len(ids) + 1, dtype=torch.int32, device=masks.device)
    lut[rank.long().to(masks.device)] = torch.as_tensor(list(ids), dtype=torch.int32, device=masks.device)
    return lut[paste_ranks(masks, rank).long()]


def crop_padding(feature: torch.Tensor, image_size: Tuple[int, int]) -> torch.Tensor:
    """Drop the right/bottom padding a backbone saw when the image (H', W') was padded to a size
    divisible by its stride: keep ceil(H'/s) x ceil(W'/s) cells, s = the power-of-two stride
    closest to the ratio image/feature. feature (N, C, h, w)."""
    H, W = image_size
    h, w = feature.shape[-2:]
    ratio = max(H / h, W / w)
    s = 2 ** round(torch.log2(torch.tensor(float(ratio))).item())
    hh, ww = min(h, -(-H // s)), min(w, -(-W // s))
    return feature[..., :hh, :ww]


def snap_to_proposals(S_up: torch.Tensor, results: torch.Tensor, pm: torch.Tensor, thresh: float) -> torch.Tensor:
    """T-Net's ``result_mode="proposal"`` (variant): y̌_j = the proposal with the highest mean score of
    target j over its pixels, when that mean is >= ``thresh``; each proposal goes to one target
    (greedy, best first); targets without one keep ``results``. S_up (K, h, w), results (K, h, w)
    bool, pm (P, h, w) bool -> (K, h, w) bool."""
    area = pm.flatten(1).sum(1).clamp_min(1).float()
    mean = ((S_up.flatten(1) @ pm.flatten(1).float().T) / area).cpu()  # (K, P)
    out = results.clone()
    used_k, used_p = set(), set()
    P = mean.shape[1]
    for i in torch.argsort(mean.flatten(), descending=True).tolist():
        k, p = divmod(i, P)
        if float(mean[k, p]) < thresh:
            break
        if k in used_k or p in used_p:
            continue
        out[k] = pm[p]
        used_k.add(k)
        used_p.add(p)
    return out
