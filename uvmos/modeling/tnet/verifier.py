"""Target-agnostic verification of tracking results against the frame's proposals (paper §3.2, eq. 10).

    s(p, Y) = (cos(p, y_j) + cos(p, y_0)) * 1(IoU(p, y_j) > 0.5)

y_j is the target's tracking result in the current frame, y_0 its first result (the pseudo label
it was started from); cos compares re-ID embeddings. The best proposal replaces y_j when
s > thr_reid (0.6). Where the paper is silent: a proposal can verify at most one target -- targets
claim proposals greedily in descending s (docs/tnet.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from uvmos.registry import VERIFIER_REGISTRY

from .mask_ops import mask_iou

__all__ = ["Verification", "ReIDVerifier", "NoVerifier"]


@dataclass
class Verification:
    """scores (K, P) = s of eq. 10; best (K,) proposal index claimed by each target (-1: none);
    best_score (K,); verified (K,) bool = best_score > thr_reid (the result is replaced)."""

    scores: torch.Tensor
    best: torch.Tensor
    best_score: torch.Tensor
    verified: torch.Tensor


@VERIFIER_REGISTRY.register()
class ReIDVerifier:
    """Eq. 10 with an IoU gate and a re-ID threshold.

    Args:
        thr_reid: replace the tracking result when the best s exceeds this (paper: 0.6).
        iou_thresh: the IoU gate of eq. 10 (paper: 0.5).
    """

    def __init__(self, thr_reid: float = 0.6, iou_thresh: float = 0.5):
        self.thr_reid = float(thr_reid)
        self.iou_thresh = float(iou_thresh)

    def scores(
        self,
        prop_masks: torch.Tensor,
        prop_emb: torch.Tensor,
        result_masks: torch.Tensor,
        result_emb: torch.Tensor,
        first_emb: torch.Tensor,
    ) -> torch.Tensor:
        """s (K, P) for proposals (P, H, W) bool / (P, D) and targets' results (K, H, W) / (K, D)
        with their first results' embeddings (K, D). Embeddings are L2-normalised."""
        iou = mask_iou(result_masks, prop_masks)
        if iou.numel() == 0:
            return iou
        cos = result_emb @ prop_emb.T + first_emb @ prop_emb.T
        return cos * (iou > self.iou_thresh).to(cos.dtype)

    def verify(self, prop_masks, prop_emb, result_masks, result_emb, first_emb) -> Verification:
        s = self.scores(prop_masks, prop_emb, result_masks, result_emb, first_emb)
        return assign_greedy(s, self.thr_reid)


@VERIFIER_REGISTRY.register()
class NoVerifier:
    """No verification (Table 4 ablation "w/o target verification"): all scores 0, nothing replaced."""

    thr_reid = float("inf")

    def scores(self, prop_masks, prop_emb, result_masks, result_emb, first_emb) -> torch.Tensor:
        return torch.zeros(result_masks.shape[0], prop_masks.shape[0])

    def verify(self, prop_masks, prop_emb, result_masks, result_emb, first_emb) -> Verification:
        return assign_greedy(self.scores(prop_masks, prop_emb, result_masks, result_emb, first_emb), self.thr_reid)


def assign_greedy(s: torch.Tensor, thr: float) -> Verification:
    """Each target claims its best still-free proposal, targets in descending order of s."""
    s = s.cpu()
    K, P = s.shape
    best = torch.full((K,), -1, dtype=torch.long)
    best_score = torch.zeros(K, dtype=s.dtype)
    if K and P:
        rows = s.tolist()  # one conversion, not one tensor operation per (target, proposal)
        flat = sorted(
            ((v, k, p) for k, row in enumerate(rows) for p, v in enumerate(row) if v > 0),
            key=lambda t: (-t[0], t[1], t[2]),
        )
        used_p = set()
        for v, k, p in flat:
            if best[k] >= 0 or p in used_p:
                continue
            best[k], best_score[k] = p, v
            used_p.add(p)
    verified = (best >= 0) & (best_score > thr)
    return Verification(scores=s, best=best, best_score=best_score, verified=verified)
