"""Dilated ResNet backbones for D-Net (paper §3.1) and ImageNet weight loading.

§3.1: "we take the convolutional blocks of ResNet-50 as the backbone, and modify the last residual
block with an atrous convolution with rate 2" -> a detectron2 :class:`ResNet` whose ``res5`` has
stride 1 and dilation 2, so the output stride is 16; D-Net reads ``res2`` (stride 4), ``res3``
(stride 8) and ``res5`` (stride 16).

Registry convention. detectron2's yacs builders have the signature ``fn(cfg, input_shape)`` and
are called by ``detectron2.modeling.build_backbone(cfg)``. uvmos components take plain keyword
arguments instead (LazyConfig style), so :func:`build_dilated_resnet` is built by
``uvmos.registry.build(BACKBONE_REGISTRY, "build_dilated_resnet", depth=50, ...)`` or
``L(build_dilated_resnet)(depth=50, ...)``. For yacs users it also accepts ``(cfg, input_shape)``
and then reads ``cfg.MODEL.RESNETS.*`` / ``cfg.MODEL.BACKBONE.FREEZE_AT`` (so
``MODEL.BACKBONE.NAME = "build_dilated_resnet"`` works with ``build_backbone``).

R-18/34. detectron2's :class:`BasicBlock` has no ``dilation`` argument and its builder asserts
``RES5_DILATION == 1`` for R-18/34. :class:`DilatedBasicBlock` is a BasicBlock with dilated 3x3
convs (same sub-module names ``conv1``, ``conv2``, ``shortcut``, so the same weight files load);
with it R-18/34 also reach output stride 16.

ImageNet weights (:func:`load_imagenet_weights`), three file layouts are read:

* Caffe2/MSRA ``.pkl`` (detectron2 model zoo ``ImageNetPretrained/MSRA/R-50.pkl``): a pickled
  dict of Caffe2 blob names (``conv1_w``, ``res_conv1_bn_s``, ``res2_0_branch2a_w`` ...) to numpy
  arrays, bare, under ``"blobs"``, or as ``{"model": ..., "__author__": "Caffe2"}``; renamed with
  detectron2's :func:`convert_basic_c2_names`. These models put the stride in the first 1x1 conv
  (``stride_in_1x1=True``), expect BGR input with ``pixel_std = [1, 1, 1]``.
* detectron2 model-zoo pickles whose ``"model"`` already uses detectron2 names (e.g. made by
  detectron2's ``convert-torchvision-to-d2.py``): loaded as is.
* torchvision ``resnet{18,34,50,101}`` ``.pth`` state dicts: ``conv1 -> stem.conv1``,
  ``bn1 -> stem.conv1.norm``, ``layerN.M.convK / bnK -> res{N+1}.M.convK(.norm)``,
  ``downsample.0 / .1 -> shortcut(.norm)``; ``fc`` is dropped. Torchvision puts the stride in the
  3x3 conv (``stride_in_1x1=False``) and expects RGB input normalised by the ImageNet std.

The SGM branch's stem takes 4 channels (frame t-1 RGB + mask S_{t-1}). Its RGB filters are copied
from the file; the mask channel's filter is initialised by ``extra_channel_init``:

* ``"mean"`` (default): the mean of the three RGB filters. D-Net feeds the mask as a fourth
  image-like channel (0/255 normalised like the image, see ``uvmos.modeling.dnet.sgm``), so at
  initialisation the pretrained stem responds to the mask's silhouette as it would to a grey
  image of it: the branch is mask-sensitive from the first iteration, which is what it exists for.
* ``"zero"``: the branch starts exactly as the pretrained RGB network and learns to use the mask.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import fvcore.nn.weight_init as weight_init
import numpy as np
import torch
import torch.nn.functional as F
from detectron2.checkpoint.c2_model_loading import convert_basic_c2_names
from detectron2.config import CfgNode
from detectron2.layers import CNNBlockBase, Conv2d, ShapeSpec, get_norm
from detectron2.modeling.backbone.resnet import BasicStem, BottleneckBlock, ResNet
from detectron2.utils.file_io import PathManager

from uvmos.registry import BACKBONE_REGISTRY

__all__ = [
    "DilatedBasicBlock",
    "build_dilated_resnet",
    "load_imagenet_weights",
    "load_imagenet_state",
    "read_imagenet_state_dict",
    "imagenet_state_from_dict",
]

logger = logging.getLogger(__name__)

_BLOCKS_PER_STAGE = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


class DilatedBasicBlock(CNNBlockBase):
    """detectron2's ResNet-18/34 ``BasicBlock`` (two 3x3 convs) with a dilation for both 3x3 convs.

    Sub-module names equal :class:`detectron2.modeling.backbone.resnet.BasicBlock`'s
    (``conv1``, ``conv2``, ``shortcut``), so R-18/34 weight files load unchanged.
    (N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, *, stride: int = 1, norm="BN", dilation: int = 1):
        super().__init__(in_channels, out_channels, stride)
        if in_channels != out_channels or stride != 1:
            self.shortcut = Conv2d(
                in_channels, out_channels, kernel_size=1, stride=stride, bias=False, norm=get_norm(norm, out_channels)
            )
        else:
            self.shortcut = None
        self.conv1 = Conv2d(
            in_channels,
            out_channels,
            kernel_size=3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=False,
            norm=get_norm(norm, out_channels),
        )
        self.conv2 = Conv2d(
            out_channels,
            out_channels,
            kernel_size=3,
            padding=dilation,
            dilation=dilation,
            bias=False,
            norm=get_norm(norm, out_channels),
        )
        for layer in [self.conv1, self.conv2, self.shortcut]:
            if layer is not None:
                weight_init.c2_msra_fill(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu_(self.conv1(x))
        out = self.conv2(out)
        out = out + (x if self.shortcut is None else self.shortcut(x))
        return F.relu_(out)


def _kwargs_from_cfg(cfg: CfgNode, input_shape: Optional[ShapeSpec]) -> Dict[str, Any]:
    """detectron2 yacs ``(cfg, input_shape)`` -> this module's keyword arguments."""
    r = cfg.MODEL.RESNETS
    return dict(
        depth=r.DEPTH,
        in_channels=input_shape.channels if input_shape is not None else len(cfg.MODEL.PIXEL_MEAN),
        norm=r.NORM,
        stem_out_channels=r.STEM_OUT_CHANNELS,
        res2_out_channels=r.RES2_OUT_CHANNELS,
        width_per_group=r.WIDTH_PER_GROUP,
        num_groups=r.NUM_GROUPS,
        stride_in_1x1=r.STRIDE_IN_1X1,
        res5_dilation=r.RES5_DILATION,
        out_features=tuple(r.OUT_FEATURES),
        freeze_at=cfg.MODEL.BACKBONE.FREEZE_AT,
    )


@BACKBONE_REGISTRY.register()
def build_dilated_resnet(
    depth: int = 50,
    in_channels: int = 3,
    norm: str = "FrozenBN",
    stem_out_channels: int = 64,
    res2_out_channels: Optional[int] = None,
    width_per_group: int = 64,
    num_groups: int = 1,
    stride_in_1x1: bool = True,
    res5_dilation: int = 2,
    out_features: Sequence[str] = ("res2", "res3", "res5"),
    freeze_at: int = 0,
) -> ResNet:
    """A detectron2 :class:`ResNet` with a dilated ``res5`` (paper §3.1: rate 2, output stride 16).

    Args:
        depth: 18, 34 (``DilatedBasicBlock``), 50, 101 or 152 (``BottleneckBlock``).
        in_channels: 3 for frames, 4 for the SGM branch (frame t-1 ⊕ S_{t-1}).
        norm: "FrozenBN", "BN", "SyncBN" or "GN" (GN needs widths divisible by 32).
        stem_out_channels / res2_out_channels / width_per_group: widths. Defaults are the
            standard ResNet (64 / 64 for R-18/34, 256 for R-50+ / 64); smaller values give the narrow
            models of the CPU configs. Each later stage doubles the widths.
        stride_in_1x1: bottleneck stride in the 1x1 conv (MSRA/Caffe2 weights) or in the 3x3 conv
            (torchvision weights). Ignored for R-18/34.
        res5_dilation: 2 (paper, output stride 16) or 1 (output stride 32).
        out_features: returned maps, by default ``res2`` (stride 4), ``res3`` (8), ``res5`` (16).
        freeze_at: as detectron2 (1 = stem, 2 = stem + res2, ...).

    Weights are not loaded here: ``train.init_checkpoint`` names an ImageNet file, which
    :class:`uvmos.engine.checkpoint.AtomicCheckpointer` loads into every ResNet it fits (a 4-channel
    SGM stem gets the RGB filters plus their mean, :func:`load_imagenet_weights`).

    ``build_dilated_resnet(cfg, input_shape)`` (detectron2's yacs signature) is also accepted.
    Returns: ResNet; ``forward(x: (N, in_channels, H, W)) -> {name: (N, C, H/s, W/s)}``.
    """
    if isinstance(depth, CfgNode):
        kw = _kwargs_from_cfg(depth, in_channels if isinstance(in_channels, ShapeSpec) else None)
        return build_dilated_resnet(**kw)
    if depth not in _BLOCKS_PER_STAGE:
        raise ValueError(f"ResNet depth must be one of {sorted(_BLOCKS_PER_STAGE)}, got {depth}")
    if res5_dilation not in (1, 2):
        raise ValueError(f"res5_dilation must be 1 or 2, got {res5_dilation}")
    basic = depth < 50
    if res2_out_channels is None:
        res2_out_channels = 64 if basic else 256
    stem = BasicStem(in_channels=in_channels, out_channels=stem_out_channels, norm=norm)
    bottleneck = num_groups * width_per_group
    stages = _make_stages(
        depth, stem_out_channels, res2_out_channels, bottleneck, num_groups, stride_in_1x1, res5_dilation, norm
    )
    # Weights loaded later land in the FrozenBN buffers that freeze() creates (as in detectron2).
    return ResNet(stem, stages, out_features=list(out_features), freeze_at=freeze_at)


def _make_stages(
    depth: int,
    in_ch: int,
    out_ch: int,
    bottleneck: int,
    num_groups: int,
    stride_in_1x1: bool,
    res5_dilation: int,
    norm: str,
) -> List[List[torch.nn.Module]]:
    """The blocks of res2..res5 (widths double per stage; res5 dilated instead of strided when
    ``res5_dilation`` is 2)."""
    basic = depth < 50
    stages = []
    for idx, n_blocks in enumerate(_BLOCKS_PER_STAGE[depth]):
        stage_idx = idx + 2
        dilation = res5_dilation if stage_idx == 5 else 1
        first_stride = 1 if idx == 0 or (stage_idx == 5 and dilation == 2) else 2
        kw: Dict[str, Any] = dict(
            num_blocks=n_blocks,
            stride_per_block=[first_stride] + [1] * (n_blocks - 1),
            in_channels=in_ch,
            out_channels=out_ch,
            norm=norm,
            dilation=dilation,
        )
        if basic:
            kw["block_class"] = DilatedBasicBlock
        else:
            kw.update(
                block_class=BottleneckBlock,
                bottleneck_channels=bottleneck,
                stride_in_1x1=stride_in_1x1,
                num_groups=num_groups,
            )
        stages.append(ResNet.make_stage(**kw))
        in_ch, out_ch, bottleneck = out_ch, out_ch * 2, bottleneck * 2
    return stages


# ----------------------------------------------------------------------------------------------
# ImageNet weight loading
# ----------------------------------------------------------------------------------------------
def _to_tensor(v: Any) -> torch.Tensor:
    return v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))


