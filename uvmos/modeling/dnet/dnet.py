"""D-Net, the instance discrimination network of paper §3.1.

::

    frame t ──backbone──► res2, res3, res5 ──ASPP_SAL──► X_SAL ─┐
                                           └─ASPP_INS──► X_INS ─┤ F_SGM (eq. 1-7) with X_SGM
    frame t-1 ⊕ S_{t-1} ──SGM backbone──► res5 ──ASPP──► X_SGM ─┘
    X̂_SAL ──salient head──► foreground logits      (CE)
    X̂_INS ──instance head──► center heatmap (MSE), offsets (L1)
    inference: foreground pixels grouped to centers through offsets -> scored instance proposals

Training: ``forward(batched_inputs)`` with ``uvmos.data.mapper.FramePairMapper`` dicts (``image``,
``prev_image``, ``instances``, ``prev_instances``, ``sem_seg``; instance targets from the mapper's
``target_generator`` or computed here) -> ``{"loss_sal", "loss_center", "loss_offset"}`` weighted
by ``loss_weights``. Evaluation: a proposer (docs/dev_conventions.md): list of frame dicts
(``image``, ``height``, ``width``, optional ``prev_image``, ``prev_mask``) -> list of
``{"instances", "foreground", "features"}``. ``use_sgm=False`` removes the SGM branch (Table 3,
"D-Net w/o SGM").

First frame (no t-1; choice, see docs/dnet.md): ``first_frame="two_pass"`` runs the frame with
guidance (I_0, empty mask), then again with (I_0, its own predicted foreground);
``"zero"`` stops after the first pass. Training shows empty guidance too (``GuidancePerturbation.p_empty``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from detectron2.modeling import Backbone
from detectron2.structures import ImageList
from torch import nn

from uvmos.registry import META_ARCH_REGISTRY, PROPOSER_REGISTRY

from .losses import center_loss, offset_loss, salient_loss
from .post_processing import DNetPostProcessor
from .sgm import GuidancePerturbation, make_guidance_input
from .target_generator import DNetTargetGenerator, instance_masks

__all__ = ["DNet"]

_TARGET_KEYS = ("center", "center_weights", "offset", "offset_weights")


def _loss_weights(overrides: Optional[Mapping[str, float]]) -> Dict[str, float]:
    """The default loss weights, updated by ``overrides`` (only known keys)."""
    weights = {"loss_sal": 1.0, "loss_center": 10.0, "loss_offset": 0.3}
    if overrides:
        unknown = set(overrides) - set(weights)
        if unknown:
            raise ValueError(f"unknown loss_weights keys {sorted(unknown)}; known: {sorted(weights)}")
        weights.update({k: float(v) for k, v in overrides.items()})
    return weights


@META_ARCH_REGISTRY.register()
@PROPOSER_REGISTRY.register()
class DNet(nn.Module):
    """Instance discrimination network (§3.1); a detectron2 meta-architecture and a proposer.

    Args:
        backbone: frame backbone returning ``res2``, ``res3``, ``res5`` (stride 4 / 8 / 16).
        sal_neck / ins_neck: ASPP modules giving X_SAL / X_INS (N, C, H/16, W/16).
        sal_head / ins_head: :class:`SalientHead` / :class:`InstanceHead`.
        sgm_backbone / sgm_neck: the SGM branch on I_{t-1} ⊕ S_{t-1} (4-channel stem) -> X_SGM.
        sal_fusion / ins_fusion: the two F_SGM (:class:`SEGuidanceFusion`).
        use_sgm: False drops the SGM branch (and ignores the four SGM arguments).
        target_generator: builds instance targets for batches lacking them.
        post_processor: :class:`DNetPostProcessor`.
        guidance_perturbation: noise on the ground-truth S_{t-1} in training (None = exact).
        loss_weights: {"loss_sal", "loss_center", "loss_offset"} -> weight.
        pixel_mean / pixel_std / input_format: as detectron2 models (image channels in that format).
        size_divisibility: inputs are padded to a multiple of this.
        test_size: (H', W') frames are resized to before inference by the video runners
            (``VideoSegmenter``, ``uvmos.modeling.proposers.video.propose_video``); None keeps the
            frame size. Paper §4.1: 480 x 854.
        first_frame: "two_pass" or "zero" (see module doc).
        ignore_value: ignored label in ``sem_seg``.
    """

    def __init__(
        self,
        *,
        backbone: Backbone,
        sal_neck: nn.Module,
        ins_neck: nn.Module,
        sal_head: nn.Module,
        ins_head: nn.Module,
        sgm_backbone: Optional[Backbone] = None,
        sgm_neck: Optional[nn.Module] = None,
        sal_fusion: Optional[nn.Module] = None,
        ins_fusion: Optional[nn.Module] = None,
        use_sgm: bool = True,
        target_generator: Optional[DNetTargetGenerator] = None,
        post_processor: Optional[DNetPostProcessor] = None,
        guidance_perturbation: Optional[GuidancePerturbation] = None,
        loss_weights: Optional[Mapping[str, float]] = None,
        pixel_mean: Sequence[float] = (103.530, 116.280, 123.675),
        pixel_std: Sequence[float] = (1.0, 1.0, 1.0),
        input_format: str = "BGR",
        size_divisibility: int = 16,
        test_size: Optional[Sequence[int]] = None,
        first_frame: str = "two_pass",
        ignore_value: int = 255,
    ):
        super().__init__()
        self.backbone = backbone
        self.sal_neck, self.ins_neck = sal_neck, ins_neck
        self.sal_head, self.ins_head = sal_head, ins_head
        self.use_sgm = bool(use_sgm)
        if self.use_sgm:
            self._set_sgm_branch(sgm_backbone, sgm_neck, sal_fusion, ins_fusion)
        if first_frame not in ("two_pass", "zero"):
            raise ValueError(f"first_frame must be 'two_pass' or 'zero', got {first_frame!r}")
        self.first_frame = first_frame
        self.target_generator = target_generator or DNetTargetGenerator(ignore_label=ignore_value)
        self.post_processor = post_processor or DNetPostProcessor()
        self.guidance_perturbation = guidance_perturbation
        self.loss_weights = _loss_weights(loss_weights)
        self.input_format = input_format
        self.size_divisibility = size_divisibility
        self.test_size = None if test_size is None else (int(test_size[0]), int(test_size[1]))
        self.ignore_value = ignore_value
        self.num_classes = int(getattr(sal_head, "num_classes", 2))
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std, dtype=torch.float32).view(-1, 1, 1), False)
        self._check_channels()

    def _set_sgm_branch(self, sgm_backbone, sgm_neck, sal_fusion, ins_fusion) -> None:
        parts = [("sgm_backbone", sgm_backbone), ("sgm_neck", sgm_neck)]
        parts += [("sal_fusion", sal_fusion), ("ins_fusion", ins_fusion)]
        missing = [n for n, m in parts if m is None]
        if missing:
            raise ValueError(f"use_sgm=True needs {', '.join(missing)}")
        self.sgm_backbone, self.sgm_neck = sgm_backbone, sgm_neck
        self.sal_fusion, self.ins_fusion = sal_fusion, ins_fusion

    # ------------------------------------------------------------------------------------------
    def _check_channels(self) -> None:
        shapes = self.backbone.output_shape()
        for name in ("res2", "res3", "res5"):
            if name not in shapes:
                raise ValueError(f"D-Net backbone must output {name}; it outputs {sorted(shapes)}")
        pairs = [
            ("sal_neck", self.sal_neck, shapes["res5"].channels),
            ("ins_neck", self.ins_neck, shapes["res5"].channels),
        ]
        if self.use_sgm:
            pairs.append(("sgm_neck", self.sgm_neck, self.sgm_backbone.output_shape()["res5"].channels))
            stem_in = self.sgm_backbone.stem.conv1.in_channels if hasattr(self.sgm_backbone, "stem") else 4
            if stem_in != 4:
                raise ValueError(f"sgm_backbone must take 4 input channels (I_t-1 ⊕ S_t-1), it takes {stem_in}")
        for name, neck, ch in pairs:
            got = getattr(neck, "in_channels", ch)
            if got != ch:
                raise ValueError(f"{name}.in_channels={got} but its backbone's res5 has {ch} channels")

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def _images(self, batched_inputs: List[Dict[str, Any]], key: str) -> ImageList:
        imgs = [(x[key].to(self.device).float() - self.pixel_mean) / self.pixel_std for x in batched_inputs]
        return ImageList.from_tensors(imgs, self.size_divisibility)

    def _pad(self, tensors: List[torch.Tensor], like: ImageList, value: float = 0.0) -> torch.Tensor:
        return ImageList.from_tensors(
            [t.to(self.device) for t in tensors], self.size_divisibility, pad_value=value
        ).tensor[..., : like.tensor.shape[-2], : like.tensor.shape[-1]]

    # ------------------------------------------------------------------------------------------
    def forward_tensors(self, images: torch.Tensor, guidance: Optional[torch.Tensor] = None) -> Dict[str, Any]:
        """The network on padded tensors.

        Args:
            images: (N, 3, H, W) normalised frames t.
            guidance: (N, 4, H, W) SGM input I_{t-1} ⊕ S_{t-1} (see ``make_guidance_input``);
                required iff ``use_sgm``.
        Returns: ``sal_logits`` (N, K, H, W), ``center`` (N, 1, H, W), ``offset`` (N, 2, H, W) in
        pixels (all upsampled from stride 4 to H x W), ``features`` {res2, res3, res5, x_sal,
        x_ins[, x_sgm]}, and with SGM ``alpha_sal``/``alpha_ins`` (N, C).
        """
        feats = self.backbone(images)
        x_sal, x_ins = self.sal_neck(feats), self.ins_neck(feats)
        out: Dict[str, Any] = {}
        features = {k: feats[k] for k in ("res2", "res3", "res5")}
        features.update(x_sal=x_sal, x_ins=x_ins)
        if self.use_sgm:
            if guidance is None:
                raise ValueError("D-Net with SGM needs the guidance input I_{t-1} ⊕ S_{t-1}")
            x_sgm = self.sgm_neck(self.sgm_backbone(guidance))
            out["alpha_sal"] = self.sal_fusion.attention(x_sal, x_sgm, x_ins)[0]
            out["alpha_ins"] = self.ins_fusion.attention(x_ins, x_sgm, x_sal)[0]
            x_sal, x_ins = self.sal_fusion(x_sal, x_sgm, x_ins), self.ins_fusion(x_ins, x_sgm, x_sal)
            features["x_sgm"] = x_sgm
        sal = self.sal_head(x_sal, feats)
        center, offset = self.ins_head(x_ins, feats)
        size = images.shape[-2:]
        scale = torch.tensor([size[0] / offset.shape[-2], size[1] / offset.shape[-1]], device=offset.device)
        out["sal_logits"] = F.interpolate(sal, size=size, mode="bilinear", align_corners=False)
        out["center"] = F.interpolate(center, size=size, mode="bilinear", align_corners=False)
        out["offset"] = F.interpolate(offset, size=size, mode="bilinear", align_corners=False) * scale.view(1, 2, 1, 1)
        out["features"] = features
        return out

    def forward(self, batched_inputs: List[Dict[str, Any]]):
        if not self.training:
            return self.inference(batched_inputs)
        return self.losses(batched_inputs)

    # ------------------------------------------------------------------------------------------
    def _train_guidance(self, batched_inputs: List[Dict[str, Any]], images: ImageList) -> Optional[torch.Tensor]:
        if not self.use_sgm:
            return None
        if any("prev_image" not in x for x in batched_inputs):
            raise KeyError("D-Net training with SGM needs 'prev_image' (use FramePairMapper)")
        masks = []
        for x in batched_inputs:
            if "prev_mask" in x:
                m = x["prev_mask"].float().reshape(1, *x["prev_mask"].shape[-2:])
            elif "prev_instances" in x:
                inst = instance_masks(x["prev_instances"])
                if self.guidance_perturbation is not None:
                    m = self.guidance_perturbation(inst, x["prev_image"].shape[-2:])
                else:
                    m = (
                        inst.any(dim=0, keepdim=True).float()
                        if len(inst)
                        else torch.zeros(1, *x["prev_image"].shape[-2:])
                    )
            else:
                raise KeyError("D-Net training with SGM needs 'prev_instances' or 'prev_mask'")
            masks.append(m)
        prev = self._images(batched_inputs, "prev_image")
        return make_guidance_input(prev.tensor, self._pad(masks, prev), float(self.pixel_std.mean()))

    def _sal_target(self, x: Dict[str, Any]) -> torch.Tensor:
        if "sem_seg" in x:
            sem = x["sem_seg"].long()
        else:
            inst = instance_masks(x["instances"])
            sem = inst.any(dim=0).long()
            if self.num_classes > 2 and x["instances"].has("gt_classes") and len(inst):
                sem = torch.zeros(inst.shape[-2:], dtype=torch.long)
                for m, c in zip(inst, x["instances"].gt_classes):
                    sem[m] = int(c) + 1
        if self.num_classes == 2:
            sem = torch.where(sem == self.ignore_value, sem, (sem > 0).long())
        elif int(torch.where(sem == self.ignore_value, 0, sem).max()) >= self.num_classes:
            raise ValueError(f"sem_seg label >= num_classes={self.num_classes} in {x.get('file_name', '?')}")
        return sem

    def losses(self, batched_inputs: List[Dict[str, Any]]) -> Dict[str, torch.Tensor]:
        """Training losses of a batch of frame pairs (§3.1): CE, MSE (centers), L1 (offsets)."""
        images = self._images(batched_inputs, "image")
        guidance = self._train_guidance(batched_inputs, images)
        out = self.forward_tensors(images.tensor, guidance)

        targets = {k: [] for k in _TARGET_KEYS}
        for x in batched_inputs:
            t = x if all(k in x for k in _TARGET_KEYS) else self.target_generator(x["instances"], x.get("sem_seg"))
            for k in _TARGET_KEYS:
                targets[k].append(t[k])
        padded = {k: self._pad(v, images) for k, v in targets.items()}
        sem = self._pad([self._sal_target(x) for x in batched_inputs], images, float(self.ignore_value)).long()
        losses = {
            "loss_sal": salient_loss(out["sal_logits"], sem, self.ignore_value),
            "loss_center": center_loss(out["center"], padded["center"], padded["center_weights"]),
            "loss_offset": offset_loss(out["offset"], padded["offset"], padded["offset_weights"]),
        }
        return {k: v * self.loss_weights[k] for k, v in losses.items()}

    # ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def inference(self, batched_inputs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Proposals for a batch of frame dicts (docs/dev_conventions.md, "Proposer").

        Video dicts instead of frame dicts (the batches of ``build_video_test_loader``) are run frame
        by frame with :func:`uvmos.modeling.proposers.video.propose_videos`.
        """
        if batched_inputs and "image" not in batched_inputs[0]:
            from ..proposers.video import propose_videos  # video items from the test loader

            return propose_videos(self, batched_inputs)
        images = self._images(batched_inputs, "image")
        guidance, first = None, []
        if self.use_sgm:
            prev_imgs, masks = [], []
            for i, x in enumerate(batched_inputs):
                has_prev = "prev_image" in x and "prev_mask" in x
                prev_imgs.append(x["prev_image"] if has_prev else x["image"])
                masks.append(
                    x["prev_mask"].float().reshape(1, *x["prev_mask"].shape[-2:])
                    if has_prev
                    else torch.zeros(1, *x["image"].shape[-2:])
                )
                if not has_prev:
                    first.append(i)
            prev = ImageList.from_tensors(
                [(p.to(self.device).float() - self.pixel_mean) / self.pixel_std for p in prev_imgs],
                self.size_divisibility,
            )
            guidance = make_guidance_input(prev.tensor, self._pad(masks, prev), float(self.pixel_std.mean()))
        out = self.forward_tensors(images.tensor, guidance)
        if first and self.first_frame == "two_pass":
            fg = (out["sal_logits"][first].argmax(dim=1, keepdim=True) > 0).float()
            guidance = guidance.clone()
            guidance[first, 3:] = make_guidance_input(guidance[first, :3], fg, float(self.pixel_std.mean()))[:, 3:]
            out = self.forward_tensors(images.tensor, guidance)

        results = []
        for i, (x, (h, w)) in enumerate(zip(batched_inputs, images.image_sizes)):
            r = self.post_processor(
                out["sal_logits"][i, :, :h, :w],
                out["center"][i, :, :h, :w],
                out["offset"][i, :, :h, :w],
                (x.get("height", h), x.get("width", w)),
            )
            features = {k: v[i] for k, v in out["features"].items()}
            results.append({"instances": r["instances"], "foreground": r["foreground"], "features": features})
        return results
