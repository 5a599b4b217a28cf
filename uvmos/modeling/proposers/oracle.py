"""Ground-truth proposals with controlled noise: upper bounds for the associators, and tests.

The proposer reads the ground truth of the video being processed, so its input dicts must carry
``video_id`` and ``frame_idx`` (``VideoSegmenter`` adds both). Noise, all deterministic per
(seed, video, frame):

* ``drop_prob``: each object is missed with this probability;
* ``merge_prob``: per frame, the two objects with the closest boxes are merged into one proposal;
* ``jitter_px``: each mask is dilated or eroded by a random radius in [0, jitter_px] and shifted by
  up to ``jitter_px`` pixels;
* ``false_positives``: Poisson mean of spurious elliptic blobs per frame (score in ``fp_scores``);
* ``score_noise``: true proposals score 1 - |N(0, score_noise)|.
"""

from __future__ import annotations

import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from detectron2.data import DatasetCatalog
from detectron2.structures import Instances
from torch import nn

from uvmos.data.video_dict import rle_to_mask
from uvmos.registry import PROPOSER_REGISTRY

__all__ = ["OracleProposer"]


@PROPOSER_REGISTRY.register()
class OracleProposer(nn.Module):
    """Proposals from ground-truth video dicts (``dataset_name`` in DatasetCatalog or ``videos``).

    Output per input: ``instances`` (pred_masks (N, H, W) bool at (height, width), scores,
    pred_classes = the ground-truth category, or 0 when ``class_agnostic``) and ``gt_ids`` (N,)
    (the instance id each proposal came from, -1 for false positives; for analysis only).
    """

    def __init__(
        self,
        dataset_name: Optional[str] = None,
        videos: Optional[Sequence[dict]] = None,
        drop_prob: float = 0.0,
        merge_prob: float = 0.0,
        jitter_px: int = 0,
        false_positives: float = 0.0,
        fp_scores: Tuple[float, float] = (0.3, 0.9),
        score_noise: float = 0.0,
        class_agnostic: bool = True,
        seed: int = 0,
    ):
        super().__init__()
        if (dataset_name is None) == (videos is None):
            raise ValueError("OracleProposer: give exactly one of dataset_name or videos")
        self.dataset_name = dataset_name
        self._videos: Optional[Dict[str, dict]] = None if videos is None else {v["video_id"]: v for v in videos}
        self.drop_prob = drop_prob
        self.merge_prob = merge_prob
        self.jitter_px = int(jitter_px)
        self.false_positives = false_positives
        self.fp_scores = tuple(fp_scores)
        self.score_noise = score_noise
        self.class_agnostic = class_agnostic
        self.seed = seed

    @property
    def videos(self) -> Dict[str, dict]:
        if self._videos is None:
            self._videos = {v["video_id"]: v for v in DatasetCatalog.get(self.dataset_name)}
        return self._videos

    def forward(self, batched_inputs: List[dict]) -> List[dict]:
        return [self._propose(x) for x in batched_inputs]

    def _propose(self, x: dict) -> dict:
        for key in ("video_id", "frame_idx"):
            if key not in x:
                raise KeyError(f"OracleProposer needs {key!r} in its input dicts (VideoSegmenter provides it)")
        vid = self.videos.get(x["video_id"])
        if vid is None:
            raise KeyError(f"OracleProposer: video {x['video_id']!r} is not in its ground truth")
        t = int(x["frame_idx"])
        H, W = int(x["height"]), int(x["width"])
        anns = vid.get("annotations")
        annotated = vid.get("annotated")
        frame_anns = []
        if anns is not None and t < len(anns) and (annotated is None or annotated[t]):
            frame_anns = anns[t]
        rng = np.random.default_rng([self.seed, zlib.crc32(str(x["video_id"]).encode()), t])

        masks, cats, ids = [], [], []
        for inst in frame_anns:
            if rng.random() < self.drop_prob:
                continue
            m = rle_to_mask(inst["segmentation"])
            if m.shape != (H, W):
                m = cv2.resize(m.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST).astype(bool)
            masks.append(m)
            cats.append(int(inst.get("category_id", 0)))
            ids.append(int(inst["instance_id"]))
        if len(masks) >= 2 and rng.random() < self.merge_prob:
            i, j = _closest_pair(masks)
            masks[i] = masks[i] | masks[j]
            del masks[j], cats[j], ids[j]
        if self.jitter_px > 0:
            masks = [_jitter(m, self.jitter_px, rng) for m in masks]
        scores = [float(np.clip(1.0 - abs(rng.normal(0.0, self.score_noise)), 0.0, 1.0)) for _ in masks]
        for _ in range(rng.poisson(self.false_positives) if self.false_positives > 0 else 0):
            masks.append(_random_blob(H, W, rng))
            cats.append(0)
            ids.append(-1)
            scores.append(float(rng.uniform(*self.fp_scores)))

        keep = [k for k, m in enumerate(masks) if m.any()]
        inst = Instances((H, W))
        inst.pred_masks = torch.from_numpy(np.stack([masks[k] for k in keep]) if keep else np.zeros((0, H, W), bool))
        inst.scores = torch.tensor([scores[k] for k in keep], dtype=torch.float32)
        classes = [0 if self.class_agnostic else cats[k] for k in keep]
        inst.pred_classes = torch.tensor(classes, dtype=torch.long)
        return {"instances": inst, "gt_ids": torch.tensor([ids[k] for k in keep], dtype=torch.long)}


def _closest_pair(masks: List[np.ndarray]) -> Tuple[int, int]:
    centers = [np.argwhere(m).mean(0) if m.any() else np.array([1e9, 1e9]) for m in masks]
    best, pair = None, (0, 1)
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            d = float(np.linalg.norm(centers[i] - centers[j]))
            if best is None or d < best:
                best, pair = d, (i, j)
    return pair


def _jitter(m: np.ndarray, px: int, rng: np.random.Generator) -> np.ndarray:
    r = int(rng.integers(0, px + 1))
    out = m.astype(np.uint8)
    if r > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        out = cv2.dilate(out, k) if rng.random() < 0.5 else cv2.erode(out, k)
    dy, dx = (int(v) for v in rng.integers(-px, px + 1, size=2))
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    out = cv2.warpAffine(out, M, (m.shape[1], m.shape[0]), flags=cv2.INTER_NEAREST, borderValue=0)
    return out.astype(bool)


def _random_blob(H: int, W: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((H, W), np.uint8)
    cy, cx = int(rng.integers(0, H)), int(rng.integers(0, W))
    ay = max(2, int(rng.uniform(0.03, 0.15) * H))
    ax = max(2, int(rng.uniform(0.03, 0.15) * W))
    cv2.ellipse(out, (cx, cy), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return out.astype(bool)
