"""Segmentation Guidance Module (paper §3.1, eq. 1-7).

The SGM branch encodes the previous frame and its segmentation, ``I_{t-1} ⊕ S_{t-1}``, with a
second dilated ResNet (4-channel stem) and ASPP into X_SGM (N, C, H/16, W/16). Two fusions,
``X̂_SAL = F_SGM(X_SAL, X_SGM)`` and ``X̂_INS = F_SGM(X_INS, X_SGM)`` (eq. 1-2), each have a
squeeze-excitation structure: global average pooling (eq. 3-4), two FC layers with ReLU, a
reshape to 2 x C and a softmax over the 2 so that α + β = 1 per channel (eq. 5), then
``α X_task + β X_SGM`` (eq. 6-7).

Choices where the paper is ambiguous (also in docs/dnet.md):

* Eq. 5 descriptors. The text concatenates ``c_SAL`` and ``c_INS`` (eq. 3-4) for both fusions, so
  the weights on X_SGM would never look at X_SGM itself. We default to ``descriptors="task_guide"``:
  each F_SGM squeezes its own two inputs, ``c = [F_SQ(X_task), F_SQ(X_SGM)]``, because F_SGM is
  written as a function of exactly (X_task, X_SGM) in eq. 1-2 and because the gate can then
  down-weight a guidance that is empty or unreliable (first frame, lost objects), which
  ``[c_SAL, c_INS]`` cannot see. The literal reading is available as ``descriptors="sal_ins"``
  (the caller passes the other task feature as ``x_other``).
* Mask encoding. S_{t-1} enters as a fourth image channel: {0, 1} -> {0, 255}, normalised with
  mean 127.5 and the mean of the model's ``pixel_std``, so it spans the same range as the
  normalised RGB channels for both Caffe2 (std 1) and torchvision (std ~58) conventions.
* Training guidance. S_{t-1} is the union of the ground-truth instances of frame t-1, perturbed by
  :class:`GuidancePerturbation` (instance drop, random dilation/erosion, all-empty) to mimic the
  errors of the predicted S_{t-1} met at inference and the empty guidance of the first frame.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from uvmos.registry import GUIDANCE_REGISTRY

__all__ = ["SEGuidanceFusion", "GuidancePerturbation", "make_guidance_input"]


@GUIDANCE_REGISTRY.register()
class SEGuidanceFusion(nn.Module):
    """F_SGM of eq. 1-7: ``(X_task, X_SGM) (N, C, h, w) -> α X_task + β X_SGM`` with α + β = 1.

    Args:
        channels: C of X_task and X_SGM.
        reduction: hidden width of the excitation MLP is ``max(2C // reduction, min_hidden)``.
        descriptors: "task_guide" (default, see module doc) or "sal_ins" (eq. 5 as written).
    """

    def __init__(self, channels: int, reduction: int = 16, descriptors: str = "task_guide", min_hidden: int = 8):
        super().__init__()
        if descriptors not in ("task_guide", "sal_ins"):
            raise ValueError(f"descriptors must be 'task_guide' or 'sal_ins', got {descriptors!r}")
        self.channels = channels
        self.descriptors = descriptors
        hidden = max(2 * channels // reduction, min_hidden)
        self.fc1 = nn.Linear(2 * channels, hidden)  # W1
        self.fc2 = nn.Linear(hidden, 2 * channels)  # W2

    def attention(
        self, x_task: torch.Tensor, x_guide: torch.Tensor, x_other: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Eq. 3-5: (α, β), each (N, C), with α + β = 1."""
        if self.descriptors == "sal_ins":
            if x_other is None:
                raise ValueError("descriptors='sal_ins' needs the other task feature as x_other")
            second = x_other
        else:
            second = x_guide
        c = torch.cat([x_task.mean(dim=(2, 3)), second.mean(dim=(2, 3))], dim=1)  # F_SQ, (N, 2C)
        z = self.fc2(F.relu(self.fc1(c))).view(-1, 2, self.channels)  # reshape to 2 x C
        z = z.softmax(dim=1)
        return z[:, 0], z[:, 1]

    def forward(
        self, x_task: torch.Tensor, x_guide: torch.Tensor, x_other: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        if x_task.shape != x_guide.shape:
            raise ValueError(f"X_task {tuple(x_task.shape)} and X_SGM {tuple(x_guide.shape)} must have the same shape")
        alpha, beta = self.attention(x_task, x_guide, x_other)
        return alpha[:, :, None, None] * x_task + beta[:, :, None, None] * x_guide  # eq. 6-7


def make_guidance_input(prev_images: torch.Tensor, prev_masks: torch.Tensor, mask_std: float) -> torch.Tensor:
    """SGM branch input ``I_{t-1} ⊕ S_{t-1}``.

    Args:
        prev_images: (N, 3, H, W) normalised like the current frame.
        prev_masks: (N, 1, H, W) in [0, 1].
        mask_std: divisor of the mask channel (the mean of the model's pixel_std).
    Returns: (N, 4, H, W).
    """
    mask_channel = (prev_masks.to(prev_images.dtype) * 255.0 - 127.5) / mask_std
    return torch.cat([prev_images, mask_channel], dim=1)


class GuidancePerturbation:
    """Training-time noise on the ground-truth S_{t-1}, mimicking a predicted one.

    Applied in this order to the (K, H, W) instance masks of frame t-1:
    each instance dropped with ``p_drop_instance`` (missed objects); union; with ``p_morph`` a
    dilation or erosion (equal odds) by a square kernel of odd size in [3, ``max_kernel``]
    (boundary errors); with ``p_empty`` the whole mask is cleared (first frame / lost tracks).
    All randomness comes from ``torch``'s generator. Returns (1, H, W) float in {0, 1}.
    """

    def __init__(self, p_drop_instance: float = 0.1, p_morph: float = 0.5, max_kernel: int = 9, p_empty: float = 0.1):
        if max_kernel < 3:
            raise ValueError(f"max_kernel must be >= 3, got {max_kernel}")
        self.p_drop_instance = p_drop_instance
        self.p_morph = p_morph
        self.max_kernel = max_kernel
        self.p_empty = p_empty

    def __call__(self, masks: torch.Tensor, image_size: Optional[Sequence[int]] = None) -> torch.Tensor:
        if masks.dim() != 3:
            raise ValueError(f"expected (K, H, W) instance masks, got {tuple(masks.shape)}")
        masks = masks.bool()
        if masks.shape[0] > 0 and self.p_drop_instance > 0:
            keep = torch.rand(masks.shape[0]) >= self.p_drop_instance
            masks = masks[keep.to(masks.device)]
        h, w = masks.shape[-2:] if image_size is None else image_size
        union = (
            masks.any(dim=0, keepdim=True).float() if masks.shape[0] else masks.new_zeros((1, h, w), dtype=torch.float)
        )
        if self.p_empty > 0 and torch.rand(()) < self.p_empty:
            return torch.zeros_like(union)
        if self.p_morph > 0 and torch.rand(()) < self.p_morph:
            k = 2 * int(torch.randint(1, self.max_kernel // 2 + 1, ())) + 1
            if torch.rand(()) < 0.5:
                union = F.max_pool2d(union[None], k, stride=1, padding=k // 2)[0]
            else:
                union = 1.0 - F.max_pool2d(1.0 - union[None], k, stride=1, padding=k // 2)[0]
        return union
