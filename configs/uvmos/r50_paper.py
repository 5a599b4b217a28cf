"""uvmos as in the paper (§4.1): D-Net R-50 proposals at 480x854, T-Net target models on a
separate ResNet-101 at 473x473 (res4, as FRTM), GN-CG, eq. 10 verification, adaptive memory.

Weights (``train.init_checkpoint``, one entry per part): ``proposer`` from a trained D-Net
checkpoint; the tracker backbone from ImageNet R-101, e.g.
``'train.init_checkpoint={proposer:output/dnet_r50_paper/model_final.pth,associator.features.backbone:/path/R-101.pkl}'``.
Evaluated on DAVIS-2017
val (unsupervised): ``python tools/train_net.py --config-file configs/uvmos/r50_paper.py --eval-only``.
"""

from ..common.models.dnet import model as dnet_model
from ..common.models.tnet import tnet_r101_features
from ..common.models.video import model
from ._video_eval import dataloader, train

model.proposer = dnet_model
model.associator.features = tnet_r101_features
model.associator.target_feature = "res4"
model.associator.reid.in_features = ("res4",)

dataloader.test.dataset_name = "davis2017_unsup_val"
train.device = "cuda"
train.output_dir = "output/uvmos_r50_paper"
train.init_checkpoint = {
    "proposer": "output/dnet_r50_paper/model_final.pth",
    "associator.features.backbone": "detectron2://ImageNetPretrained/MSRA/R-101.pkl",
}
