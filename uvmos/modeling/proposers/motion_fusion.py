"""A learned fusion of the real-video motion cues: a tiny dilated CNN, cue stack -> p(foreground).

The weight-free ``MotionProposer`` combines its cues by a fixed rule (noisy-or of the residual-speed
score and the inside-outside map). That rule cannot tell an object's coherent motion from the
incoherent motion of water, smoke or foliage, which fire the speed score just as strongly. The issue
(#14) allows a part trained here; this is the smallest one: it sees only motion cues (no colour, so
it cannot memorise the look of the 16 training sequences) and a ~30 px neighbourhood, and it
replaces only the fixed rule. Temporal smoothing and GrabCut stay as they are.

Cue stack (``CUE_NAMES``, all at the proposer's working resolution, camera motion removed):
residual flow x and y and its magnitude, each divided by the frame's motion scale sigma and clipped
to [-4, 4]; the speed score; FST's motion boundaries and the inside-outside map.

Trained by ``tools/train_motion_fusion.py`` on the shared DAVIS-2016 train sequences (ground-truth
masks downsampled to the working resolution), weights embedded as
``uvmos/model_zoo/motion_fusion.pth`` (a few KB).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["CUE_NAMES", "MotionFusionNet"]

CUE_NAMES = ("res_x", "res_y", "res_mag", "speed", "boundary", "inside_outside")


class MotionFusionNet(nn.Module):
    """Cue stack (N, 6, h, w) -> foreground logit (N, 1, h, w).

    Args:
        width: channels of each hidden layer.
        dilations: one 3x3 conv (+ReLU) per entry; the receptive field is 1 + 2 * sum(dilations).

    Weights come in through the framework's one door, ``train.init_checkpoint``:
    ``{"proposer.fusion": embedded_weights("motion_fusion.pth")}`` (``configs/uvmos/real_cpu.py``).
    """

    def __init__(self, width: int = 16, dilations: Sequence[int] = (1, 2, 4, 8, 1)):
        super().__init__()
        layers, c = [], len(CUE_NAMES)
        for d in dilations:
            layers += [nn.Conv2d(c, width, 3, padding=int(d), dilation=int(d)), nn.ReLU(inplace=True)]
            c = width
        layers.append(nn.Conv2d(c, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, cues: torch.Tensor) -> torch.Tensor:
        return self.net(cues)

    @torch.no_grad()
    def predict(self, cues: np.ndarray) -> np.ndarray:
        """(6, h, w) float32 cue stack -> (h, w) float32 probability."""
        x = torch.from_numpy(np.ascontiguousarray(cues, dtype=np.float32))[None]
        return torch.sigmoid(self.net(x))[0, 0].numpy()
