"""The narrow R-18 (16-channel stem, undilated, res2-res5 out) under the FPN of the tiny CPU
baselines, Mask R-CNN and SOLOv2, so Table 3 compares their heads on one backbone."""

from detectron2.config import LazyCall as L

from uvmos.modeling.backbone import build_dilated_resnet

WIDTH = 16

bottom_up = L(build_dilated_resnet)(
    depth=18,
    norm="BN",
    stem_out_channels=WIDTH,
    res2_out_channels=WIDTH,
    res5_dilation=1,
    out_features=("res2", "res3", "res4", "res5"),
)
