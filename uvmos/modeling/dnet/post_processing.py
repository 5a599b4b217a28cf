"""D-Net inference: foreground + centers + offsets -> scored instance proposals (paper §3.1).

"predicted foreground pixels are grouped to the closest object center based on the predicted
offset field". Steps (all at the network's input resolution, then resized to the frame's):

1. foreground = argmax of the salient head != background;
2. centers = local maxima of the heatmap (max-pool NMS, ``nms_kernel``) above ``center_threshold``,
   at most ``top_k`` (Panoptic-DeepLab's procedure);
3. each foreground pixel p votes for p + offset(p) and joins the nearest center;
4. per instance: score = clamp(center heatmap value, 0, 1) x mean foreground probability over the
   instance (choice: the paper gives no score; this ranks a confident center with a confident mask
   first and matches the COCO AP protocol of Table 3); class = majority vote of the salient head's
   non-background argmax labels (K+1-class variant, §4.3), 0 when class-agnostic;
5. instances smaller than ``min_area`` pixels (at the output size) are dropped.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from detectron2.structures import BitMasks, Instances

__all__ = ["find_instance_centers", "group_pixels", "DNetPostProcessor"]


def find_instance_centers(
    heatmap: torch.Tensor, threshold: float = 0.1, nms_kernel: int = 7, top_k: int = 200
) -> Tuple[torch.Tensor, torch.Tensor]:
    """heatmap (H, W) or (1, H, W) -> centers long (K, 2) as (y, x), scores (K,), by descending score."""
    if heatmap.dim() == 3:
        heatmap = heatmap[0]
    pooled = F.max_pool2d(heatmap[None, None], nms_kernel, stride=1, padding=nms_kernel // 2)[0, 0]
    keep = (heatmap == pooled) & (heatmap > threshold)
    ys, xs = torch.nonzero(keep, as_tuple=True)
    scores = heatmap[ys, xs]
    order = scores.argsort(descending=True)
    if top_k is not None and top_k > 0:
        order = order[:top_k]
    return torch.stack([ys[order], xs[order]], dim=1), scores[order]


def group_pixels(
    centers: torch.Tensor, offsets: torch.Tensor, foreground: torch.Tensor, chunk: int = 65536
) -> torch.Tensor:
    """Assign foreground pixels to the nearest center through their offsets.

    Args:
        centers: (K, 2) (y, x); offsets: (2, H, W) (dy, dx) in pixels; foreground: bool (H, W).
    Returns: long (H, W), 0 for background, k + 1 for the k-th center.
    """
    h, w = foreground.shape
    ids = torch.zeros((h, w), dtype=torch.long, device=foreground.device)
    if centers.numel() == 0:
        return ids
    ys, xs = torch.nonzero(foreground, as_tuple=True)
    votes = torch.stack([ys.float() + offsets[0, ys, xs], xs.float() + offsets[1, ys, xs]], dim=1)
    c = centers.float()
    labels = torch.empty(votes.shape[0], dtype=torch.long, device=foreground.device)
    for s in range(0, votes.shape[0], chunk):
        labels[s : s + chunk] = torch.cdist(votes[s : s + chunk], c).argmin(dim=1) + 1
    ids[ys, xs] = labels
    return ids


class DNetPostProcessor:
    """Raw head outputs of one frame -> ``{"instances", "foreground", "id_map"}``.

    ``__call__(sal_logits (K, H', W'), center (1, H', W'), offset (2, H', W') in pixels, output_size)``
    where (H', W') is the network input (unpadded) and ``output_size`` the frame's (height, width).
    Returns ``instances`` (``Instances`` of ``output_size`` with ``pred_masks`` bool (N, H, W),
    ``scores``, ``pred_classes``, ``pred_boxes``), ``foreground`` float (H, W) = 1 - P(background)
    and ``id_map`` long (H, W) (0 background, i + 1 for instance i; before ``min_area``).
    """

    def __init__(self, center_threshold: float = 0.1, nms_kernel: int = 7, top_k: int = 200, min_area: int = 16):
        self.center_threshold = center_threshold
        self.nms_kernel = nms_kernel
        self.top_k = top_k
        self.min_area = min_area

    @torch.no_grad()
    def __call__(
        self, sal_logits: torch.Tensor, center: torch.Tensor, offset: torch.Tensor, output_size: Tuple[int, int]
    ) -> Dict[str, object]:
        out_h, out_w = int(output_size[0]), int(output_size[1])
        prob = sal_logits.float().softmax(dim=0)
        labels = prob.argmax(dim=0)
        fg_prob = 1.0 - prob[0]
        centers, center_scores = find_instance_centers(
            center.float(), self.center_threshold, self.nms_kernel, self.top_k
        )
        ids = group_pixels(centers, offset.float(), labels > 0)

        resize = (out_h, out_w) != tuple(ids.shape)
        if resize:
            ids = F.interpolate(ids[None, None].float(), size=(out_h, out_w), mode="nearest")[0, 0].long()
            fg_prob = F.interpolate(fg_prob[None, None], size=(out_h, out_w), mode="bilinear", align_corners=False)[
                0, 0
            ]
            labels = F.interpolate(labels[None, None].float(), size=(out_h, out_w), mode="nearest")[0, 0].long()

        num_classes = sal_logits.shape[0]
        device = sal_logits.device
        K = centers.shape[0]
        flat = ids.flatten()
        areas = torch.bincount(flat, minlength=K + 1)[1:]
        fg_sum = torch.bincount(flat, weights=fg_prob.flatten().float(), minlength=K + 1)[1:]
        keep = torch.nonzero((areas > 0) & (areas >= self.min_area), as_tuple=True)[0]
        result = Instances((out_h, out_w))
        result.pred_masks = ids[None] == (keep + 1)[:, None, None]
        result.scores = (center_scores[keep].clamp(0, 1) * fg_sum[keep] / areas[keep].clamp(min=1)).float()
        if num_classes > 2:  # majority vote of the non-background labels inside each instance
            votes = torch.bincount(flat * num_classes + labels.flatten(), minlength=(K + 1) * num_classes)
            votes = votes.view(K + 1, num_classes)[1:, 1:]
            result.pred_classes = votes[keep].argmax(dim=1)
        else:
            result.pred_classes = torch.zeros(len(keep), dtype=torch.long, device=device)
        result = result[result.scores.argsort(descending=True)]
        result.pred_boxes = BitMasks(result.pred_masks).get_bounding_boxes()
        return {"instances": result, "foreground": fg_prob, "id_map": ids}
