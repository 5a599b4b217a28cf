"""State of the T-Net tracker (:mod:`uvmos.modeling.tnet.tracker`): one :class:`Tracklet` per
target, and what the phases of one ``TNetTracker.step`` share (:class:`FrameState`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch

from .memory import SampleMemory
from .verifier import Verification

__all__ = ["Tracklet", "Proposals", "FrameState", "read_proposals"]


@dataclass
class Tracklet:
    """State of one target. ``params`` = [W1 (D, C, 1, 1), W2 (1, D, k, k)]; embeddings (E,)."""

    track_id: int
    params: List[torch.Tensor]
    memory: SampleMemory
    first_emb: torch.Tensor
    last_emb: torch.Tensor
    start_frame: int
    class_votes: Dict[int, float] = field(default_factory=dict)
    lost_frames: int = 0
    num_verified: int = 0
    unverified_frames: int = 0  # consecutive frames with a failed verification

    @property
    def category(self) -> int:
        return max(self.class_votes.items(), key=lambda kv: (kv[1], -kv[0]))[0] if self.class_votes else 0


@dataclass
class Proposals:
    """The proposer's instances of one frame: masks (P, H, W) bool, scores (P,), classes (P,)."""

    masks: torch.Tensor
    scores: torch.Tensor
    classes: torch.Tensor
    work: torch.Tensor  # (P, h', w') bool: the masks at the working resolution
    emb: Optional[torch.Tensor] = None


@dataclass
class FrameState:
    """What the phases of one ``step`` share."""

    t: int
    size: tuple  # (H, W) of the frame
    stride: int  # the working resolution is the frame subsampled by this factor
    feats: Dict[str, torch.Tensor]
    X: torch.Tensor
    props: Proposals
    tracks: List[Tracklet]
    S: torch.Tensor  # (K, 1, h, w) coarse scores
    # The targets whose y̌_j is not empty (ascending indices into ``tracks``); every other target's
    # y̌_j is empty, so the working-resolution maps below hold these L rows only.
    live: List[int]
    S_up: torch.Tensor  # (L, h', w') their coarse scores resized to the working resolution
    results: torch.Tensor  # (L, h', w') bool: their y̌_j; after ``_verify`` their final non-overlapping masks
    ver: Optional[Verification] = None
    id_map: Optional[torch.Tensor] = None  # (H, W) int32, the output
    id_work: Optional[torch.Tensor] = None  # (h', w') int32, the same at the working resolution
    visible: Optional[torch.Tensor] = None  # (K,) bool: the final mask has >= min_area pixels
    ids: List[int] = field(default_factory=list)
    scores: List[float] = field(default_factory=list)
    new_tracks: List[Tracklet] = field(default_factory=list)


def read_proposals(proposals: dict, H: int, W: int, stride: int) -> Proposals:
    """The proposer's instances of a (H, W) frame, and their masks subsampled by ``stride``."""
    inst = proposals["instances"]
    pm = inst.pred_masks.to(torch.bool)
    if tuple(pm.shape[-2:]) != (H, W) and pm.shape[0]:
        raise ValueError(f"TNetTracker: proposal masks are {tuple(pm.shape[-2:])}, frame is {(H, W)}")
    pm = pm.reshape(-1, H, W)
    n = len(pm)
    ps = inst.scores.float() if inst.has("scores") else torch.ones(n, device=pm.device)
    pc = inst.pred_classes.long() if inst.has("pred_classes") else torch.zeros(n, dtype=torch.long, device=pm.device)
    o = stride // 2
    return Proposals(masks=pm, scores=ps, classes=pc, work=pm[:, o::stride, o::stride].contiguous())
