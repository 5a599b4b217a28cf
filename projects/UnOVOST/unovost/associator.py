"""UnOVOST-style association (Luiten, Zulfikar, Leibe: "UnOVOST: Unsupervised Offline Video Object
Segmentation and Tracking", WACV 2020), on the proposals of any uvmos proposer.

Three stages, as in the paper:

1. **Short-term tracklets** (online, frame to frame; :meth:`UnOVOSTAssociator.step`). The
   proposals of frame t (score >= ``proposal_score_thresh``) are first made non-overlapping, the
   higher score keeping a contested pixel, as UnOVOST does. Each tracklet alive at t-1 has its
   last mask warped to frame t by DIS optical flow (``flow.py``); the IoU of warped masks and
   proposals is assigned by the Hungarian method (``scipy.optimize.linear_sum_assignment``) and a
   pair with IoU >= ``link_iou`` extends the tracklet. Unmatched proposals start tracklets;
   unmatched tracklets end (no gap is bridged at this stage).
2. **Long-term merging** (offline over the whole video; :func:`merge_tracklets`). Each tracklet's
   appearance is the score-weighted mean of its per-frame re-ID embeddings. Tracklet pairs that do
   not overlap in time and are at most ``max_gap`` frames apart are merged greedily in order of
   cosine similarity while it is >= ``merge_sim``; a merge is refused when the two groups
   would overlap in time (one object is in one place per frame).
3. **Selection** (:func:`select_tracks`). A merged track's score is the sum of its proposal
   scores divided by the video length (long, confident tracks win); tracks scoring >=
   ``select_thresh`` are kept, at most ``max_tracks``, numbered by first appearance.

Where we differ from the paper (it is silent on, or needs what we do not have):

* Re-ID: UnOVOST uses a triplet-trained re-ID network (from PReMVOS). None is trained here, so
  the embedding is either the proposer's FPN features pooled inside the mask (``reid="features"``,
  key ``reid_feature``) or a hue-saturation-value colour histogram of the masked pixels
  (``reid="color"``, the default: 8 x 8 x 4 bins, square-rooted, L2-normalised, so the dot product
  is the Bhattacharyya coefficient).
* UnOVOST merges within "tracklet clusters" with a learned similarity and then picks tracks by a
  hand-set formula; ours is the greedy merging and the score-per-frame selection above.
* Offline window: the whole video (as the paper). ``step`` returns the tracklet id map of frame t
  at once (what a streaming caller such as ``VideoSegmenter`` sees, and what D-Net's SGM gets as
  S_{t-1}); ``finalize`` then maps tracklet ids to the final tracks. ``UnOVOSTSegmenter``
  (meta_arch.py) applies that map to every frame before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn

from uvmos.registry import ASSOCIATOR_REGISTRY

from .flow import dis_flow, resize_flow, to_gray, warp_mask

__all__ = ["Tracklet", "UnOVOSTAssociator", "merge_tracklets", "select_tracks", "color_embedding"]


@dataclass
class Tracklet:
    """A short-term tracklet: consecutive frames ``start..end`` linked by flow-warped IoU."""

    tid: int
    start: int
    end: int
    emb_sum: np.ndarray
    score_sum: float = 0.0
    frames: int = 0
    category_votes: Dict[int, float] = field(default_factory=dict)
    last_mask: Optional[np.ndarray] = None

    def add(self, t: int, mask: np.ndarray, score: float, emb: np.ndarray, category: int) -> None:
        self.end = t
        self.last_mask = mask
        self.score_sum += score
        self.frames += 1
        self.emb_sum = self.emb_sum + score * emb
        self.category_votes[category] = self.category_votes.get(category, 0.0) + score

    @property
    def embedding(self) -> np.ndarray:
        n = np.linalg.norm(self.emb_sum)
        return self.emb_sum / n if n > 0 else self.emb_sum


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every pair: a (K, H, W), b (P, H, W) bool -> (K, P)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    af = a.reshape(len(a), -1).astype(np.float32)
    bf = b.reshape(len(b), -1).astype(np.float32)
    inter = af @ bf.T
    union = af.sum(1)[:, None] + bf.sum(1)[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def color_embedding(image_bgr: np.ndarray, mask: np.ndarray, bins: Sequence[int] = (8, 8, 4)) -> np.ndarray:
    """Square-rooted, L2-normalised HSV histogram of the masked pixels (module doc)."""
    hsv = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], mask.astype(np.uint8), list(bins), [0, 180, 0, 256, 0, 256]).ravel()
    hist = np.sqrt(hist / max(hist.sum(), 1.0))
    n = np.linalg.norm(hist)
    return (hist / n if n > 0 else hist).astype(np.float32)


def merge_tracklets(tracklets: Sequence[Tracklet], merge_sim: float, max_gap: Optional[int]) -> List[List[int]]:
    """Greedy long-term merging (module doc, stage 2). Returns groups of tracklet ids, each sorted
    by start frame; groups never overlap in time."""
    parent = {t.tid: t.tid for t in tracklets}
    spans: Dict[int, List[Tuple[int, int]]] = {t.tid: [(t.start, t.end)] for t in tracklets}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    pairs = []
    for a in tracklets:
        for b in tracklets:
            if a.end < b.start and (max_gap is None or b.start - a.end <= max_gap):
                pairs.append((float(a.embedding @ b.embedding), a.tid, b.tid))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    for sim, a, b in pairs:
        if sim < merge_sim:
            break
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if any(s1 <= e2 and s2 <= e1 for s1, e1 in spans[ra] for s2, e2 in spans[rb]):
            continue  # the merged track would be in two places in one frame
        parent[rb] = ra
        spans[ra] += spans.pop(rb)
    groups: Dict[int, List[int]] = {}
    by_id = {t.tid: t for t in tracklets}
    for t in tracklets:
        groups.setdefault(find(t.tid), []).append(t.tid)
    return sorted((sorted(g, key=lambda i: by_id[i].start) for g in groups.values()), key=lambda g: by_id[g[0]].start)


def select_tracks(
    tracklets: Sequence[Tracklet],
    groups: Sequence[Sequence[int]],
    num_frames: int,
    select_thresh: float,
    max_tracks: Optional[int],
) -> Tuple[Dict[int, int], Dict[int, float], Dict[int, int]]:
    """Stage 3: -> (tracklet id -> final id or 0, final id -> score, final id -> category)."""
    by_id = {t.tid: t for t in tracklets}
    scored = []
    for g in groups:
        s = sum(by_id[i].score_sum for i in g) / max(num_frames, 1)
        if s >= select_thresh:
            scored.append((s, g))
    scored.sort(key=lambda x: -x[0])
    if max_tracks is not None:
        scored = scored[:max_tracks]
    scored.sort(key=lambda x: by_id[x[1][0]].start)  # ids by first appearance
    mapping = {t.tid: 0 for t in tracklets}
    scores, classes = {}, {}
    for k, (s, g) in enumerate(scored, start=1):
        votes: Dict[int, float] = {}
        for i in g:
            mapping[i] = k
            for c, v in by_id[i].category_votes.items():
                votes[c] = votes.get(c, 0.0) + v
        scores[k] = float(s)
        classes[k] = max(votes, key=votes.get) if votes else 0
    return mapping, scores, classes


@ASSOCIATOR_REGISTRY.register()
class UnOVOSTAssociator(nn.Module):
    """UnOVOST-style tracker: flow-warped IoU tracklets, re-ID merging, selection (module doc).
    Offline over the whole video: ``step`` per frame, then ``finalize`` (see ``UnOVOSTSegmenter``).

    Args:
        proposal_score_thresh / min_area: proposals kept for tracking.
        link_iou: least IoU of a warped tracklet mask and a proposal to link them.
        flow_preset: DIS preset ("ultrafast", "fast", "medium").
        reid: "color" or "features" (module doc); ``reid_feature`` the proposer feature key pooled.
        merge_sim / max_gap: long-term merging threshold (cosine) and largest gap in frames (None: any).
        select_thresh / max_tracks: track selection.
        input_format: channel order of ``frame["image"]``.
    """

    def __init__(
        self,
        proposal_score_thresh: float = 0.5,
        min_area: int = 16,
        link_iou: float = 0.3,
        flow_preset: str = "medium",
        reid: str = "color",
        reid_feature: str = "p3",
        merge_sim: float = 0.8,
        max_gap: Optional[int] = None,
        select_thresh: float = 0.1,
        max_tracks: Optional[int] = 20,
        input_format: str = "BGR",
    ):
        super().__init__()
        if reid not in ("color", "features"):
            raise ValueError(f"UnOVOSTAssociator: reid must be 'color' or 'features', got {reid!r}")
        self.proposal_score_thresh = proposal_score_thresh
        self.min_area = min_area
        self.link_iou = link_iou
        self.flow_preset = flow_preset
        self.reid = reid
        self.reid_feature = reid_feature
        self.merge_sim = merge_sim
        self.max_gap = max_gap
        self.select_thresh = select_thresh
        self.max_tracks = max_tracks
        self.input_format = input_format
        self.reset({})

    def reset(self, video_meta: dict) -> None:
        self.video_meta = dict(video_meta)
        self.tracklets: List[Tracklet] = []
        self.alive: List[Tracklet] = []
        self.prev_gray: Optional[np.ndarray] = None
        self.num_frames = 0

    # -------------------------------------------------------------------------------------------
    def _embed(self, image_bgr: np.ndarray, test_hw: Tuple[int, int], masks: np.ndarray, proposals: dict) -> np.ndarray:
        """Per-mask re-ID embeddings (N, D); ``image_bgr`` at the masks' size, ``test_hw`` the size the
        proposer saw (its feature maps cover that image, padded at the right/bottom)."""
        if self.reid == "color":
            return np.stack([color_embedding(image_bgr, m) for m in masks]) if len(masks) else np.zeros((0, 256))
        feats = proposals.get("features") or {}
        if self.reid_feature not in feats:
            raise KeyError(
                f"UnOVOSTAssociator: reid='features' needs proposer feature {self.reid_feature!r}; "
                f"the proposer returned {sorted(feats)}"
            )
        f = feats[self.reid_feature].float().cpu()[0]  # (C, h, w)
        if len(masks) == 0:
            return np.zeros((0, f.shape[0]), dtype=np.float32)
        s = 2 ** round(np.log2(test_hw[0] / f.shape[1]))  # the map's stride
        f = f[:, : int(np.ceil(test_hw[0] / s)), : int(np.ceil(test_hw[1] / s))]  # drop the padding
        m = F.interpolate(torch.from_numpy(masks).float()[:, None], size=f.shape[-2:], mode="area")[:, 0]
        e = (m.flatten(1) @ f.flatten(1).T) / m.flatten(1).sum(1, keepdim=True).clamp(min=1e-6)
        return F.normalize(e, dim=1).numpy()

    def step(self, frame: dict, proposals: dict) -> dict:
        t = int(frame.get("frame_idx", self.num_frames))
        self.num_frames = max(self.num_frames, t + 1)
        H, W = int(frame["height"]), int(frame["width"])
        image = frame["image"].cpu().numpy().transpose(1, 2, 0)
        image_bgr = np.ascontiguousarray(image[:, :, ::-1] if self.input_format == "RGB" else image)
        gray = to_gray(image_bgr)

        inst = proposals["instances"]
        pm = inst.pred_masks.to(torch.bool).cpu().reshape(-1, H, W).numpy()
        ps = inst.scores.float().cpu().numpy() if inst.has("scores") else np.ones(len(pm), np.float32)
        pc = inst.pred_classes.cpu().numpy() if inst.has("pred_classes") else np.zeros(len(pm), np.int64)
        # non-overlapping proposals: the higher score keeps a contested pixel
        order = [i for i in np.argsort(-ps, kind="stable") if ps[i] >= self.proposal_score_thresh]
        taken = np.zeros((H, W), dtype=bool)
        masks, scores, cats = [], [], []
        for i in order:
            m = pm[i] & ~taken
            if m.sum() >= self.min_area:
                masks.append(m)
                scores.append(float(ps[i]))
                cats.append(int(pc[i]))
                taken |= m
        masks_np = np.stack(masks) if masks else np.zeros((0, H, W), dtype=bool)
        small_image = image_bgr if image_bgr.shape[:2] == (H, W) else cv2.resize(image_bgr, (W, H))
        embs = self._embed(small_image, image_bgr.shape[:2], masks_np, proposals)

        matched: Dict[int, Tracklet] = {}
        if self.alive and len(masks_np) and self.prev_gray is not None:
            flow = resize_flow(dis_flow(gray, self.prev_gray, self.flow_preset), (H, W))
            warped = np.stack([warp_mask(tr.last_mask, flow) for tr in self.alive])
            iou = _iou(warped, masks_np)
            rows, cols = linear_sum_assignment(iou, maximize=True)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.link_iou:
                    matched[int(c)] = self.alive[r]
        alive = []
        ids = []
        for p in range(len(masks_np)):
            tr = matched.get(p)
            if tr is None:
                tr = Tracklet(len(self.tracklets) + 1, t, t, np.zeros_like(embs[p]))
                self.tracklets.append(tr)
            tr.add(t, masks_np[p], scores[p], embs[p], cats[p])
            alive.append(tr)
            ids.append(tr.tid)
        self.alive = alive
        self.prev_gray = gray

        id_map = np.zeros((H, W), dtype=np.int32)
        for m, i in zip(masks_np, ids):
            id_map[m] = i
        return {
            "id_map": torch.from_numpy(id_map),
            "track_scores": {i: s for i, s in zip(ids, scores)},
            "track_classes": {i: c for i, c in zip(ids, cats)},
        }

    def finalize(self) -> Tuple[Dict[int, int], Dict[int, float], Dict[int, int]]:
        """Long-term merging and selection over the video seen since ``reset`` ->
        (tracklet id -> final track id, 0 = dropped; final id -> score; final id -> category)."""
        for tr in self.tracklets:
            tr.last_mask = None  # free the masks
        groups = merge_tracklets(self.tracklets, self.merge_sim, self.max_gap)
        return select_tracks(self.tracklets, groups, self.num_frames, self.select_thresh, self.max_tracks)
