"""ASPP neck of D-Net (paper §3.1, "Feature Extraction").

Each ASPP has one 1x1 conv, three 3x3 atrous convs (rates 6, 12, 18) and an image-pooling branch on
the backbone's last map; the five outputs are concatenated and projected by a 1x1 conv to C = 256
channels at output stride 16. D-Net uses two in parallel (X_SAL, X_INS) and a third on the SGM
branch (X_SGM). The module is detectron2's :class:`detectron2.layers.ASPP`; this wrapper only
picks its input map from the backbone's feature dict.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
from detectron2.layers import ASPP
from torch import nn

from uvmos.registry import NECK_REGISTRY

__all__ = ["ASPPNeck"]


@NECK_REGISTRY.register()
class ASPPNeck(nn.Module):
    """``{in_feature: (N, in_channels, H/16, W/16)} -> (N, out_channels, H/16, W/16)``.

    Args:
        in_channels: channels of ``in_feature`` (2048 for R-50 ``res5``).
        out_channels: C (256 in the paper).
        dilations: the three atrous rates.
        norm: norm of the convs (detectron2 ``get_norm`` names); the pooling branch has none.
        pool_kernel_size: None = global average pooling (paper); see detectron2's ASPP.
        dropout: dropout on the output (0 in the paper).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 256,
        dilations: Sequence[int] = (6, 12, 18),
        norm: str = "BN",
        in_feature: str = "res5",
        pool_kernel_size: Optional[Tuple[int, int]] = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.in_feature = in_feature
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.aspp = ASPP(
            in_channels,
            out_channels,
            list(dilations),
            norm=norm,
            activation=nn.ReLU(),
            pool_kernel_size=pool_kernel_size,
            dropout=dropout,
        )

    def forward(self, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        x = features[self.in_feature]
        if x.shape[1] != self.in_channels:
            raise ValueError(f"ASPPNeck expects {self.in_channels} channels in {self.in_feature!r}, got {x.shape[1]}")
        return self.aspp(x)
