"""SOLOv2 (Wang et al., "SOLOv2: Dynamic and Fast Instance Segmentation", NeurIPS 2020) as a
detectron2 meta-architecture, written for uvmos (not vendored).

* FPN backbone (detectron2 ``FPN``), levels p2..p6; the instance branch reads them with p2 halved
  and p6 resized to p5 (SOLOv2's ``split_feats``).
* Instance head, per level: the feature plus two normalised coordinate channels is resized to an
  S x S grid; a kernel branch predicts one dynamic 1x1 kernel (E weights) per cell, a category
  branch (the same feature without coordinates) one score per class per cell.
* Mask feature head: p2..p5 each brought to stride 4 (3x3 conv + 2x upsampling steps, coordinates
  appended to p5) and summed, then a 1x1 conv to E channels: the unified mask feature F.
* Mask of cell (i, j) = sigmoid(kernel_ij * F) (a 1x1 dynamic convolution).
* Losses: Dice on the masks of the positive cells (weight 3), sigmoid focal loss on the category
  grid (fvcore, alpha 0.25, gamma 2) normalised by the number of positives + 1. Targets:
  ``targets.solo_targets``.
* Inference: category scores with a 2x2 max-pool "point NMS", score threshold, masks at stride 4
  thresholded at 0.5, small masks dropped, scores times "maskness" (mean probability inside the
  mask), Matrix NMS (``matrix_nms``), top-k, upsampled to the input size.

Sizes are parameters: the tiny config (configs/solov2_tiny_cpu.py) narrows everything and sets
grids and scale ranges for 192 x 320 frames.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from detectron2.layers import Conv2d, get_norm
from detectron2.modeling import META_ARCH_REGISTRY
from detectron2.modeling.backbone import Backbone
from detectron2.structures import Boxes, ImageList, Instances
from fvcore.nn import sigmoid_focal_loss
from torch import nn

from .matrix_nms import matrix_nms
from .targets import solo_targets

__all__ = ["SOLOv2", "SOLOv2InsHead", "SOLOv2MaskHead", "dice_loss"]


def coord_channels(x: torch.Tensor) -> torch.Tensor:
    """(N, 2, H, W) x and y coordinates in [-1, 1] (CoordConv, SOLO §3.2)."""
    n, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy])[None].expand(n, 2, h, w)


def dice_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Per-mask Dice loss, 1 - 2 sum(p t) / (sum p^2 + sum t^2) (SOLO eq. 4). (N, H, W) -> (N,)."""
    p, t = pred.flatten(1), target.flatten(1).float()
    return 1 - 2 * (p * t).sum(1) / ((p * p).sum(1) + eps + (t * t).sum(1) + eps)


def _conv_stack(in_ch: int, ch: int, n: int, norm: str) -> nn.Sequential:
    layers = []
    for i in range(n):
        layers += [Conv2d(in_ch if i == 0 else ch, ch, 3, padding=1, bias=not norm, norm=get_norm(norm, ch)), nn.ReLU()]
    return nn.Sequential(*layers)


