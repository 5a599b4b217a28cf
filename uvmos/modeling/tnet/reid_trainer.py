"""Training wrapper for the re-ID head (paper §3.2 uses a pretrained ReID net that cannot be
downloaded here; we train a small head instead).

``ReIDTrainer`` is a meta-architecture for ``tools/train_net.py``: it runs a *frozen* backbone on
both frames of a ``FramePairMapper`` sample (``image``/``instances`` = frame t,
``prev_image``/``prev_instances`` = frame t-1), pools the features under every ground-truth mask,
embeds them with a :class:`~uvmos.modeling.tnet.reid.ReIDHead` and applies its metric-learning
loss, positives being the same ``gt_ids`` of the same sample across the two frames (objects of
other samples in the batch are negatives; two samples of one video may hold the same object, a
rare false negative we accept). Its checkpoint loads into the tracker's head by suffix matching
(``train.init_checkpoint={"associator.reid": ...}`` in the tracker's config).
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import torch
from torch import nn

from uvmos.registry import META_ARCH_REGISTRY

from .reid import ReIDHead

__all__ = ["ReIDTrainer"]


@META_ARCH_REGISTRY.register()
class ReIDTrainer(nn.Module):
    """Trains a ReIDHead on a frozen backbone with frame pairs (metric learning over gt_ids).

    Args:
        backbone: module mapping normalised images (N, 3, H, W) to {name: features}; must give the
            same features the tracker's feature source gives at test time (e.g. D-Net's backbone
            with D-Net's normalisation), and is frozen (eval mode, no gradients) unless
            ``freeze_backbone=False``.
        head: the :class:`ReIDHead` to train.
        pixel_mean, pixel_std: normalisation (the backbone's), BGR 0-255.

    The backbone's weights (e.g. a trained D-Net's) come through ``train.init_checkpoint =
    {"backbone": "output/dnet_tiny_cpu/model_final.pth"}`` (keys matched by suffix).
    """

    def __init__(
        self,
        backbone: nn.Module,
        head: ReIDHead,
        pixel_mean: Sequence[float] = (103.530, 116.280, 123.675),
        pixel_std: Sequence[float] = (1.0, 1.0, 1.0),
        freeze_backbone: bool = True,
    ):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean, dtype=torch.float32).view(3, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std, dtype=torch.float32).view(3, 1, 1), False)
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            for p in self.backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def _embed(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        x = ((image.to(self.device).float() - self.pixel_mean) / self.pixel_std)[None]
        with torch.set_grad_enabled(not self.freeze_backbone and self.training):
            feats = self.backbone(x)
        return self.head(feats, masks.to(self.device))

    @staticmethod
    def _masks(instances) -> torch.Tensor:
        m = instances.gt_masks
        return (m.tensor if hasattr(m, "tensor") else m).to(torch.bool)

    def forward(self, batched_inputs: List[Dict]):
        """Training: {"loss_reid"}; eval: per sample {"embeddings": (N, D), "gt_ids": (N,)} of frame t."""
        if not self.training:
            return [
                {"embeddings": self._embed(x["image"], self._masks(x["instances"])), "gt_ids": x["instances"].gt_ids}
                for x in batched_inputs
            ]
        ea, ka, eb, kb = [], [], [], []
        for i, x in enumerate(batched_inputs):
            if "prev_image" not in x or "prev_instances" not in x:
                raise KeyError("ReIDTrainer needs frame pairs ('prev_image', 'prev_instances'): use FramePairMapper")
            for img, inst, es, ks in (
                (x["image"], x["instances"], ea, ka),
                (x["prev_image"], x["prev_instances"], eb, kb),
            ):
                masks = self._masks(inst)
                keep = masks.flatten(1).any(1) if len(inst) else torch.zeros(0, dtype=torch.bool)
                if not keep.any():
                    continue
                es.append(self._embed(img, masks[keep]))
                ks.append(inst.gt_ids[keep].to(self.device).long() + i * 100003)  # ids are per video
        if not ea or not eb:
            zero = sum(p.sum() for p in self.head.parameters()) * 0.0
            return {"loss_reid": zero}
        return self.head.losses(torch.cat(ea), torch.cat(ka), torch.cat(eb), torch.cat(kb))