def _torchvision_to_d2(key: str) -> Optional[str]:
    """torchvision ResNet key -> detectron2 ResNet key (None for the classifier / counters)."""
    if key.startswith("fc.") or key.endswith("num_batches_tracked"):
        return None
    if key.startswith("conv1."):
        return "stem.conv1." + key[len("conv1.") :]
    if key.startswith("bn1."):
        return "stem.conv1.norm." + key[len("bn1.") :]
    m = re.match(r"^layer(\d)\.(\d+)\.(.*)$", key)
    if m is None:
        return key
    stage, block, rest = int(m.group(1)) + 1, m.group(2), m.group(3)
    rest = re.sub(r"^conv(\d)\.", r"conv\1.", rest)
    rest = re.sub(r"^bn(\d)\.", r"conv\1.norm.", rest)
    rest = re.sub(r"^downsample\.0\.", "shortcut.", rest)
    rest = re.sub(r"^downsample\.1\.", "shortcut.norm.", rest)
    return f"res{stage}.{block}.{rest}"


def _detect_layout(keys: Sequence[str]) -> str:
    if any(k.startswith("layer1.") for k in keys) or "bn1.weight" in keys:
        return "torchvision"
    if any(k.startswith("stem.") or re.match(r"^res\d\.\d+\.", k) for k in keys):
        return "detectron2"
    if "conv1_w" in keys or any("_branch2a_" in k or "_branch2_" in k for k in keys):
        return "caffe2"
    raise ValueError(f"unrecognised ResNet weight layout (first keys: {sorted(keys)[:5]})")