class SOLOv2InsHead(nn.Module):
    """Kernel and category branches on S x S grids, shared across levels (SOLOv2 §3.2.1)."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_convs: int,
        kernel_dim: int,
        num_classes: int,
        norm: str = "GN",
        prior_prob: float = 0.01,
    ):
        super().__init__()
        self.kernel_convs = _conv_stack(in_channels + 2, channels, num_convs, norm)
        self.cate_convs = _conv_stack(in_channels, channels, num_convs, norm)
        self.kernel_pred = nn.Conv2d(channels, kernel_dim, 3, padding=1)
        self.cate_pred = nn.Conv2d(channels, num_classes, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.constant_(self.cate_pred.bias, -torch.log(torch.tensor((1 - prior_prob) / prior_prob)).item())

    def forward(self, feats: Sequence[torch.Tensor], num_grids: Sequence[int]):
        kernels, cates = [], []
        for x, S in zip(feats, num_grids):
            k = torch.cat([x, coord_channels(x)], 1)
            k = F.interpolate(k, size=(S, S), mode="bilinear", align_corners=False)
            c = k[:, :-2]
            kernels.append(self.kernel_pred(self.kernel_convs(k)))  # (N, E, S, S)
            cates.append(self.cate_pred(self.cate_convs(c)))  # (N, C, S, S)
        return kernels, cates


class SOLOv2MaskHead(nn.Module):
    """Unified mask feature at stride 4 from p2..p5 (SOLOv2 §3.2.2); coordinates join the coarsest."""

    def __init__(self, in_channels: int, channels: int, out_channels: int, num_levels: int = 4, norm: str = "GN"):
        super().__init__()
        self.levels = nn.ModuleList()
        for i in range(num_levels):
            layers: List[nn.Module] = []
            in_ch = in_channels + (2 if i == num_levels - 1 else 0)
            for j in range(max(i, 1)):
                layers += [
                    Conv2d(
                        in_ch if j == 0 else channels,
                        channels,
                        3,
                        padding=1,
                        bias=not norm,
                        norm=get_norm(norm, channels),
                    ),
                    nn.ReLU(),
                ]
                if i > 0:
                    layers.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
            self.levels.append(nn.Sequential(*layers))
        self.pred = nn.Sequential(
            Conv2d(channels, out_channels, 1, bias=not norm, norm=get_norm(norm, out_channels)), nn.ReLU()
        )

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        out = None
        for i, (x, layer) in enumerate(zip(feats, self.levels)):
            if i == len(self.levels) - 1:
                x = torch.cat([x, coord_channels(x)], 1)
            y = layer(x)
            if out is not None and y.shape[-2:] != out.shape[-2:]:
                y = F.interpolate(y, size=out.shape[-2:], mode="bilinear", align_corners=False)
            out = y if out is None else out + y
        return self.pred(out)


@META_ARCH_REGISTRY.register()
class SOLOv2(nn.Module):
    """SOLOv2 instance segmentation (module doc). Training: detectron2 dicts with ``instances``
    (``gt_masks`` BitMasks, ``gt_classes``) -> loss dict. Inference: -> ``[{"instances"}]`` with
    ``pred_masks`` (bool), ``scores``, ``pred_classes``, ``pred_boxes`` at the requested size.

    Args:
        backbone: a detectron2 FPN with p2..p6.
        ins_head / mask_head: :class:`SOLOv2InsHead`, :class:`SOLOv2MaskHead`.
        num_grids / scale_ranges: S and the (min, max) object scale sqrt(w h) in input pixels per level.
        sigma: center-region fraction (SOLO: 0.2).
        ins_loss_weight: Dice loss weight (SOLO: 3).
        score_thresh / mask_thresh / update_thresh: category score threshold before NMS, mask
            probability threshold, score threshold after Matrix NMS (SOLOv2: 0.1, 0.5, 0.05).
        min_mask_area: per level, masks with fewer pixels at stride 4 are dropped (SOLOv2 uses the
            level's stride; ours are scaled to the small frames).
        pre_nms_topk / max_per_image: candidates kept before / after Matrix NMS (SOLOv2: 500 / 100).
        nms_kernel / nms_sigma: Matrix NMS decay function (SOLOv2: gaussian, 2).
    """

    def __init__(
        self,
        *,
        backbone: Backbone,
        ins_head: SOLOv2InsHead,
        mask_head: SOLOv2MaskHead,
        num_classes: int = 1,
        in_features: Sequence[str] = ("p2", "p3", "p4", "p5", "p6"),
        mask_in_features: Sequence[str] = ("p2", "p3", "p4", "p5"),
        num_grids: Sequence[int] = (40, 36, 24, 16, 12),
        scale_ranges: Sequence[Tuple[float, float]] = ((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048)),
        sigma: float = 0.2,
        ins_loss_weight: float = 3.0,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        score_thresh: float = 0.1,
        mask_thresh: float = 0.5,
        update_thresh: float = 0.05,
        min_mask_area: Sequence[float] = (4, 8, 16, 32, 32),
        pre_nms_topk: int = 500,
        max_per_image: int = 100,
        nms_kernel: str = "gaussian",
        nms_sigma: float = 2.0,
        pixel_mean: Sequence[float] = (103.530, 116.280, 123.675),
        pixel_std: Sequence[float] = (57.375, 57.120, 58.395),
        input_format: str = "BGR",
    ):
        super().__init__()
        if not (len(in_features) == len(num_grids) == len(scale_ranges) == len(min_mask_area)):
            raise ValueError("SOLOv2: in_features, num_grids, scale_ranges and min_mask_area need one entry per level")
        self.backbone = backbone
        self.ins_head = ins_head
        self.mask_head = mask_head
        self.num_classes = num_classes
        self.in_features = list(in_features)
        self.mask_in_features = list(mask_in_features)
        self.num_grids = list(num_grids)
        self.scale_ranges = [tuple(r) for r in scale_ranges]
        self.sigma = sigma
        self.ins_loss_weight = ins_loss_weight
        self.focal_alpha, self.focal_gamma = focal_alpha, focal_gamma
        self.score_thresh, self.mask_thresh, self.update_thresh = score_thresh, mask_thresh, update_thresh
        self.min_mask_area = list(min_mask_area)
        self.pre_nms_topk, self.max_per_image = pre_nms_topk, max_per_image
        self.nms_kernel, self.nms_sigma = nms_kernel, nms_sigma
        self.input_format = input_format
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def preprocess_image(self, batched_inputs: List[dict]) -> ImageList:
        images = [(x["image"].to(self.device).float() - self.pixel_mean) / self.pixel_std for x in batched_inputs]
        return ImageList.from_tensors(images, self.backbone.size_divisibility)

    def _heads(self, features: Dict[str, torch.Tensor]):
        feats = [features[f] for f in self.in_features]
        # SOLOv2's split_feats: the finest level halved, the coarsest brought to the next one's size
        feats[0] = F.interpolate(feats[0], scale_factor=0.5, mode="bilinear", align_corners=False)
        feats[-1] = F.interpolate(feats[-1], size=feats[-2].shape[-2:], mode="bilinear", align_corners=False)
        kernels, cates = self.ins_head(feats, self.num_grids)
        mask_feat = self.mask_head([features[f] for f in self.mask_in_features])
        return kernels, cates, mask_feat

    def forward(self, batched_inputs: List[dict]):
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)
        kernels, cates, mask_feat = self._heads(features)
        if self.training:
            gt = [x["instances"].to(self.device) for x in batched_inputs]
            return self.losses(kernels, cates, mask_feat, gt, tuple(images.tensor.shape[-2:]))
        results = self.inference(kernels, cates, mask_feat, images.image_sizes)
        out = []
        for r, x, size in zip(results, batched_inputs, images.image_sizes):
            h, w = x.get("height", size[0]), x.get("width", size[1])
            out.append({"instances": self._resize(r, size, (h, w))})
        return out

    # ---------------------------------------------------------------------------------------------
    def losses(self, kernels, cates, mask_feat, gt_instances: List[Instances], padded_size):
        E = mask_feat.shape[1]
        cate_targets, mask_preds, mask_targets = [], [], []
        fh, fw = mask_feat.shape[-2:]
        for b, inst in enumerate(gt_instances):
            if len(inst) and inst.has("gt_masks"):
                m = inst.gt_masks.tensor
                full = torch.zeros((len(m),) + tuple(padded_size), dtype=torch.bool, device=m.device)
                full[:, : m.shape[1], : m.shape[2]] = m
                m, cls = full, inst.gt_classes
            else:
                m = torch.zeros((0,) + tuple(padded_size), dtype=torch.bool, device=self.device)
                cls = torch.zeros(0, dtype=torch.long, device=self.device)
            # mask targets at the mask feature's stride (4): area fraction >= 0.5
            small = F.adaptive_avg_pool2d(m[None].float(), (fh, fw))[0] >= 0.5 if len(m) else m.new_zeros((0, fh, fw))
            levels = solo_targets(
                m.cpu(), cls.cpu(), padded_size, self.num_grids, self.scale_ranges, self.sigma, self.num_classes
            )
            img_cates = []
            for lvl, (cate, ins) in enumerate(levels):
                img_cates.append(cate.flatten())
                pos = torch.nonzero(ins.flatten() >= 0).flatten()
                if len(pos):
                    k = kernels[lvl][b].flatten(1)[:, pos.to(self.device)].T  # (P, E)
                    pred = (k @ mask_feat[b].reshape(E, -1)).view(-1, fh, fw)
                    mask_preds.append(pred)
                    mask_targets.append(small[ins.flatten()[pos].to(self.device)])
            cate_targets.append(torch.cat(img_cates))
        # category: per level (N, C, S, S) -> (N * S * S, C) in the targets' order (image, level, cell)
        logits = torch.cat([torch.cat([c[b].flatten(1).T for c in cates]) for b in range(len(gt_instances))])
        labels = torch.cat(cate_targets).to(self.device)
        num_pos = int((labels < self.num_classes).sum())
        onehot = F.one_hot(labels, self.num_classes + 1)[:, : self.num_classes].float()
        loss_cate = sigmoid_focal_loss(logits, onehot, self.focal_alpha, self.focal_gamma, "sum") / (num_pos + 1)
        if mask_preds:
            loss_ins = dice_loss(torch.cat(mask_preds).sigmoid(), torch.cat(mask_targets)).mean()
        else:
            loss_ins = mask_feat.sum() * 0 + sum(k.sum() for k in kernels) * 0
        return {"loss_ins": loss_ins * self.ins_loss_weight, "loss_cate": loss_cate}

    # ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def inference(self, kernels, cates, mask_feat, image_sizes) -> List[Instances]:
        E = mask_feat.shape[1]
        fh, fw = mask_feat.shape[-2:]
        results = []
        for b in range(mask_feat.shape[0]):
            scores_l, kern_l, min_area_l = [], [], []
            for lvl, (k, c) in enumerate(zip(kernels, cates)):
                heat = c[b : b + 1].sigmoid()
                keep = F.max_pool2d(heat, 2, stride=1, padding=1)[:, :, :-1, :-1] == heat  # point NMS
                heat = (heat * keep)[0]
                scores_l.append(heat.flatten(1).T)  # (S*S, C)
                kern_l.append(k[b].flatten(1).T)  # (S*S, E)
                min_area_l.append(torch.full((heat.shape[1] * heat.shape[2],), float(self.min_mask_area[lvl])))
            scores = torch.cat(scores_l)
            kern = torch.cat(kern_l)
            min_area = torch.cat(min_area_l).to(scores.device)
            idx = torch.nonzero(scores > self.score_thresh)
            if len(idx) == 0:
                results.append(self._empty(image_sizes[b]))
                continue
            cells, labels = idx[:, 0], idx[:, 1]
            cate_scores = scores[cells, labels]
            probs = (kern[cells] @ mask_feat[b].reshape(E, -1)).sigmoid().view(-1, fh, fw)
            seg = probs > self.mask_thresh
            areas = seg.flatten(1).sum(1).float()
            keep = areas > min_area[cells]
            if not keep.any():
                results.append(self._empty(image_sizes[b]))
                continue
            probs, seg, areas, labels, cate_scores = (
                probs[keep],
                seg[keep],
                areas[keep],
                labels[keep],
                cate_scores[keep],
            )
            maskness = (probs * seg).flatten(1).sum(1) / areas
            cate_scores = cate_scores * maskness
            order = torch.argsort(cate_scores, descending=True)[: self.pre_nms_topk]
            probs, seg, areas, labels, cate_scores = (
                probs[order],
                seg[order],
                areas[order],
                labels[order],
                cate_scores[order],
            )
            cate_scores = matrix_nms(seg, labels, cate_scores, self.nms_kernel, self.nms_sigma, areas)
            keep = cate_scores >= self.update_thresh
            probs, labels, cate_scores = probs[keep], labels[keep], cate_scores[keep]
            order = torch.argsort(cate_scores, descending=True)[: self.max_per_image]
            r = Instances(tuple(image_sizes[b]))
            r.pred_mask_probs = probs[order]  # stride 4 of the padded input
            r.scores = cate_scores[order]
            r.pred_classes = labels[order]
            results.append(r)
        return results

    @staticmethod
    def _empty(size) -> Instances:
        r = Instances(tuple(size))
        r.pred_mask_probs = torch.zeros((0, 1, 1))
        r.scores = torch.zeros(0)
        r.pred_classes = torch.zeros(0, dtype=torch.long)
        return r

    def _resize(self, r: Instances, image_size, out_size) -> Instances:
        """Stride-4 mask probabilities -> bool masks of ``out_size`` (crop the padding, resize)."""
        h, w = int(out_size[0]), int(out_size[1])
        out = Instances((h, w))
        n = len(r)
        if n == 0:
            out.pred_masks = torch.zeros((0, h, w), dtype=torch.bool)
            out.scores, out.pred_classes = r.scores, r.pred_classes
            out.pred_boxes = Boxes(torch.zeros((0, 4)))
            return out
        p = F.interpolate(r.pred_mask_probs[None], scale_factor=4, mode="bilinear", align_corners=False)
        p = p[:, :, : image_size[0], : image_size[1]]
        p = F.interpolate(p, size=(h, w), mode="bilinear", align_corners=False)[0]
        out.pred_masks = p > self.mask_thresh
        out.scores = r.scores
        out.pred_classes = r.pred_classes
        boxes = torch.zeros((n, 4), device=p.device)
        for i, m in enumerate(out.pred_masks):
            ys, xs = torch.nonzero(m, as_tuple=True)
            if len(ys):
                boxes[i] = torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()
        out.pred_boxes = Boxes(boxes)
        return out
