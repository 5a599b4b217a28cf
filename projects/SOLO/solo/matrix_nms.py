"""Matrix NMS (SOLOv2 §4.2, Wang et al. 2020): every mask's score is decayed in parallel by its
overlap with the higher-scoring masks of its class, compensated by how much those masks were
themselves suppressed:

    decay_j = min_i f(IoU_ij) / f(max_k IoU_ki),   i above j in score order, same class,
    f(x) = exp(-sigma x^2) (gaussian) or 1 - x (linear),

one matrix product for all pairwise IoUs, no sequential loop.
"""

from __future__ import annotations

import torch

__all__ = ["matrix_nms"]


def matrix_nms(
    masks: torch.Tensor,
    labels: torch.Tensor,
    scores: torch.Tensor,
    kernel: str = "gaussian",
    sigma: float = 2.0,
    areas: torch.Tensor | None = None,
) -> torch.Tensor:
    """Decayed scores of ``masks`` (N, H, W) bool/float, sorted by ``scores`` (N,) descending.

    ``labels`` (N,) long: only masks of the same label suppress each other. ``areas``: optional
    precomputed ``masks.sum((1, 2))``. Returns the updated scores (N,), in the input order.
    """
    n = len(scores)
    if n == 0:
        return scores
    if kernel not in ("gaussian", "linear"):
        raise ValueError(f"matrix_nms: kernel must be 'gaussian' or 'linear', got {kernel!r}")
    if n > 1 and bool((scores[1:] > scores[:-1]).any()):
        raise ValueError("matrix_nms: scores must be sorted in descending order")
    m = masks.reshape(n, -1).float()
    areas = m.sum(1) if areas is None else areas.float()
    inter = m @ m.T
    union = areas[:, None] + areas[None, :] - inter
    iou = (inter / union.clamp(min=1e-6)).triu(diagonal=1)  # iou[i, j], i ranked above j
    same = (labels[:, None] == labels[None, :]).float().triu(diagonal=1)
    decay_iou = iou * same
    # for each i: its largest IoU with a mask ranked above it (how much i is itself suppressed)
    compensate = decay_iou.max(0).values[:, None].expand(n, n)
    if kernel == "gaussian":
        decay = torch.exp(-sigma * decay_iou**2) / torch.exp(-sigma * compensate**2)
    else:
        decay = (1 - decay_iou) / (1 - compensate).clamp(min=1e-6)
    return scores * decay.min(0).values
