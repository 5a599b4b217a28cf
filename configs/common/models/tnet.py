"""T-Net tracker (paper §3.2) with the paper's settings; ``tnet`` is an ASSOCIATOR config node.

Features default to the proposer's (``ProposerFeatures``); ``tnet_r101_features`` is the paper's
separate tracker backbone (ResNet-101 at 473x473, res4 = stride 16, 1024 channels, as FRTM),
for which users supply ImageNet weights (``train.init_checkpoint = {"associator.features.backbone":
"R-101.pkl", ...}``).
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.backbone import build_dilated_resnet
from uvmos.modeling.tnet import (
    AdaptiveMemory,
    BackboneFeatures,
    ConvTargetModel,
    GaussNewtonCG,
    MaskPooledEmbedder,
    ProposerFeatures,
    ReIDVerifier,
    TNetTracker,
)

tnet = L(TNetTracker)(
    features=L(ProposerFeatures)(keys=None),
    target_model=L(ConvTargetModel)(hidden_channels=96, kernel_size=3, init="pca"),
    solver=L(GaussNewtonCG)(
        init_cg_iters=(5, 10, 10, 10, 10), update_cg_iters=(10,), direct=True
    ),  # FRTM schedule; W2 updates solved exactly
    verifier=L(ReIDVerifier)(thr_reid=0.6, iou_thresh=0.5),  # eq. 10
    reid=L(MaskPooledEmbedder)(in_features=("res4",), center=True),
    memory=L(AdaptiveMemory)(gamma=0.1, capacity=80, update_every=8, verified_factor=2.0),
    target_feature="res4",
    regs=(1e-4, 1e-4),
    pixel_weighting="hinge",
    hinge_fraction=0.1,
    score_thresh=0.5,
    result_mode="threshold",  # the paper: y̌_j = the resized score map > score_thresh
    proposal_score_thresh=0.0,  # proposers threshold their own scores (D-Net: center_threshold)
    new_track_iou=0.1,
    min_area=16,
    max_tracks=20,  # the DAVIS limit
    max_lost_frames=50,
)

tnet_r101_features = L(BackboneFeatures)(
    backbone=L(build_dilated_resnet)(
        depth=101, norm="FrozenBN", stride_in_1x1=True, res5_dilation=1, out_features=("res4",)
    ),
    input_size=(473, 473),
    pixel_mean=(103.530, 116.280, 123.675),
    pixel_std=(1.0, 1.0, 1.0),  # MSRA R-101.pkl statistics (BGR, std 1)
    input_format="BGR",
    out_features=("res4",),
)


def use_fpn_features(associator, keys=("p3", "p4"), target="p4", hidden_channels=32):
    """Point a T-Net config node at a proposer's FPN maps (Mask R-CNN, SOLO: p3 stride 8, p4
    stride 16): target models on ``target`` (W1: its PCA to ``hidden_channels``), parameter-free
    re-ID pooled over ``keys``."""
    associator.features = L(ProposerFeatures)(keys=tuple(keys))
    associator.target_feature = target
    associator.target_model.hidden_channels = hidden_channels
    associator.reid = L(MaskPooledEmbedder)(in_features=tuple(keys), center=True)