def read_imagenet_state_dict(path: str) -> Tuple[Dict[str, torch.Tensor], str]:
    """Read a ResNet ImageNet weight file into detectron2 ResNet names.

    Returns ``(state_dict, layout)`` with ``layout`` in {"caffe2", "detectron2", "torchvision"}.
    Raises ``ValueError`` naming the file when it holds no recognisable ResNet weights.
    """
    local = PathManager.get_local_path(path)
    if not os.path.isfile(local):
        raise FileNotFoundError(f"{path}: ImageNet weight file not found")
    try:
        if local.endswith(".pkl"):
            with open(local, "rb") as f:
                data = pickle.load(f, encoding="latin1")
        else:
            data = torch.load(local, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f"{path}: cannot read weight file ({type(e).__name__}: {e})") from e
    return imagenet_state_from_dict(data, path)


def imagenet_state_from_dict(data: Any, source: str) -> Tuple[Dict[str, torch.Tensor], str]:
    """:func:`read_imagenet_state_dict` on an already loaded dict (``source`` names it in errors)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a dict of weights, got {type(data).__name__}")
    for wrapper in ("model", "blobs", "state_dict"):
        if wrapper in data and isinstance(data[wrapper], Mapping):
            data = data[wrapper]
            break
    sd = {k[len("module.") :] if k.startswith("module.") else k: v for k, v in data.items()}
    sd = {k: v for k, v in sd.items() if not k.endswith("_momentum")}
    try:
        layout = _detect_layout(list(sd))
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
    if layout == "torchvision":
        out = {}
        for k, v in sd.items():
            nk = _torchvision_to_d2(k)
            if nk is not None:
                out[nk] = _to_tensor(v)
    elif layout == "caffe2":
        names = sorted(sd)
        out = {nk: _to_tensor(sd[k]) for k, nk in zip(names, convert_basic_c2_names(names))}
    else:
        out = {k: _to_tensor(v) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    return out, layout


def _expand_stem(w: torch.Tensor, in_channels: int, how: str) -> torch.Tensor:
    """(O, 3, k, k) RGB stem filter -> (O, in_channels, k, k); extra channels by ``how``."""
    extra = in_channels - w.shape[1]
    if how == "mean":
        fill = w.mean(dim=1, keepdim=True).expand(-1, extra, -1, -1)
    elif how == "zero":
        fill = w.new_zeros(w.shape[0], extra, *w.shape[2:])
    else:
        raise ValueError(f"extra_channel_init must be 'mean' or 'zero', got {how!r}")
    return torch.cat([w, fill], dim=1)


def load_imagenet_weights(resnet: ResNet, path: str, extra_channel_init: str = "mean") -> Dict[str, Any]:
    """Load an ImageNet ResNet file (any layout above) into a detectron2 ``ResNet`` in place.

    A stem with more than 3 input channels gets the file's RGB filters plus ``extra_channel_init``
    for the others. Shapes must otherwise match (a narrow model cannot take R-50 weights).
    Returns ``{"layout", "loaded": [keys], "missing": [keys], "unused": [keys]}``.
    """
    sd, layout = read_imagenet_state_dict(path)
    return load_imagenet_state(resnet, sd, layout, path, extra_channel_init)


def load_imagenet_state(
    resnet: ResNet, sd: Dict[str, torch.Tensor], layout: str, path: str, extra_channel_init: str = "mean"
) -> Dict[str, Any]:
    """:func:`load_imagenet_weights` from a state dict already read (``path`` names it in messages);
    ``sd`` is not modified, so one read serves several ResNets."""
    own = resnet.state_dict()
    stem_key = "stem.conv1.weight"
    if stem_key in sd and stem_key in own and sd[stem_key].shape[1] < own[stem_key].shape[1]:
        sd = {**sd, stem_key: _expand_stem(sd[stem_key], own[stem_key].shape[1], extra_channel_init)}
    loadable, mismatched = {}, []
    for k, v in sd.items():
        if k not in own:
            continue
        if tuple(v.shape) != tuple(own[k].shape):
            mismatched.append(f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}")
            continue
        loadable[k] = v.to(own[k].dtype)
    if mismatched:
        raise ValueError(f"{path}: {len(mismatched)} weights do not fit this ResNet, e.g. " + "; ".join(mismatched[:3]))
    if not loadable:
        raise ValueError(f"{path}: no weight matches this ResNet ({layout} layout)")
    resnet.load_state_dict(loadable, strict=False)
    # Affine-only (Caffe2) norms have no statistics: BN/FrozenBN keep their 0/1 defaults, which is exact.
    missing = [
        k for k in own if k not in loadable and not k.endswith(("num_batches_tracked", "running_mean", "running_var"))
    ]
    unused = sorted(k for k in sd if k not in own)
    if layout == "caffe2" or layout == "torchvision":
        _check_stride_convention(resnet, layout, path)
    if missing:
        logger.warning(f"{path}: {len(missing)} backbone parameters not in the file, e.g. {missing[:4]}")
    logger.info(f"Loaded {len(loadable)} tensors ({layout} layout) from {path}")
    return {"layout": layout, "loaded": sorted(loadable), "missing": missing, "unused": unused}


def _check_stride_convention(resnet: ResNet, layout: str, path: str) -> None:
    block = resnet.res3[0] if hasattr(resnet, "res3") else None
    if not isinstance(block, BottleneckBlock):
        return
    in_1x1 = block.conv1.stride[0] > 1
    if in_1x1 != (layout == "caffe2"):
        logger.warning(
            f"{path}: {layout} weights were trained with stride_in_1x1={layout == 'caffe2'}, "
            f"but this ResNet has stride_in_1x1={in_1x1}"
        )
