"""The simple association baseline: proposals linked to tracks by mask IoU with each track's last
mask (optionally blended with re-ID cosine), one optimal assignment per frame (Hungarian, scipy).
No appearance model, no verification, no memory: what T-Net (§3.2) adds is measured against this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from uvmos.registry import ASSOCIATOR_REGISTRY
from uvmos.utils.misc import store_init_args

from ..tnet.mask_ops import mask_iou, paste_id_map

__all__ = ["GreedyAssociator"]


@dataclass
class _Track:
    track_id: int
    mask: torch.Tensor  # (H, W) bool, last seen mask
    emb: Optional[torch.Tensor]
    category: int
    lost_frames: int = 0


@ASSOCIATOR_REGISTRY.register()
class GreedyAssociator(nn.Module):
    """IoU (+ embedding) association of proposals to tracks.

    Affinity a(track, p) = (1 - embed_weight) * IoU(last mask, p) + embed_weight * cos(emb, p);
    the assignment maximising the total affinity is taken (``linear_sum_assignment``) and a pair
    is kept when a >= ``match_thresh``. Unmatched proposals (score >= ``proposal_score_thresh``)
    start tracks (at most ``max_tracks`` per video); a track unmatched for more than
    ``max_lost_frames`` frames ends. Overlapping proposals: the higher score wins the pixel.

    Args:
        embedder: optional REID_REGISTRY embedder; needs ``features`` (a feature source, e.g.
            ``ProposerFeatures()``) when ``embed_weight`` > 0.
    """

    def __init__(
        self,
        match_thresh: float = 0.3,
        embed_weight: float = 0.0,
        embedder=None,
        features=None,
        proposal_score_thresh: float = 0.5,
        min_area: int = 16,
        max_tracks: int = 20,
        max_lost_frames: Optional[int] = 50,
    ):
        super().__init__()
        if embed_weight > 0 and (embedder is None or features is None):
            raise ValueError("GreedyAssociator: embed_weight > 0 needs an embedder and a feature source")
        store_init_args(self, locals())
        self.reset({})

    def reset(self, video_meta: dict) -> None:
        self.video_meta = dict(video_meta)
        self.tracks: Dict[int, _Track] = {}
        self.num_created = 0

    def step(self, frame: dict, proposals: dict) -> dict:
        H, W = int(frame["height"]), int(frame["width"])
        inst = proposals["instances"]
        pm = inst.pred_masks.to(torch.bool).cpu().reshape(-1, H, W)
        ps = inst.scores.float().cpu() if inst.has("scores") else torch.ones(len(pm))
        pc = inst.pred_classes.long().cpu() if inst.has("pred_classes") else torch.zeros(len(pm), dtype=torch.long)
        keep = (ps >= self.proposal_score_thresh) & (pm.flatten(1).sum(1) >= self.min_area)
        pm, ps, pc = pm[keep], ps[keep], pc[keep]
        P = len(pm)

        emb = None
        if self.embed_weight > 0:
            with torch.no_grad():
                feats = {k: v.float().cpu() for k, v in self.features(frame, proposals).items()}
                emb = self.embedder(feats, pm)

        tracks: List[_Track] = list(self.tracks.values())
        aff = mask_iou(torch.stack([t.mask for t in tracks]), pm) if tracks and P else torch.zeros(len(tracks), P)
        if emb is not None and tracks and P:
            temb = torch.stack([t.emb for t in tracks])
            aff = (1 - self.embed_weight) * aff + self.embed_weight * (temb @ emb.T)
        matched_p: Dict[int, int] = {}
        if tracks and P:
            rows, cols = linear_sum_assignment(aff.numpy(), maximize=True)
            for r, c in zip(rows, cols):
                if aff[r, c] >= self.match_thresh:
                    matched_p[int(c)] = int(r)

        ids, masks, scores = [], [], []
        for p in range(P):
            if p in matched_p:
                tr = tracks[matched_p[p]]
            elif self.num_created < self.max_tracks:
                self.num_created += 1
                tr = _Track(self.num_created, pm[p], None, int(pc[p]))
                self.tracks[tr.track_id] = tr
            else:
                continue
            tr.mask, tr.lost_frames, tr.category = pm[p], 0, int(pc[p])
            tr.emb = None if emb is None else emb[p]
            ids.append(tr.track_id)
            masks.append(pm[p])
            scores.append(float(ps[p]))
        matched_tracks = {matched_p[p] for p in matched_p}
        for k, tr in enumerate(tracks):
            if k not in matched_tracks:
                tr.lost_frames += 1
                if self.max_lost_frames is not None and tr.lost_frames > self.max_lost_frames:
                    del self.tracks[tr.track_id]

        id_map = paste_id_map(torch.stack(masks) if masks else torch.zeros(0, H, W, dtype=torch.bool), scores, ids)
        present = set(np.unique(id_map.numpy()).tolist()) - {0}
        track_scores = {i: s for i, s in zip(ids, scores) if i in present}
        return {
            "id_map": id_map,
            "track_scores": track_scores,
            "track_classes": {i: self.tracks[i].category for i in track_scores},
        }
