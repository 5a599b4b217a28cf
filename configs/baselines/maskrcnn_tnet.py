"""Mask R-CNN proposals tracked by T-Net on the Mask R-CNN's own FPN maps (p3: stride 8, p4: 16).

    python tools/train_net.py --config-file configs/baselines/maskrcnn_tnet.py --eval-only \
        'train.init_checkpoint={proposer.model:/path/model_final.pkl}'

Weights as in configs/baselines/maskrcnn_greedy.py.
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.tnet import MaskPooledEmbedder, ProposerFeatures

from ..common.models.video import model
from .maskrcnn_greedy import dataloader, train
from .maskrcnn_greedy import model as _greedy

model.proposer = _greedy.proposer
model.associator.features = L(ProposerFeatures)(keys=("p3", "p4"))
model.associator.target_feature = "p4"
model.associator.reid = L(MaskPooledEmbedder)(in_features=("p3", "p4"), center=True)
train.output_dir = "output/baseline_maskrcnn_tnet"
