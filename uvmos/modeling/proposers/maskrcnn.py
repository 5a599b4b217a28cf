"""Mask R-CNN (detectron2 ``GeneralizedRCNN``) as a class-agnostic frame-level proposer.

The paper's top-down baseline (Table 3) and the proposer of two-stage methods such as UnOVOST.
Built from detectron2's LazyConfig model zoo (``common/models/mask_rcnn_fpn.py``); the pure-Python
detectron2 build runs it because ROIAlign and NMS come from torchvision ops.

Class-agnostic in either of two ways: a 1-class model (``roi_heads.num_classes=1``, e.g. trained on
DAVIS), or a multi-class model (e.g. COCO weights) whose detections are merged across classes by a
class-agnostic NMS (``agnostic_nms``), the top-scoring one surviving, and relabelled 0.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from detectron2.layers import batched_nms
from detectron2.modeling.meta_arch import GeneralizedRCNN
from detectron2.structures import Instances
from torch import nn

from uvmos.registry import PROPOSER_REGISTRY
from uvmos.utils.misc import store_init_args

__all__ = ["MaskRCNNProposer", "mask_rcnn_fpn_config"]


def mask_rcnn_fpn_config(num_classes: int = 1, depth: int = 50):
    """The model-zoo LazyConfig node of Mask R-CNN R-``depth``-FPN with ``num_classes`` classes
    (edit further before ``instantiate``). R-18/34 use BasicBlocks (no ``stride_in_1x1``)."""
    from detectron2 import model_zoo

    cfg = model_zoo.get_config("common/models/mask_rcnn_fpn.py").model
    cfg.roi_heads.num_classes = num_classes
    cfg.backbone.bottom_up.stages.depth = depth
    if depth in (18, 34):
        del cfg.backbone.bottom_up.stages.stride_in_1x1  # BasicBlock has no such argument
    return cfg


@PROPOSER_REGISTRY.register()
class MaskRCNNProposer(nn.Module):
    """Wrap a ``GeneralizedRCNN`` into the proposer interface (docs/dev_conventions.md).

    Args:
        model: the GeneralizedRCNN (e.g. ``instantiate(mask_rcnn_fpn_config(1))``). Its weights
            come through ``train.init_checkpoint``: a whole-model checkpoint, or
            ``{"proposer.model": "model_final.pkl"}`` for a Mask R-CNN trained on its own
            (detectron2 model-zoo .pkl or .pth; shape-mismatched heads, e.g. 80-class weights
            into a 1-class model, are skipped with detectron2's warning).
        score_thresh: keep detections scoring at least this.
        max_proposals: keep at most this many (highest scores).
        class_agnostic: merge classes (agnostic NMS) and set ``pred_classes`` to 0.
        agnostic_nms: box-IoU threshold of the class-agnostic NMS.
        return_features: also return the FPN maps (p2..p6) as ``features`` for an associator.
        test_size: optional (H', W') the video meta-arch should resize frames to.
    """

    def __init__(
        self,
        model: GeneralizedRCNN,
        score_thresh: float = 0.5,
        max_proposals: int = 50,
        class_agnostic: bool = True,
        agnostic_nms: float = 0.5,
        return_features: bool = True,
        test_size: Optional[Sequence[int]] = None,
    ):
        super().__init__()
        if not isinstance(model, GeneralizedRCNN):
            raise TypeError(f"MaskRCNNProposer: model must be a detectron2 GeneralizedRCNN, got {type(model)}")
        if not getattr(model.roi_heads, "mask_on", False):
            raise ValueError("MaskRCNNProposer: the GeneralizedRCNN has no mask head (mask_on=False)")
        store_init_args(self, locals(), skip=("test_size",))
        self.test_size = None if test_size is None else tuple(test_size)
        self.input_format = model.input_format  # the GeneralizedRCNN's (detectron2: "BGR" for MSRA weights)
        self.eval()

    @torch.no_grad()
    def forward(self, batched_inputs: List[dict]) -> List[dict]:
        m = self.model
        inputs = [{"image": x["image"], "height": x["height"], "width": x["width"]} for x in batched_inputs]
        images = m.preprocess_image(inputs)
        features = m.backbone(images.tensor)
        proposals, _ = m.proposal_generator(images, features, None)
        results, _ = m.roi_heads(images, features, proposals, None)
        results = GeneralizedRCNN._postprocess(results, inputs, images.image_sizes)
        outs = []
        for i, r in enumerate(results):
            inst = self._select(r["instances"])
            out = {"instances": inst}
            if self.return_features:
                out["features"] = {k: v[i : i + 1] for k, v in features.items()}
            outs.append(out)
        return outs

    def _select(self, inst: Instances) -> Instances:
        inst = inst.to("cpu")
        keep = inst.scores >= self.score_thresh
        inst = inst[keep]
        if self.class_agnostic and len(inst):
            keep = batched_nms(
                inst.pred_boxes.tensor, inst.scores, torch.zeros_like(inst.pred_classes), self.agnostic_nms
            )
            inst = inst[keep]
        inst = inst[torch.argsort(inst.scores, descending=True)[: self.max_proposals]]
        out = Instances(inst.image_size)
        out.pred_masks = inst.pred_masks.to(torch.bool)
        out.scores = inst.scores.float()
        out.pred_classes = torch.zeros_like(inst.pred_classes) if self.class_agnostic else inst.pred_classes
        out.pred_boxes = inst.pred_boxes
        return out
