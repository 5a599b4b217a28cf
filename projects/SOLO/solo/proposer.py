"""SOLOv2 as a uvmos frame-level proposer (PROPOSER_REGISTRY, docs/dev_conventions.md)."""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from torch import nn

from uvmos.registry import PROPOSER_REGISTRY

from .solov2 import SOLOv2

__all__ = ["SOLOProposer"]


@PROPOSER_REGISTRY.register()
class SOLOProposer(nn.Module):
    """Class-agnostic SOLOv2 proposals (masks, Matrix-NMS scores) for the video pipeline.

    Args:
        model: a :class:`SOLOv2`; its trained weights (``tools/train_net.py`` output) come through
            ``train.init_checkpoint = {"proposer.model": ".../model_final.pth"}`` (or ``{"model": ...}``
            for this proposer alone).
        score_thresh / max_proposals: keep proposals scoring at least this, at most this many.
        class_agnostic: ``pred_classes`` set to 0.
        return_features: also return the FPN maps as ``features`` (for an associator's re-ID).
        test_size: optional (H', W') the video meta-arch resizes frames to.
    """

    def __init__(
        self,
        model: SOLOv2,
        score_thresh: float = 0.3,
        max_proposals: int = 50,
        class_agnostic: bool = True,
        return_features: bool = True,
        test_size: Optional[Sequence[int]] = None,
    ):
        super().__init__()
        if not isinstance(model, SOLOv2):
            raise TypeError(f"SOLOProposer: model must be a SOLOv2, got {type(model)}")
        self.model = model
        self.score_thresh = score_thresh
        self.max_proposals = max_proposals
        self.class_agnostic = class_agnostic
        self.return_features = return_features
        self.test_size = None if test_size is None else tuple(test_size)
        self.input_format = model.input_format
        self.eval()

    @torch.no_grad()
    def forward(self, batched_inputs: List[dict]) -> List[dict]:
        m = self.model
        images = m.preprocess_image(batched_inputs)
        features = m.backbone(images.tensor)
        kernels, cates, mask_feat = m._heads(features)
        results = m.inference(kernels, cates, mask_feat, images.image_sizes)
        outs = []
        for i, (r, x, size) in enumerate(zip(results, batched_inputs, images.image_sizes)):
            keep = r.scores >= self.score_thresh
            r = r[keep][: self.max_proposals]  # already sorted by score
            inst = m._resize(r, size, (x["height"], x["width"])).to("cpu")
            if self.class_agnostic:
                inst.pred_classes = torch.zeros_like(inst.pred_classes)
            out = {"instances": inst}
            if self.return_features:
                out["features"] = {k: v[i : i + 1] for k, v in features.items()}
            outs.append(out)
        return outs
