"""Where T-Net's per-frame features come from (configurable; computed once per frame, shared by
all targets and by the re-ID embedder).

* :class:`BackboneFeatures` -- any backbone (a detectron2 ``Backbone`` or module returning a dict)
  run on the frame resized to ``input_size``; the paper uses ResNet-101 at 473x473 (§4.1).
* :class:`ProposerFeatures` -- reuse the proposer's ``features`` output (e.g. D-Net's backbone
  maps), costing nothing extra; used by the tiny CPU config.

Call: ``source(frame, proposals) -> {name: (1, C, h, w)}`` where ``frame`` is the proposer's input
dict (``image`` uint8 (3, H', W')) and ``proposals`` its output dict. Every returned map covers the
whole frame (padding cropped), so masks map onto it by plain resizing.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .mask_ops import crop_padding

# parts of ``concat`` computed from the frame itself rather than taken from the proposer's features
_FRAME_MAPS = ("image", "image_std", "image_cov")

__all__ = ["BackboneFeatures", "ProposerFeatures"]


def _colour_moments(image: torch.Tensor, grid, names=_FRAME_MAPS) -> Dict[str, torch.Tensor]:
    """The frame's colour statistics within each cell of ``grid``, from one pass over the frame:
    the mean colour (``"image"``), each channel's standard deviation (``"image_std"``: texture) and
    the correlation of each pair of channels (``"image_cov"``: (B,G), (G,R), (B,R); how the colours
    vary together, e.g. a texture of light and dark vs one of two hues). Only ``names`` after
    ``"image"`` are computed."""
    img = image[None].float()
    pool = lambda x: F.interpolate(x, size=grid, mode="area")  # noqa: E731
    mu = pool(img)
    out = {"image": mu}
    if "image_std" in names or "image_cov" in names:
        out["image_std"] = (pool(img * img) - mu * mu).clamp_min(0).sqrt()
    if "image_cov" in names:
        pairs = ((0, 1), (1, 2), (0, 2))
        cross = pool(torch.cat([img[:, a : a + 1] * img[:, b : b + 1] for a, b in pairs], 1))
        std = out["image_std"]
        cov = cross - torch.cat([mu[:, a : a + 1] * mu[:, b : b + 1] for a, b in pairs], 1)
        # correlation; a flat cell (std < 1 grey level) gives ~0, not noise divided by ~0
        out["image_cov"] = cov / torch.cat([std[:, a : a + 1] * std[:, b : b + 1] for a, b in pairs], 1).clamp_min(1.0)
    return out


class ProposerFeatures:
    """Take ``proposals["features"]`` (dict name -> (1, C, h, w) or (C, h, w)).

    Args:
        keys: names to keep (None: all); a missing name raises a KeyError listing what exists.
        size: optional (h, w) grid every map is resampled to (area averaging when shrinking,
            bilinear when enlarging), so T-Net works on a fixed grid whatever the frame size --
            as the paper's fixed 473x473 T-Net input gives 30x30 maps at stride 16. None keeps
            the proposer's resolution.
        max_cells: optional cap on h*w: a larger map is area-averaged to the largest grid of the
            same aspect ratio with at most this many cells. T-Net's cost (eq. 9 fits, memory)
            grows with the cells, so this keeps it independent of the frame size, like the
            paper's fixed 473x473 input (30x30 = 900 cells at stride 16); smaller maps are kept.
        concat: optional ``{new_name: (name, ...)}``: also return the listed maps concatenated
            along channels, each bilinearly resampled to the first one's grid and scaled to unit
            root-mean-square, so every map weighs the same in W1's PCA (a richer target feature
            from one network: e.g. D-Net's res3 with its decoders' x_sal and x_ins). The name
            ``"image"`` is the frame itself (its colours, area-averaged to the grid and centred
            on the frame's mean colour), a cue the narrow networks' maps keep little of;
            ``"image_std"`` the colours' standard deviation within each cell (texture), centred
            likewise; ``"image_cov"`` the correlation of each pair of colour channels within each
            cell (:func:`_colour_moments`), centred likewise.
    """

    def __init__(
        self,
        keys: Optional[Sequence[str]] = None,
        size: Optional[Sequence[int]] = None,
        max_cells: Optional[int] = None,
        concat: Optional[Dict[str, Sequence[str]]] = None,
    ):
        if size is not None and max_cells is not None:
            raise ValueError("ProposerFeatures: give either size or max_cells, not both")
        self.keys = None if keys is None else tuple(keys)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.max_cells = None if max_cells is None else int(max_cells)
        self.concat = {k: tuple(v) for k, v in (concat or {}).items()}

    def __call__(self, frame: dict, proposals: dict) -> Dict[str, torch.Tensor]:
        feats = proposals.get("features")
        if not feats:
            raise KeyError(
                "ProposerFeatures: the proposer returned no 'features'; use BackboneFeatures for this proposer"
            )
        keys = self.keys if self.keys is not None else tuple(feats)
        parts = {n for names in self.concat.values() for n in names} - set(_FRAME_MAPS)
        keys = tuple(keys) + tuple(sorted(parts - set(keys)))
        missing = [k for k in keys if k not in feats]
        if missing:
            raise KeyError(f"ProposerFeatures: proposer features lack {missing}; available: {sorted(feats)}")
        size = tuple(frame["image"].shape[-2:])
        out = {}
        for k in keys:
            f = feats[k].detach()
            f = f[None] if f.dim() == 3 else f[:1]
            f = crop_padding(f.float(), size)
            h, w = f.shape[-2:]
            if self.max_cells is not None and h * w > self.max_cells:
                r = (self.max_cells / (h * w)) ** 0.5
                f = F.interpolate(f, size=(max(1, int(h * r)), max(1, int(w * r))), mode="area")
            elif self.size is not None and tuple(f.shape[-2:]) != self.size:
                shrink = f.shape[-2] >= self.size[0] and f.shape[-1] >= self.size[1]
                f = (
                    F.interpolate(f, size=self.size, mode="area")
                    if shrink
                    else F.interpolate(f, size=self.size, mode="bilinear", align_corners=False)
                )
            out[k] = f
        colour = {}  # grid -> the frame's colour moments, computed once per frame and grid
        for name, names in self.concat.items():
            grid = out[names[0]].shape[-2:]
            maps = []
            for n in names:
                if n in _FRAME_MAPS:
                    if tuple(grid) not in colour:
                        colour[tuple(grid)] = _colour_moments(frame["image"], grid, names)
                    m = colour[tuple(grid)][n]
                    m = m - m.mean(dim=(2, 3), keepdim=True)
                else:
                    m = (
                        out[n]
                        if out[n].shape[-2:] == grid
                        else F.interpolate(out[n], size=grid, mode="bilinear", align_corners=False)
                    )
                maps.append(m * m.pow(2).mean().clamp_min(1e-12).rsqrt())
            out[name] = torch.cat(maps, dim=1)
        if self.keys is not None:
            out = {k: v for k, v in out.items() if k in self.keys or k in self.concat}
        return out


class BackboneFeatures(nn.Module):
    """Run ``backbone`` on the frame resized to ``input_size`` (H, W), once per frame.

    Args:
        backbone: module mapping a normalised (1, 3, H, W) image to {name: (1, C, h, w)}
            (e.g. ``L(ResNet)(..., out_features=["res4"])``).
        input_size: (H, W) fed to the backbone (paper: 473x473; the aspect ratio is not kept,
            and the maps are resized back to the frame by the tracker).
        pixel_mean, pixel_std: normalisation in ``input_format`` channel order, 0-255 scale.
        input_format: "BGR" or "RGB": the order the backbone expects; frames arrive as BGR.
        out_features: names to return (None: all the backbone returns).

    Its ImageNet weights (paper: R-101) come through ``train.init_checkpoint``, e.g.
    ``{"": "model_final.pth", "associator.features.backbone": "R-101.pkl"}``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        input_size: Tuple[int, int] = (473, 473),
        pixel_mean: Sequence[float] = (103.530, 116.280, 123.675),
        pixel_std: Sequence[float] = (57.375, 57.120, 58.395),
        input_format: str = "BGR",
        out_features: Optional[Sequence[str]] = None,
    ):
        super().__init__()
        if input_format not in ("BGR", "RGB"):
            raise ValueError(f"BackboneFeatures: input_format must be BGR or RGB, got {input_format!r}")
        self.backbone = backbone
        self.input_size = tuple(input_size)
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean, dtype=torch.float32).view(3, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std, dtype=torch.float32).view(3, 1, 1), False)
        self.input_format = input_format
        self.out_features = None if out_features is None else tuple(out_features)
        self.eval()

    @torch.no_grad()
    def forward(self, frame: dict, proposals: Optional[dict] = None) -> Dict[str, torch.Tensor]:
        img = frame["image"].to(self.pixel_mean.device).float()  # (3, H', W') BGR
        if self.input_format == "RGB":
            img = img.flip(0)
        if tuple(img.shape[-2:]) != self.input_size:
            img = F.interpolate(img[None], size=self.input_size, mode="bilinear", align_corners=False)[0]
        x = ((img - self.pixel_mean) / self.pixel_std)[None]
        feats = self.backbone(x)
        keys = self.out_features if self.out_features is not None else tuple(feats)
        return {k: crop_padding(feats[k], self.input_size) for k in keys}
