"""Instance-head targets of D-Net (paper §3.1): Gaussian center heatmap and pixel offsets.

"ground-truth instance centers are encoded by a 2-D Gaussian with a standard deviation of 10
pixels" (MSE target) and "the offset of each pixel to its corresponding instance center" (L1 target,
"only activated at pixels belonging to foreground object regions"). The center of an instance is
the mass centre of its (augmented, cropped) mask, rounded to the nearest pixel so that the heatmap
peak is exactly 1 and offsets point at a pixel, as in Panoptic-DeepLab. Overlapping Gaussians are
merged with a maximum.

Used in two places: as the ``target_generator`` of ``uvmos.data.mapper.FramePairMapper`` (targets
computed in the data workers) and inside :class:`~uvmos.modeling.dnet.dnet.DNet` for batches
that lack them.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Union

import torch
from detectron2.structures import BitMasks, Instances, PolygonMasks

__all__ = ["DNetTargetGenerator", "instance_masks"]


def instance_masks(instances: Instances) -> torch.Tensor:
    """``Instances.gt_masks`` (BitMasks, PolygonMasks or tensor) -> bool (K, H, W)."""
    h, w = instances.image_size
    if not instances.has("gt_masks") or len(instances) == 0:
        return torch.zeros((0, h, w), dtype=torch.bool)
    m = instances.gt_masks
    if isinstance(m, BitMasks):
        return m.tensor.bool()
    if isinstance(m, PolygonMasks):
        return BitMasks.from_polygon_masks(m, h, w).tensor.bool()
    return torch.as_tensor(m).bool()


class DNetTargetGenerator:
    """``instances (+ sem_seg) -> {"center", "center_weights", "offset", "offset_weights"}``.

    Call with an ``Instances`` (image size (H, W), ``gt_masks``) and optionally ``sem_seg``: returns
    the target tensors below. Call with a mapped dataset dict holding ``"instances"`` (and
    ``"sem_seg"``), as ``FramePairMapper`` does: returns a copy of the dict with the targets added.

    * ``center`` float (1, H, W): max over instances of exp(-d² / 2σ²) around each center;
    * ``center_weights`` float (1, H, W): 1, except 0 where ``sem_seg == ignore_label``;
    * ``offset`` float (2, H, W): (dy, dx) = center - pixel on instance pixels, 0 elsewhere;
    * ``offset_weights`` float (1, H, W): 1 on instance pixels;
    * ``center_points`` float (K', 2): (y, x) of the K' non-empty instances.

    Args:
        sigma: Gaussian standard deviation in input pixels (10 in the paper).
        ignore_label: value of ignored pixels in ``sem_seg`` (crop padding, DAVIS void).
    """

    def __init__(self, sigma: float = 10.0, ignore_label: int = 255):
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.sigma = float(sigma)
        self.ignore_label = ignore_label

    def __call__(
        self, instances: Union[Instances, Mapping[str, Any]], sem_seg: Optional[torch.Tensor] = None
    ) -> Dict[str, torch.Tensor]:
        if isinstance(instances, Mapping):
            if "instances" not in instances:
                raise KeyError("DNetTargetGenerator needs an 'instances' entry in the dataset dict")
            out = dict(instances)
            out.update(self(instances["instances"], instances.get("sem_seg", sem_seg)))
            return out
        masks = instance_masks(instances)
        h, w = instances.image_size
        ys = torch.arange(h, dtype=torch.float32).view(h, 1)
        xs = torch.arange(w, dtype=torch.float32).view(1, w)
        center = torch.zeros((1, h, w))
        offset = torch.zeros((2, h, w))
        offset_weights = torch.zeros((1, h, w))
        points = []
        for m in masks:
            area = m.sum()
            if area == 0:
                continue
            yy, xx = torch.nonzero(m, as_tuple=True)
            cy = torch.round(yy.float().mean())
            cx = torch.round(xx.float().mean())
            points.append(torch.stack([cy, cx]))
            g = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * self.sigma**2))
            torch.maximum(center[0], g, out=center[0])
            offset[0, yy, xx] = cy - yy.float()
            offset[1, yy, xx] = cx - xx.float()
            offset_weights[0, yy, xx] = 1.0
        center_weights = torch.ones((1, h, w))
        if sem_seg is not None:
            center_weights[0][torch.as_tensor(sem_seg) == self.ignore_label] = 0.0
        return {
            "center": center,
            "center_weights": center_weights,
            "offset": offset,
            "offset_weights": offset_weights,
            "center_points": torch.stack(points) if points else torch.zeros((0, 2)),
        }
