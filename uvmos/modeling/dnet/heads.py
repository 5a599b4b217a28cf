"""D-Net prediction heads (paper §3.1, "Salient Object Estimation Head", "Instance-Aware Segmentation Head").

Decoder shared by both heads, as written in §3.1::

    X̂ (N, C, H/16, W/16) --x2 bilinear--> concat res3 (H/8) --5x5 conv--> --x2 bilinear-->
    concat res2 (H/4) --5x5 conv--> --5x5 conv--> 1x1 conv(s) --> stride-4 prediction

Every 5x5 conv has a norm and ReLU. The paper concatenates the raw low-level maps; optional 1x1
projections (``low_level_channels``, as in DeepLabV3+/Panoptic-DeepLab) shrink them for cheap
models. "x2" is an upsampling to the exact size of res3 / res2, so odd input sizes (480x854) work.

* :class:`SalientHead`: one 1x1 conv to ``num_classes`` logits (2 = background/foreground; K + 1
  for the YouTube-VIS semantic variant, §4.3).
* :class:`InstanceHead`: the same decoder, then two 1x1 convs: a center heatmap (1 channel, linear,
  regressed to Gaussians by MSE) and an offset field (2 channels, (dy, dx) in stride-4 grid units;
  :class:`~uvmos.modeling.dnet.dnet.DNet` multiplies by 4 when upsampling to the input size).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import fvcore.nn.weight_init as weight_init
import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d, get_norm
from torch import nn

from uvmos.registry import DNET_HEAD_REGISTRY

__all__ = ["DNetDecoder", "SalientHead", "InstanceHead"]


def _conv(in_ch: int, out_ch: int, k: int, norm: str) -> Conv2d:
    conv = Conv2d(
        in_ch, out_ch, kernel_size=k, padding=k // 2, bias=not norm, norm=get_norm(norm, out_ch), activation=F.relu
    )
    weight_init.c2_xavier_fill(conv)
    return conv


def _predictor(in_ch: int, out_ch: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_ch, out_ch, kernel_size=1)
    nn.init.normal_(conv.weight, 0, 0.001)
    nn.init.constant_(conv.bias, 0)
    return conv


class DNetDecoder(nn.Module):
    """§3.1 decoder: ``(x (N, C, H/16, W/16), {res3, res2}) -> (N, decoder_channels, H/4, W/4)``.

    Args:
        in_channels: C of the fused task feature X̂.
        res3_channels / res2_channels: channels of the backbone's res3 / res2.
        decoder_channels: output channels of the three 5x5 convs (paper silent; 256 default).
        low_level_channels: None (paper: concat raw res3 / res2) or (c3, c2) 1x1 projections.
        kernel_size: 5 in the paper.
    """

    def __init__(
        self,
        in_channels: int,
        res3_channels: int,
        res2_channels: int,
        decoder_channels: int = 256,
        norm: str = "BN",
        low_level_channels: Optional[Sequence[int]] = None,
        kernel_size: int = 5,
        res3_feature: str = "res3",
        res2_feature: str = "res2",
    ):
        super().__init__()
        self.res3_feature, self.res2_feature = res3_feature, res2_feature
        if low_level_channels is not None:
            c3, c2 = low_level_channels
            self.proj3 = _conv(res3_channels, c3, 1, norm)
            self.proj2 = _conv(res2_channels, c2, 1, norm)
        else:
            c3, c2 = res3_channels, res2_channels
            self.proj3 = self.proj2 = None
        self.conv3 = _conv(in_channels + c3, decoder_channels, kernel_size, norm)
        self.conv2a = _conv(decoder_channels + c2, decoder_channels, kernel_size, norm)
        self.conv2b = _conv(decoder_channels, decoder_channels, kernel_size, norm)
        self.out_channels = decoder_channels

    def forward(self, x: torch.Tensor, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        res3, res2 = features[self.res3_feature], features[self.res2_feature]
        if self.proj3 is not None:
            res3, res2 = self.proj3(res3), self.proj2(res2)
        x = F.interpolate(x, size=res3.shape[-2:], mode="bilinear", align_corners=False)
        x = self.conv3(torch.cat([x, res3], dim=1))
        x = F.interpolate(x, size=res2.shape[-2:], mode="bilinear", align_corners=False)
        x = self.conv2a(torch.cat([x, res2], dim=1))
        return self.conv2b(x)


@DNET_HEAD_REGISTRY.register()
class SalientHead(nn.Module):
    """Salient-object (foreground) head: ``-> logits (N, num_classes, H/4, W/4)``; CE loss (§3.1).

    Constructor arguments are those of :class:`DNetDecoder` plus ``num_classes``.
    """

    def __init__(self, *, num_classes: int = 2, **decoder_kwargs):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes counts the background too and must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.decoder = DNetDecoder(**decoder_kwargs)
        self.predictor = _predictor(self.decoder.out_channels, num_classes)

    def forward(self, x: torch.Tensor, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.predictor(self.decoder(x, features))


@DNET_HEAD_REGISTRY.register()
class InstanceHead(nn.Module):
    """Instance head: ``-> (center (N, 1, H/4, W/4), offset (N, 2, H/4, W/4))`` (§3.1).

    Offsets are (dy, dx) from a pixel to its instance center in stride-4 grid units.
    Constructor arguments are those of :class:`DNetDecoder`.
    """

    def __init__(self, **decoder_kwargs):
        super().__init__()
        self.decoder = DNetDecoder(**decoder_kwargs)
        self.center_predictor = _predictor(self.decoder.out_channels, 1)
        self.offset_predictor = _predictor(self.decoder.out_channels, 2)

    def forward(self, x: torch.Tensor, features: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        y = self.decoder(x, features)
        return self.center_predictor(y), self.offset_predictor(y)
