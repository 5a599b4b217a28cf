"""D-Net losses (paper §3.1): cross-entropy (salient head), MSE (center heatmap), L1 (offsets).

All take predictions at the input resolution (N, ·, H, W) and normalise like Panoptic-DeepLab:
CE is averaged over non-ignored pixels, MSE over pixels with a non-zero center weight, L1 (summed
over dy and dx) over foreground pixels. A batch without any valid pixel gives a zero that still
depends on the prediction (keeps DDP's graph complete).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["salient_loss", "center_loss", "offset_loss"]


def salient_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """logits (N, K, H, W), target long (N, H, W) with ``ignore_index`` -> scalar CE."""
    if (target != ignore_index).any():
        return F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="mean")
    return logits.sum() * 0.0


def center_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """pred/target/weights (N, 1, H, W) -> weighted mean squared error."""
    loss = F.mse_loss(pred, target, reduction="none") * weights
    denom = weights.sum()
    return loss.sum() / denom if denom > 0 else loss.sum() * 0.0


def offset_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """pred/target (N, 2, H, W), weights (N, 1, H, W) on foreground -> L1 per foreground pixel."""
    loss = F.l1_loss(pred, target, reduction="none") * weights
    denom = weights.sum()
    return loss.sum() / denom if denom > 0 else loss.sum() * 0.0
